"""The entry point of the Telnyx plugin: its carrier spec and per-minute prices."""

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

CARRIER_NAME = "telnyx"

#: Route names. The core dials with ``url_for("voice")`` and ``url_for("status")``; both
#: routes take every Call Control webhook (Telnyx sends all of a call's events to one URL).
VOICE_ROUTE, STATUS_ROUTE, MEDIA_ROUTE = "voice", "status", "media"


def _build(**options: object) -> object:
    # Imported on use, so `patter plugins` loads this module without httpx or cryptography.
    from .carrier import Telnyx

    return Telnyx(**options)  # type: ignore[arg-type]


CARRIER_SPEC = CarrierSpec(
    name=CARRIER_NAME,
    factory=_build,
    audio_format=PCMU_8K,  # the answer command asks for PCMU both ways
    capabilities=CarrierCapabilities(
        inbound=True, outbound=True, dtmf=True, hang_up=True, transfer=True
    ),
    routes=(  # type: ignore[arg-type, unused-ignore]  # attrs converter=tuple confuses mypy
        RouteSpec(VOICE_ROUTE, "/telnyx/webhook", methods=("POST",)),
        RouteSpec(STATUS_ROUTE, "/telnyx/status", methods=("POST",)),
        RouteSpec(MEDIA_ROUTE, "/telnyx/media", kind="websocket", methods=()),
    ),
    description="Telnyx Call Control v2 with bidirectional media streaming (μ-law 8 kHz).",
    test_kit="patter_telnyx.testing.kit:KIT",
)

PRICE_TABLE = PriceTable(
    name=CARRIER_NAME,
    models={
        # Not confirmed from a current Telnyx page: see `notes` and docs/carriers/telnyx.md.
        "inbound": MinutePrice(per_minute=Decimal("0.0035"), increment_s=6),
        "outbound": MinutePrice(per_minute=Decimal("0.010"), increment_s=6),
    },
    source=(
        "Telnyx support articles 'Flat Rate vs Tariff (Rate deck) - Outbound' (US flat rate "
        "$0.01/min) and 'Billing Increments' (6/6 s for US and Canada); inbound unconfirmed"
    ),
    as_of=dt.date(2026, 11, 25),
    notes=(
        "US estimates, billed in 6-second increments. The outbound figure is Telnyx's published "
        "flat rate (undated support article); the inbound figure was NOT confirmed from a "
        "current Telnyx price page, and any per-minute Call Control or media-streaming fee is "
        "not included. Override with your account's rates (pricing overrides)."
    ),
)


@hookimpl
def patter_register_carriers(register: Callable[[CarrierSpec], None]) -> None:
    register(CARRIER_SPEC)


@hookimpl
def patter_register_pricing(register: Callable[[PriceTable], None]) -> None:
    register(PRICE_TABLE)
