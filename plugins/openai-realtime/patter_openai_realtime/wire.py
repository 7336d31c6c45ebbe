"""Client-event payloads of the OpenAI Realtime GA interface, built from the adapter's settings.

Pure functions: no I/O, so the exact JSON can be checked without a socket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from patter_core.audio import can_convert
from patter_core.engine import SessionConfig, ToolSchema
from patter_core.errors import CallSetupError
from patter_core.specs import PCM16_24K, AudioFormat, ModelSpec

from .models import MODELS

if TYPE_CHECKING:
    from .adapter import OpenAIRealtimeAdapter, TurnDetection

log = logging.getLogger("patter.openai_realtime")

Json = dict[str, Any]

TOOL_CHOICE_MODES = ("auto", "none", "required")

# Literal instruction for `say`: the model paraphrases unless told plainly not to.
SAY_INSTRUCTIONS = (
    "Say exactly the following text, word for word, in the language it is written in, "
    "and nothing else. Do not add a greeting, a question or any comment:\n\n{text}"
)


def wire_format(fmt: AudioFormat) -> Json:
    """The GA ``audio.*.format`` object for ``fmt``."""
    if fmt.encoding == "pcm16":
        return {"type": "audio/pcm", "rate": fmt.sample_rate}
    return {"type": f"audio/{fmt.encoding}"}


def describe_format(value: object) -> str:
    """A short human form of a wire format object, for error messages."""
    if not isinstance(value, Mapping):
        return "nothing" if value is None else repr(value)
    rate = value.get("rate")
    return f"{value.get('type')}" + (f"@{rate}" if rate is not None else "")


def format_matches(requested: Json, echoed: object) -> bool:
    """Whether the server's echoed format is the one requested (type, and rate for PCM)."""
    if not isinstance(echoed, Mapping) or echoed.get("type") != requested["type"]:
        return False
    return "rate" not in requested or echoed.get("rate", requested["rate"]) == requested["rate"]


def model_spec(adapter: OpenAIRealtimeAdapter, config: SessionConfig) -> ModelSpec | None:
    """The declaration of the session's model: the core's, else this plugin's own table."""
    if config.model is not None:
        return config.model
    return next((m for m in MODELS if m.name == adapter.model), None)


def engine_format(
    adapter: OpenAIRealtimeAdapter, carrier: AudioFormat, spec: ModelSpec | None
) -> AudioFormat:
    """The format spoken to OpenAI: the carrier's if the model takes it, else a convertible one."""
    if adapter.audio_format == "pcm16":
        wanted: Iterable[AudioFormat] = (PCM16_24K,)
    elif spec is None or not spec.audio_formats or carrier in spec.audio_formats:
        return carrier
    else:
        wanted = spec.audio_formats
    for fmt in wanted:
        if can_convert(carrier, fmt) and can_convert(fmt, carrier):
            return fmt
    raise CallSetupError(
        f"OpenAI Realtime engine: no conversion between the carrier's {carrier} and "
        f"{', '.join(str(f) for f in wanted)}; use audio_format='auto' or a carrier "
        "streaming μ-law 8 kHz"
    )


def sends_reasoning(adapter: OpenAIRealtimeAdapter, spec: ModelSpec | None) -> bool:
    """Reasoning is sent only when set and the model declares support (else logged at debug)."""
    if adapter.reasoning_effort is None:
        return False
    if spec is not None and spec.supports_reasoning:
        return True
    log.debug(
        "reasoning_effort=%r not sent: model %r does not declare reasoning support",
        adapter.reasoning_effort,
        adapter.model,
    )
    return False


def turn_detection_json(turn_detection: TurnDetection | None) -> Json | None:
    from .adapter import ServerVad

    if turn_detection is None:
        return None
    if isinstance(turn_detection, ServerVad):
        out: Json = {
            "type": "server_vad",
            "threshold": turn_detection.threshold,
            "prefix_padding_ms": turn_detection.prefix_padding_ms,
            "silence_duration_ms": turn_detection.silence_duration_ms,
            "create_response": turn_detection.create_response,
            "interrupt_response": turn_detection.interrupt_response,
        }
        if turn_detection.idle_timeout_ms is not None:
            out["idle_timeout_ms"] = turn_detection.idle_timeout_ms
        return out
    return {
        "type": "semantic_vad",
        "eagerness": turn_detection.eagerness,
        "create_response": turn_detection.create_response,
        "interrupt_response": turn_detection.interrupt_response,
    }


def tool_json(tool: ToolSchema) -> Json:
    # No "strict" key: the GA realtime function tool does not declare one.
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
    }


def tool_choice_json(choice: str) -> str | Json:
    """A mode string as is; any other string forces the tool of that name."""
    if choice in TOOL_CHOICE_MODES:
        return choice
    return {"type": "function", "name": choice}


def session_json(
    adapter: OpenAIRealtimeAdapter,
    config: SessionConfig,
    fmt: AudioFormat,
    *,
    reasoning: bool,
) -> Json:
    """The ``session`` object of the set-up ``session.update`` (GA shape)."""
    audio_input: Json = {"format": wire_format(fmt)}
    if adapter.transcription_model is not None:
        transcription: Json = {"model": adapter.transcription_model}
        if adapter.transcription_language:
            transcription["language"] = adapter.transcription_language
        audio_input["transcription"] = transcription
    audio_input["turn_detection"] = turn_detection_json(adapter.turn_detection)
    if adapter.noise_reduction is not None:
        audio_input["noise_reduction"] = {"type": adapter.noise_reduction}
    session: Json = {"type": "realtime", "model": adapter.model, "output_modalities": ["audio"]}
    # Empty instructions are omitted, not sent as "", which would erase the server default.
    instructions = config.instructions or adapter.instructions
    if instructions:
        session["instructions"] = instructions
    session |= {
        "audio": {
            "input": audio_input,
            "output": {"format": wire_format(fmt), "voice": adapter.voice},
        },
        "tools": [tool_json(t) for t in config.tools],
        "tool_choice": tool_choice_json(adapter.tool_choice),
    }
    if adapter.max_output_tokens is not None:
        session["max_output_tokens"] = adapter.max_output_tokens
    if reasoning:
        session["reasoning"] = {"effort": adapter.reasoning_effort}
    return session


def update_json(
    fmt: AudioFormat, instructions: str | None, tools: Iterable[ToolSchema] | None
) -> Json:
    """A mid-call ``session.update``; it repeats the audio formats so none reverts to default."""
    session: Json = {
        "type": "realtime",
        "audio": {"input": {"format": wire_format(fmt)}, "output": {"format": wire_format(fmt)}},
    }
    if instructions is not None:
        session["instructions"] = instructions
    if tools is not None:
        session["tools"] = [tool_json(t) for t in tools]
    return {"type": "session.update", "session": session}
