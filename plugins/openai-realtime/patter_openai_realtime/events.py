"""Normalisation of OpenAI Realtime (GA) server events into the core's engine events.

Usage accounting choices, documented in docs/engines/openai-realtime.md:

- When ``response.done`` reports only the scalar ``cached_tokens`` (no
  ``cached_tokens_details``), it is split between text and audio in proportion to their
  input counts, rounded to whole tokens, and never above either count.
- Token-billed input transcription (``usage.type == "tokens"``) gets an estimated
  ``transcription_seconds`` of ``audio_tokens / 10``: OpenAI counts caller audio at one token
  per 100 ms.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from patter_core.audio import duration_ms
from patter_core.engine import (
    AgentAudio,
    AgentTranscriptDelta,
    AgentTranscriptDone,
    EngineError,
    EngineEvent,
    RateLimits,
    ResponseDone,
    ResponseStarted,
    TokenUsage,
    ToolCall,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscriptDelta,
    UserTranscriptDone,
)
from patter_core.specs import AudioFormat

log = logging.getLogger("patter.openai_realtime")

AUDIO_TOKENS_PER_SECOND = 10  # caller audio: one token per 100 ms (OpenAI's costs guide)

# Server events that carry nothing the call loop needs; skipped without a log line.
IGNORED = frozenset(
    {
        "session.created",
        "session.updated",
        "conversation.created",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.created",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_audio.done",
        "response.function_call_arguments.delta",
    }
)


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int(data: Mapping[str, Any] | None, key: str) -> int:
    value = (data or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _map(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _as_tuple(items: list[str]) -> Any:
    # Typed Any because mypy's attrs plugin mistypes `field(converter=tuple)` parameters.
    return tuple(items)


def split_cached(cached: int, text: int, audio: int) -> tuple[int, int]:
    """Split a scalar cached-token count between text and audio, pro rata to their inputs."""
    if cached <= 0 or text + audio <= 0:
        return 0, 0
    cached_text = min(text, round(cached * text / (text + audio)))
    return cached_text, min(audio, cached - cached_text)


def response_usage(usage: object) -> TokenUsage | None:
    """`TokenUsage` from a ``response.done`` usage object (None when absent)."""
    if not isinstance(usage, Mapping):
        return None
    inp, out = _map(usage, "input_token_details"), _map(usage, "output_token_details")
    text, audio, image = (
        _int(inp, "text_tokens"),
        _int(inp, "audio_tokens"),
        _int(inp, "image_tokens"),
    )
    details = inp.get("cached_tokens_details")
    if isinstance(details, Mapping):
        cached = (
            _int(details, "text_tokens"),
            _int(details, "audio_tokens"),
            _int(details, "image_tokens"),
        )
    else:
        cached = (*split_cached(_int(inp, "cached_tokens"), text, audio), 0)
    return TokenUsage(
        input_text=text,
        input_audio=audio,
        input_image=image,
        cached_text=cached[0],
        cached_audio=cached[1],
        cached_image=cached[2],
        output_text=_int(out, "text_tokens"),
        output_audio=_int(out, "audio_tokens"),
    )


def transcription_usage(usage: object) -> tuple[float | None, TokenUsage | None]:
    """(seconds, tokens) billed for one input transcription."""
    if not isinstance(usage, Mapping):
        return None, None
    if usage.get("type") == "duration":
        seconds = usage.get("seconds")
        return (float(seconds) if isinstance(seconds, int | float) else None), None
    if usage.get("type") == "tokens":
        details = _map(usage, "input_token_details")
        audio = _int(details, "audio_tokens") if details else _int(usage, "input_tokens")
        tokens = TokenUsage(
            input_text=_int(details, "text_tokens"),
            input_audio=audio,
            output_text=_int(usage, "output_tokens"),
        )
        return audio / AUDIO_TOKENS_PER_SECOND, tokens
    return None, None


def parse_arguments(raw: object) -> tuple[Mapping[str, Any], str]:
    """(arguments, error): a tool call's JSON arguments as a mapping, or why they are unusable."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, ""
    if not isinstance(raw, str):
        return {}, f"arguments were {type(raw).__name__}, not a JSON string"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, ""


class EventNormaliser:
    """Turns server events into engine events, tracking how much audio each item has."""

    def __init__(self, fmt: AudioFormat, outbound: Callable[[str], str] | None = None) -> None:
        self._format = fmt
        self._outbound = outbound
        self._generated_ms: dict[str, float] = {}
        self._handlers: dict[str, Callable[[Mapping[str, Any]], list[EngineEvent]]] = {
            "response.output_audio.delta": self._audio,
            "response.output_audio_transcript.delta": self._transcript_delta,
            "response.output_text.delta": self._transcript_delta,
            "response.output_audio_transcript.done": self._transcript_done,
            "response.output_text.done": self._transcript_done,
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "conversation.item.input_audio_transcription.delta": self._user_delta,
            "conversation.item.input_audio_transcription.completed": self._user_done,
            "conversation.item.input_audio_transcription.failed": self._user_failed,
            "response.function_call_arguments.done": self._tool_call,
            "response.created": self._response_created,
            "response.done": self._response_done,
            "rate_limits.updated": self._rate_limits,
            "error": self._error,
        }

    def generated_ms(self, item_id: str) -> float | None:
        """Milliseconds of audio the engine has generated for ``item_id`` (None if unknown)."""
        return self._generated_ms.get(item_id)

    def forget(self, item_id: str) -> None:
        self._generated_ms.pop(item_id, None)

    def normalise(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        kind = _str(event, "type")
        handler = self._handlers.get(kind)
        if handler is not None:
            return handler(event)
        if kind not in IGNORED:
            log.debug("ignoring server event of unknown type %r", kind)
        return []

    def _audio(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        item_id, payload = _str(event, "item_id"), _str(event, "delta")
        # Length from base64 size in the engine's format: no decode on the pass-through path.
        ms = duration_ms(payload, self._format)
        self._generated_ms[item_id] = self._generated_ms.get(item_id, 0.0) + ms
        if self._outbound is not None:
            payload = self._outbound(payload)
        return [
            AgentAudio(
                item_id=item_id,
                payload=payload,
                content_index=_int(event, "content_index"),
                response_id=_str(event, "response_id"),
            )
        ]

    def _transcript_delta(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        return [
            AgentTranscriptDelta(
                _str(event, "item_id"), _str(event, "delta"), _str(event, "response_id")
            )
        ]

    def _transcript_done(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        text = _str(event, "transcript") or _str(event, "text")
        return [AgentTranscriptDone(_str(event, "item_id"), text, _str(event, "response_id"))]

    def _speech_started(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        return [UserSpeechStarted(_str(event, "item_id"), _int(event, "audio_start_ms"))]

    def _speech_stopped(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        return [UserSpeechStopped(_str(event, "item_id"), _int(event, "audio_end_ms"))]

    def _user_delta(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        return [UserTranscriptDelta(_str(event, "item_id"), _str(event, "delta"))]

    def _user_done(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        seconds, tokens = transcription_usage(event.get("usage"))
        return [
            UserTranscriptDone(
                _str(event, "item_id"),
                _str(event, "transcript"),
                transcription_seconds=seconds,
                transcription_tokens=tokens,
            )
        ]

    def _user_failed(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        error = _map(event, "error")
        message = _str(error, "message") or "input transcription failed"
        return [
            EngineError(
                f"{message} (item {_str(event, 'item_id')})",
                code=_str(error, "code") or "input_transcription_failed",
                param=_str(error, "param"),
            )
        ]

    def _tool_call(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        arguments, error = parse_arguments(event.get("arguments"))
        return [
            ToolCall(
                call_id=_str(event, "call_id"),
                name=_str(event, "name"),
                arguments=arguments,
                item_id=_str(event, "item_id"),
                error=error,
            )
        ]

    def _response_created(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        return [ResponseStarted(_str(_map(event, "response"), "id"))]

    def _response_done(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        response = _map(event, "response")
        details = _map(response, "status_details")
        failure = _map(details, "error")
        reason = _str(details, "reason") or _str(failure, "code") or _str(failure, "type")
        output = response.get("output")
        items = [
            _str(item, "id")
            for item in (output if isinstance(output, list) else [])
            if isinstance(item, Mapping) and _str(item, "id")
        ]
        return [
            ResponseDone(
                response_id=_str(response, "id"),
                status=_str(response, "status") or "completed",
                usage=response_usage(response.get("usage")),
                status_reason=reason,
                item_ids=_as_tuple(items),
            )
        ]

    def _rate_limits(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        limits = event.get("rate_limits")
        by_name = {
            _str(limit, "name"): {k: v for k, v in limit.items() if k != "name"}
            for limit in (limits if isinstance(limits, list) else [])
            if isinstance(limit, Mapping)
        }
        return [RateLimits(by_name)]

    def _error(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        error = _map(event, "error")
        return [
            EngineError(
                _str(error, "message") or "unspecified engine error",
                code=_str(error, "code") or _str(error, "type"),
                param=_str(error, "param"),
            )
        ]
