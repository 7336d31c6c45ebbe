"""The plugin's entry point: the carrier spec and the per-minute prices it registers."""

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

CARRIER_NAME = "template"


def _build(**options: object) -> object:
    # Imported on use, so `patter plugins` loads this module without the carrier's code.
    from .carrier import TemplateCarrier

    return TemplateCarrier(**options)  # type: ignore[arg-type]


CARRIER_SPEC = CarrierSpec(
    name=CARRIER_NAME,
    factory=_build,
    audio_format=PCMU_8K,  # what the network really streams: the kit checks it
    capabilities=CarrierCapabilities(inbound=True, dtmf=True),
    routes=(  # type: ignore[arg-type, unused-ignore]
        RouteSpec("voice", "/template/voice", methods=("POST",)),
        RouteSpec("media", "/template/media", kind="websocket", methods=()),
    ),
    description="A loopback carrier skeleton: signed JSON webhooks and a JSON media stream.",
    test_kit="patter_template.testing:KIT",
)

PRICE_TABLE = PriceTable(
    name=CARRIER_NAME,
    models={"inbound": MinutePrice(per_minute=Decimal("0.0040"))},
    source="https://example.com/template-carrier/pricing (replace with your carrier's page)",
    as_of=dt.date(2026, 11, 25),
    notes="Per started minute; an example figure for the template.",
)


@hookimpl
def patter_register_carriers(register: Callable[[CarrierSpec], None]) -> None:
    register(CARRIER_SPEC)


@hookimpl
def patter_register_pricing(register: Callable[[PriceTable], None]) -> None:
    register(PRICE_TABLE)
