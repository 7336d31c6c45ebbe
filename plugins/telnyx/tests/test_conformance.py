"""The Telnyx carrier against Patter's conformance kit (patter_core.testing), every group."""

from __future__ import annotations

import pytest

from patter_core.testing import CarrierConformance, CarrierUnderTest

pytest_plugins = ["patter_core.testing"]


@pytest.fixture
def carrier_under_test() -> CarrierUnderTest:
    # The harness comes from CarrierSpec.test_kit ("patter_telnyx.testing.kit:KIT").
    return CarrierUnderTest("telnyx", distribution="patter-telnyx")


class TestTelnyxCarrier(CarrierConformance):
    """Required groups, DTMF, outbound dial, hang-up and transfer; recording is refused."""
