"""The conformance kit for carrier and engine plugins, as a pytest plugin.

Enable it in a test module of your plugin and subclass the groups::

    pytest_plugins = ["patter_core.testing"]

    from patter_core.testing import CarrierConformance, CarrierUnderTest

    @pytest.fixture
    def carrier_under_test():
        return CarrierUnderTest("acme", distribution="patter-acme")

    class TestAcme(CarrierConformance):
        known_failures = {"test_transfer_moves_a_live_call": "the fake API cannot transfer yet"}

Optional groups skip, with the reason shown, when the spec does not declare their
capability; undeclared capabilities must be refused with `CapabilityError`. Runtime code
never imports this package. It fails with explicit messages, so pytest need not rewrite
its asserts: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

from typing import Any

import pytest

from .base import ConformanceGroup, known_failure, stale_known_failures
from .carrier_media import MarkAndClear, MediaCodec, StreamStop
from .carrier_optional import (
    CallHangUp,
    CallRecording,
    CallTransfer,
    DtmfInput,
    OutboundDial,
    UndeclaredCapabilities,
)
from .carrier_required import (
    CarrierDiscovery,
    CarrierSpecValidity,
    SignatureRejection,
    WebhookAnswer,
)
from .engine_groups import (
    EngineDiscovery,
    EventNormalisation,
    SessionLifecycle,
    TextInput,
    ToolRoundTrip,
    Truncation,
    UndeclaredEngineCapabilities,
)
from .fixtures import (
    EngineUnderTest,
    carrier,
    carrier_harness,
    carrier_live,
    carrier_registered,
    carrier_registry,
    carrier_spec,
    carrier_under_test,
    carrier_wire,
    engine_harness,
    engine_registered,
    engine_registry,
    engine_spec,
    engine_under_test,
)
from .kit_engine import KitEngine
from .live import PUBLIC_URL, CarrierRig, CarrierUnderTest


class CarrierConformance(  # last group first: pytest collects bases in reverse MRO order
    UndeclaredCapabilities,
    CallRecording,
    CallTransfer,
    CallHangUp,
    OutboundDial,
    DtmfInput,
    StreamStop,
    MarkAndClear,
    MediaCodec,
    SignatureRejection,
    WebhookAnswer,
    CarrierSpecValidity,
    CarrierDiscovery,
):
    """Every carrier group: the required ones, then the optional ones, then the refusals."""


class EngineConformance(  # last group first, as in CarrierConformance
    UndeclaredEngineCapabilities,
    TextInput,
    ToolRoundTrip,
    Truncation,
    EventNormalisation,
    SessionLifecycle,
    EngineDiscovery,
):
    """Every engine group: the required ones, then the optional ones, then the refusals."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    """Turn ``known_failures`` entries into strict xfails; stale entries are a usage error."""
    checked: set[type] = set()
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, ConformanceGroup) and cls not in checked:
            checked.add(cls)
            stale = stale_known_failures(cls)
            if stale:
                raise pytest.UsageError(
                    f"{cls.__name__}.known_failures names no test of the kit: {stale}"
                )
        reason = known_failure(item)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


__all__ = [
    "PUBLIC_URL",
    "CallHangUp",
    "CallRecording",
    "CallTransfer",
    "CarrierConformance",
    "CarrierDiscovery",
    "CarrierRig",
    "CarrierSpecValidity",
    "CarrierUnderTest",
    "ConformanceGroup",
    "DtmfInput",
    "EngineConformance",
    "EngineDiscovery",
    "EngineUnderTest",
    "EventNormalisation",
    "KitEngine",
    "MarkAndClear",
    "MediaCodec",
    "OutboundDial",
    "SessionLifecycle",
    "SignatureRejection",
    "StreamStop",
    "TextInput",
    "ToolRoundTrip",
    "Truncation",
    "UndeclaredCapabilities",
    "UndeclaredEngineCapabilities",
    "WebhookAnswer",
    "carrier",
    "carrier_harness",
    "carrier_live",
    "carrier_registered",
    "carrier_registry",
    "carrier_spec",
    "carrier_under_test",
    "carrier_wire",
    "engine_harness",
    "engine_registered",
    "engine_registry",
    "engine_spec",
    "engine_under_test",
]
