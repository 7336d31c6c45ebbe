"""The template carrier against Patter's conformance kit: every group it declares passes."""

from __future__ import annotations

import pytest

from patter_core.testing import CarrierConformance, CarrierUnderTest

pytest_plugins = ["patter_core.testing"]


@pytest.fixture
def carrier_under_test() -> CarrierUnderTest:
    # The harness comes from CarrierSpec.test_kit ("patter_template.testing:KIT").
    return CarrierUnderTest("template", distribution="patter-template")


class TestTemplateCarrier(CarrierConformance):
    """Required groups, DTMF, and the refusal of every capability the template leaves out."""
