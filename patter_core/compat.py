"""Compatibility checks run when an agent is built, long before any call.

Each failure is a `CompatibilityError` naming the plugin that declared the thing at fault
and what would work instead.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence

from attrs import frozen

from .audio import can_convert
from .engine import Engine
from .errors import CompatibilityError, PatterWarning, UnknownNameError
from .plugins import PluginSource
from .registry import Registry
from .specs import (
    REASONING_EFFORTS,
    AudioFormat,
    CarrierSpec,
    EngineSpec,
    ModelSpec,
    TranscriptionModelSpec,
)

log = logging.getLogger("patter.compat")


@frozen
class AgentPlan:
    """What the checks resolved: the specs an agent's calls will run with."""

    engine: EngineSpec
    engine_source: PluginSource
    model: ModelSpec
    transcription: TranscriptionModelSpec | None
    carrier: CarrierSpec | None
    carrier_source: PluginSource | None
    audio_format: AudioFormat
    send_reasoning: bool


def check_agent(
    registry: Registry,
    engine: Engine,
    *,
    carrier_name: str | None = None,
    tool_names: Sequence[str] = (),
) -> AgentPlan:
    """Resolve and check an engine (and carrier) for an agent; raise `CompatibilityError`."""
    registered = registry.engine(engine.engine_name)
    spec, source = registered.item, registered.source
    model = _check_model(spec, source, engine.model)
    send_reasoning = _check_reasoning(spec, source, model, engine.reasoning_effort)
    transcription = _check_transcription(spec, source, engine.transcription_model)
    if tool_names and not model.tools:
        capable = [m.name for m in spec.conversation_models() if m.tools]
        raise CompatibilityError(
            f"model {model.name!r} of engine {spec.name!r} ({source}) does not support tools, "
            f"but the agent has {list(tool_names)}; use a model with tools: {', '.join(capable)}"
        )
    if model.voices and engine.voice and engine.voice not in model.voices:
        _warn(
            f"voice {engine.voice!r} is not declared for model {model.name!r} by {source}; "
            f"declared voices: {', '.join(model.voices)}. The engine may reject the session."
        )
    carrier_spec = carrier_source = None
    audio_format = model.audio_formats[0] if model.audio_formats else None
    if carrier_name is not None:
        carrier_reg = registry.carrier(carrier_name)
        carrier_spec, carrier_source = carrier_reg.item, carrier_reg.source
        audio_format = carrier_spec.audio_format
        if model.audio_formats and not any(
            can_convert(audio_format, f) and can_convert(f, audio_format)
            for f in model.audio_formats
        ):
            raise CompatibilityError(
                f"carrier {carrier_name!r} ({carrier_source}) streams {audio_format}, but model "
                f"{model.name!r} ({source}) takes only "
                f"{', '.join(str(f) for f in model.audio_formats)} and there is no conversion "
                "between them; pick a model or carrier with a common format"
            )
    if audio_format is None:
        raise CompatibilityError(f"model {model.name!r} ({source}) declares no audio format")
    engine.prepare(model)
    return AgentPlan(
        engine=spec,
        engine_source=source,
        model=model,
        transcription=transcription,
        carrier=carrier_spec,
        carrier_source=carrier_source,
        audio_format=audio_format,
        send_reasoning=send_reasoning,
    )


def _warn(message: str) -> None:
    warnings.warn(message, PatterWarning, stacklevel=_caller_stacklevel())


def _caller_stacklevel() -> int:
    """The stack level of the first frame outside patter_core, so warnings point at user code."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("patter_core"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _check_model(spec: EngineSpec, source: PluginSource, name: str) -> ModelSpec:
    model = spec.model(name)
    conversation = ", ".join(m.name for m in spec.conversation_models())
    if model is None:
        raise UnknownNameError(
            f"engine {spec.name!r} ({source}) has no model {name!r}; known models: {conversation}"
        )
    if not model.conversation:
        raise CompatibilityError(
            f"model {name!r} of engine {spec.name!r} ({source}) cannot run an agent: "
            f"{model.explanation} Use one of: {conversation}"
        )
    if model.status != "active":
        when = f" on {model.retires_on.isoformat()}" if model.retires_on else ""
        state = "was shut down" if model.status == "shut_down" else "is scheduled to shut down"
        current = [m.name for m in spec.conversation_models() if m.status == "active"]
        _warn(
            f"model {name!r} {state}{when} according to {source}; "
            f"current models: {', '.join(current)}"
        )
    return model


def _check_reasoning(
    spec: EngineSpec, source: PluginSource, model: ModelSpec, effort: str | None
) -> bool:
    if effort is None:
        return False
    if effort not in REASONING_EFFORTS:
        raise CompatibilityError(
            f"reasoning_effort must be one of {', '.join(map(repr, REASONING_EFFORTS))} or None, "
            f"got {effort!r} (model {model.name!r} of engine {spec.name!r}, {source})"
        )
    if not model.supports_reasoning:
        reasoning = [m.name for m in spec.conversation_models() if m.supports_reasoning]
        log.debug(
            "reasoning_effort=%r is ignored for model %r (no reasoning support per %s); "
            "it is not sent. Models with reasoning: %s",
            effort,
            model.name,
            source,
            ", ".join(reasoning),
        )
        return False
    if effort not in model.reasoning_efforts:
        raise CompatibilityError(
            f"model {model.name!r} ({source}) accepts reasoning_effort "
            f"{', '.join(map(repr, model.reasoning_efforts))}, not {effort!r}"
        )
    return True


def _check_transcription(
    spec: EngineSpec, source: PluginSource, name: str | None
) -> TranscriptionModelSpec | None:
    if name is None:
        return None
    found = spec.transcription_model(name)
    if found is None:
        known = ", ".join(m.name for m in spec.transcription_models) or "none"
        raise UnknownNameError(
            f"engine {spec.name!r} ({source}) offers no transcription model {name!r}; "
            f"offered: {known} (or None to turn transcription off)"
        )
    if found.status != "active" and found.retires_on:
        current = [m.name for m in spec.transcription_models if m.status == "active"]
        _warn(
            f"transcription model {name!r} is scheduled to shut down on "
            f"{found.retires_on.isoformat()} according to {source}; "
            f"current: {', '.join(current)}"
        )
    return found
