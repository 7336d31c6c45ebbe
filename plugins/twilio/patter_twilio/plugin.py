"""The entry point of the Twilio plugin: its carrier spec and per-minute prices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from patter_core import hookimpl
from patter_core.specs import (
    PCMU_8K,
    CarrierCapabilities,
    CarrierSpec,
    MinutePrice,
    PriceTable,
    RouteSpec,
)

CARRIER_NAME = "twilio"


def _build(**options: object) -> object:
    from .carrier import Twilio

    return Twilio(**options)  # type: ignore[arg-type]


CARRIER_SPEC = CarrierSpec(
    name=CARRIER_NAME,
    factory=_build,
    audio_format=PCMU_8K,
    capabilities=CarrierCapabilities(
        inbound=True,
        outbound=True,
        dtmf=True,
        transfer=True,
        hang_up=True,
        answering_machine_detection=True,
    ),
    routes=(  # type: ignore[arg-type, unused-ignore]  # attrs converter=tuple confuses mypy
        RouteSpec("voice", "/twilio/voice", methods=("POST",)),
        RouteSpec("status", "/twilio/status", methods=("POST",)),
        RouteSpec("media", "/twilio/media", kind="websocket", methods=()),
    ),
    description="Twilio Programmable Voice with bidirectional Media Streams (μ-law 8 kHz).",
    test_kit="patter_twilio.testing.kit:KIT",
)

PRICE_TABLE = PriceTable(
    name=CARRIER_NAME,
    models={
        "inbound": MinutePrice(per_minute=Decimal("0.0085")),
        "inbound-toll-free": MinutePrice(per_minute=Decimal("0.022")),
        "outbound": MinutePrice(per_minute=Decimal("0.013")),
    },
    source="Twilio support article on US voice pricing (local inbound, outbound, toll-free)",
    as_of=dt.date(2026, 11, 24),
    notes="US list prices per minute, billed per started minute; check your account's rates.",
)


@hookimpl
def patter_register_carriers(register: Callable[[CarrierSpec], None]) -> None:
    register(CARRIER_SPEC)


@hookimpl
def patter_register_pricing(register: Callable[[PriceTable], None]) -> None:
    register(PRICE_TABLE)
