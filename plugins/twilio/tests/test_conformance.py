"""The Twilio carrier against Patter's conformance kit (patter_core.testing), every group."""

from __future__ import annotations

import pytest
from conformance_harness import TwilioHarness

from patter_core.testing import CarrierConformance, CarrierUnderTest

pytest_plugins = ["patter_core.testing"]


@pytest.fixture
def carrier_under_test() -> CarrierUnderTest:
    return CarrierUnderTest("twilio", distribution="patter-twilio", harness=TwilioHarness())


class TestTwilioCarrier(CarrierConformance):
    """Required groups, DTMF, outbound dial with machine detection, hang-up and transfer."""
