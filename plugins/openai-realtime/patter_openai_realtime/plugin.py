"""The entry point of the OpenAI Realtime plugin: what it registers with Patter."""

from __future__ import annotations

from collections.abc import Callable

from patter_core import hookimpl
from patter_core.specs import EngineCapabilities, EngineSpec, PriceTable

from .models import ENGINE_NAME, MODELS, PRICE_TABLE, TRANSCRIPTION_MODELS


def _build(**options: object) -> object:
    from .adapter import OpenAIRealtimeAdapter

    return OpenAIRealtimeAdapter(**options)  # type: ignore[arg-type]


ENGINE_SPEC = EngineSpec(
    name=ENGINE_NAME,
    factory=_build,
    models=MODELS,
    transcription_models=TRANSCRIPTION_MODELS,
    capabilities=EngineCapabilities(),
    description="OpenAI Realtime API (GA) over WebSocket: speech in, reasoning, speech out.",
    test_kit="patter_openai_realtime.testing.kit:KIT",
)


@hookimpl
def patter_register_engines(register: Callable[[EngineSpec], None]) -> None:
    register(ENGINE_SPEC)


@hookimpl
def patter_register_pricing(register: Callable[[PriceTable], None]) -> None:
    register(PRICE_TABLE)
