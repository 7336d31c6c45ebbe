"""The OpenAI Realtime engine against Patter's conformance kit (patter_core.testing)."""

from __future__ import annotations

import pytest
from engine_harness import RealtimeHarness

from patter_core.testing import EngineConformance, EngineUnderTest

pytest_plugins = ["patter_core.testing"]


@pytest.fixture
def engine_under_test() -> EngineUnderTest:
    return EngineUnderTest(
        "openai_realtime", distribution="patter-openai-realtime", harness=RealtimeHarness()
    )


class TestOpenAIRealtimeEngine(EngineConformance):
    """Lifecycle, normalised events, truncate, tools and text input against the fake server."""
