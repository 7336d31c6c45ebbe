"""Pure builders for the fake server's events: transcription, usage, truncate refusals."""

from __future__ import annotations

import math
from typing import Any

from .script import ServerError

Json = dict[str, Any]

BETA_REFUSED = ServerError(
    "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
    code="beta_api_shape_disabled",
)

# Transcription models billed per second of audio; the others report tokens.
DURATION_BILLED = frozenset({"whisper-1", "gpt-realtime-whisper", "gpt-live-transcribe"})


def user_audio_item(item_id: str) -> Json:
    """The conversation item of a committed caller turn (no audio bytes, as on the wire)."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def transcription_events(model: str, item_id: str, text: str, speech_ms: int) -> list[Json]:
    """Partials (not for whisper-1, which has none), then ``completed`` with its bill."""
    ids = {"item_id": item_id, "content_index": 0}
    events: list[Json] = []
    if model != "whisper-1":
        for index, word in enumerate(text.split(" ")):
            delta = word if index == 0 else " " + word
            events.append(
                {"type": "conversation.item.input_audio_transcription.delta", **ids, "delta": delta}
            )
    usage: Json
    if model in DURATION_BILLED:
        usage = {"type": "duration", "seconds": speech_ms / 1000}
    else:
        audio_tokens = math.ceil(speech_ms / 100)
        output_tokens = max(1, math.ceil(len(text) / 4))
        usage = {
            "type": "tokens",
            "input_tokens": audio_tokens,
            "output_tokens": output_tokens,
            "total_tokens": audio_tokens + output_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
        }
    completed = "conversation.item.input_audio_transcription.completed"
    events.append({"type": completed, **ids, "transcript": text, "usage": usage})
    return events


def usage_object(
    text_in: int,
    audio_in: int,
    cached: tuple[int, int],
    output: tuple[int, int],
    *,
    cached_details: bool,
) -> Json:
    """A ``response.done`` usage object in the GA shape (cached is a subset of input)."""
    out_text, out_audio = output
    details: Json = {
        "text_tokens": text_in,
        "audio_tokens": audio_in,
        "image_tokens": 0,
        "cached_tokens": sum(cached),
    }
    if cached_details:
        details["cached_tokens_details"] = {
            "text_tokens": cached[0],
            "audio_tokens": cached[1],
            "image_tokens": 0,
        }
    return {
        "total_tokens": text_in + audio_in + out_text + out_audio,
        "input_tokens": text_in + audio_in,
        "output_tokens": out_text + out_audio,
        "input_token_details": details,
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


def not_found(item_id: str) -> ServerError:
    return ServerError(
        f"Item with item_id '{item_id}' not found. (fake)", code="item_not_found", param="item_id"
    )


def truncate_problem(
    item: Json | None, item_id: str, generated_ms: int, end: object
) -> ServerError | None:
    """The refusal the service gives to ``conversation.item.truncate``, or None."""
    if item is None:
        return not_found(item_id)
    if not isinstance(end, int) or end < 0:
        return ServerError(
            "Invalid 'audio_end_ms': integer below minimum value. "
            f"Expected a value >= 0, but got {end} instead.",
            code="integer_below_min_value",
            param="audio_end_ms",
        )
    if item.get("role") != "assistant" or generated_ms == 0:
        return ServerError(
            "Only model output audio messages can be truncated", code="unsupported_content_type"
        )
    if end > generated_ms:
        return ServerError(
            f"Audio content of {generated_ms}ms is already shorter than {end}ms",
            code="invalid_value",
            param="audio_end_ms",
        )
    return None
