"""Frozen records that plugins hand to the core through the registration hooks."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs
from attrs import field, frozen

ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]
REASONING_EFFORTS: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh")

ModelStatus = Literal["active", "deprecated", "shut_down"]


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@frozen
class AudioFormat:
    """An audio encoding on the wire: `AudioFormat("pcmu", 8000)` is G.711 μ-law at 8 kHz."""

    encoding: Literal["pcmu", "pcma", "pcm16"]
    sample_rate: int

    def __str__(self) -> str:
        return f"{self.encoding}@{self.sample_rate}"


def _tuple_of_formats(value: Iterable[AudioFormat]) -> tuple[AudioFormat, ...]:
    return tuple(value)


PCMU_8K = AudioFormat("pcmu", 8000)
PCMA_8K = AudioFormat("pcma", 8000)
PCM16_24K = AudioFormat("pcm16", 24000)


@frozen
class ModelSpec:
    """One model an engine offers, with what it can do.

    A model with ``conversation=False`` is known but cannot drive an agent (it lives on
    another endpoint); ``explanation`` says why and what to use instead.
    """

    name: str
    description: str = ""
    conversation: bool = True
    endpoint: str = ""
    explanation: str = ""
    tools: bool = True
    reasoning_efforts: tuple[str, ...] = field(default=(), converter=_tuple_of_str)
    context_window: int | None = None
    max_output_tokens: int | None = None
    voices: tuple[str, ...] = field(default=(), converter=_tuple_of_str)
    audio_formats: tuple[AudioFormat, ...] = field(default=(), converter=_tuple_of_formats)
    status: ModelStatus = "active"
    retires_on: dt.date | None = None
    default: bool = False

    @property
    def supports_reasoning(self) -> bool:
        return bool(self.reasoning_efforts)


@frozen
class TranscriptionModelSpec:
    """A speech-to-text model an engine can run on the caller's audio."""

    name: str
    description: str = ""
    streaming: bool = False
    status: ModelStatus = "active"
    retires_on: dt.date | None = None
    default: bool = False


def _tuple_of_models(value: Iterable[ModelSpec]) -> tuple[ModelSpec, ...]:
    return tuple(value)


def _tuple_of_transcription_models(
    value: Iterable[TranscriptionModelSpec],
) -> tuple[TranscriptionModelSpec, ...]:
    return tuple(value)


@frozen
class EngineCapabilities:
    """What an engine's sessions can do, whatever the model."""

    truncate: bool = True
    tool_calls: bool = True
    user_transcription: bool = True
    text_input: bool = True
    server_vad: bool = True


@frozen
class EngineSpec:
    """An engine plugin's declaration: its name, how to build it, its models.

    ``factory(**options)`` builds the engine object users otherwise construct by hand.
    """

    name: str
    factory: Callable[..., Any]
    models: tuple[ModelSpec, ...] = field(converter=_tuple_of_models)
    transcription_models: tuple[TranscriptionModelSpec, ...] = field(
        default=(), converter=_tuple_of_transcription_models
    )
    capabilities: EngineCapabilities = EngineCapabilities()
    description: str = ""
    test_kit: str = ""  # "module:attribute" of a patter_core.simulation.EngineTestKit

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def transcription_model(self, name: str) -> TranscriptionModelSpec | None:
        return next((m for m in self.transcription_models if m.name == name), None)

    @property
    def default_model(self) -> ModelSpec | None:
        return next((m for m in self.models if m.default), None)

    def conversation_models(self) -> tuple[ModelSpec, ...]:
        return tuple(m for m in self.models if m.conversation)


@frozen
class CarrierCapabilities:
    """What a carrier supports; the core refuses to use anything declared False."""

    inbound: bool = True
    outbound: bool = False
    dtmf: bool = False
    transfer: bool = False
    hang_up: bool = False
    recording: bool = False
    answering_machine_detection: bool = False


CARRIER_CAPABILITIES: tuple[str, ...] = tuple(a.name for a in attrs.fields(CarrierCapabilities))


@frozen
class RouteSpec:
    """An HTTP or WebSocket route a carrier needs the server to expose."""

    name: str
    path: str
    kind: Literal["http", "websocket"] = "http"
    methods: tuple[str, ...] = field(default=("POST",), converter=_tuple_of_str)


def _tuple_of_routes(value: Iterable[RouteSpec]) -> tuple[RouteSpec, ...]:
    return tuple(value)


@frozen
class CarrierSpec:
    """A carrier plugin's declaration: media format, capabilities and routes."""

    name: str
    factory: Callable[..., Any]
    audio_format: AudioFormat
    capabilities: CarrierCapabilities = CarrierCapabilities()
    routes: tuple[RouteSpec, ...] = field(default=(), converter=_tuple_of_routes)
    description: str = ""
    test_kit: str = ""  # "module:attribute" of a patter_core.simulation.CarrierTestKit


@frozen
class TokenPrice:
    """USD per one million tokens, by token kind."""

    text_input: Decimal
    text_output: Decimal
    audio_input: Decimal
    audio_output: Decimal
    text_cached_input: Decimal | None = None
    audio_cached_input: Decimal | None = None
    image_input: Decimal | None = None
    image_cached_input: Decimal | None = None


@frozen
class MinutePrice:
    """USD per minute, billed in whole increments of ``increment_s`` seconds (rounded up)."""

    per_minute: Decimal
    increment_s: int = 60


Price = TokenPrice | MinutePrice


def _read_only(value: Mapping[str, Price]) -> Mapping[str, Price]:
    return types.MappingProxyType(dict(value))


@frozen
class PriceTable:
    """A named set of prices (per model or per call leg) with where they came from."""

    name: str
    models: Mapping[str, Price] = field(converter=_read_only)
    source: str
    as_of: dt.date
    currency: str = "USD"
    notes: str = ""
