"""The three hooks a Patter plugin can implement.

Hooks only register: each receives a ``register`` callable and calls it with spec records.
The core validates every record at that one choke point, rejects duplicate names (naming
both plugins) and remembers which distribution declared what.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from .specs import CarrierSpec, EngineSpec, PriceTable

PROJECT_NAME = "patter"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def patter_register_engines(register: Callable[[EngineSpec], None]) -> None:
    """Register speech-to-speech engines.

    A complete plugin module, listed under ``[project.entry-points.patter]``::

        from patter_core import hookimpl
        from patter_core.specs import EngineSpec, ModelSpec, PCMU_8K

        class EchoEngine:
            engine_name = "echo"

        @hookimpl
        def patter_register_engines(register):
            register(EngineSpec(
                name="echo",
                factory=EchoEngine,
                models=[ModelSpec(name="echo-1", default=True, audio_formats=[PCMU_8K])],
            ))
    """


@hookspec
def patter_register_carriers(register: Callable[[CarrierSpec], None]) -> None:
    """Register telephony carriers.

    A complete plugin module, listed under ``[project.entry-points.patter]``::

        from patter_core import hookimpl
        from patter_core.specs import CarrierCapabilities, CarrierSpec, RouteSpec, PCMU_8K

        class LoopbackCarrier:
            carrier_name = "loopback"

        @hookimpl
        def patter_register_carriers(register):
            register(CarrierSpec(
                name="loopback",
                factory=LoopbackCarrier,
                audio_format=PCMU_8K,
                capabilities=CarrierCapabilities(inbound=True, dtmf=True),
                routes=[RouteSpec("voice", "/loopback/voice"),
                        RouteSpec("media", "/loopback/media", kind="websocket", methods=())],
            ))
    """


@hookspec
def patter_register_pricing(register: Callable[[PriceTable], None]) -> None:
    """Register price tables, one per engine or carrier, with their source and date.

    A complete plugin module, listed under ``[project.entry-points.patter]``::

        import datetime
        from decimal import Decimal
        from patter_core import hookimpl
        from patter_core.specs import MinutePrice, PriceTable

        @hookimpl
        def patter_register_pricing(register):
            register(PriceTable(
                name="loopback",
                models={"inbound": MinutePrice(per_minute=Decimal("0.001"))},
                source="https://example.com/pricing",
                as_of=datetime.date(2026, 11, 1),
            ))
    """
