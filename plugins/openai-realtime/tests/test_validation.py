"""The strict validator: openai's types, a real discriminator, strict values, no extra keys."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from patter_openai_realtime.testing import ProtocolViolation, validate_client_event

GOOD: dict[str, Any] = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "model": "gpt-realtime-2",
        "output_modalities": ["audio"],
        "instructions": "You are a phone agent.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": {"type": "server_vad", "threshold": 0.5, "idle_timeout_ms": 6000},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
        "tools": [
            {
                "type": "function",
                "name": "lookup_order",
                "description": "Look up an order",
                "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
            }
        ],
        "tool_choice": "auto",
        "reasoning": {"effort": "low"},
    },
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """GOOD with the dotted ``path`` set to ``value``."""
    event = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = event
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return event


def test_accepts_the_ga_pcmu_session_update() -> None:
    model = validate_client_event(json.dumps(GOOD))
    assert type(model).__name__ == "SessionUpdateEvent"
    assert validate_client_event(GOOD) is not None  # a dict works too


def test_rejects_the_beta_shape() -> None:
    beta = {
        "type": "session.update",
        "session": {
            "modalities": ["text", "audio"],
            "voice": "alloy",
            "input_audio_format": "g711_ulaw",
            "output_audio_format": "g711_ulaw",
        },
    }
    with pytest.raises(
        ProtocolViolation, match=r"\$\.session\.RealtimeSessionCreateRequest\.type: Field required"
    ):
        validate_client_event(beta)


def test_rejects_beta_keys_on_a_ga_session() -> None:
    event = changed("session.voice", "alloy")
    event["session"]["temperature"] = 0.8
    with pytest.raises(ProtocolViolation) as caught:
        validate_client_event(event)
    assert "$.session.voice" in str(caught.value)
    assert "$.session.temperature" in str(caught.value)


def test_rejects_extra_keys_deep_inside() -> None:
    with pytest.raises(ProtocolViolation, match=r"\$\.session\.tools\[0\]\.strict"):
        validate_client_event(changed("session.tools.0.strict", True))
    with pytest.raises(ProtocolViolation, match=r"\$\.session\.audio\.input\.format\.rate"):
        validate_client_event(changed("session.audio.input.format.rate", 8000))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("session.audio.input.format", {"type": "audio/ulaw"}, "Input should be 'audio/pcmu'"),
        (
            "session.audio.output.format",
            {"type": "audio/pcm", "rate": 8000},
            "Input should be 24000",
        ),
        ("session.audio.input.format", "g711_ulaw", "format"),
        ("session.audio.input.turn_detection.type", "server-vad", "Input should be 'server_vad'"),
        ("session.reasoning.effort", "maximum", "'minimal', 'low', 'medium', 'high' or 'xhigh'"),
        ("session.audio.input.turn_detection.threshold", "0.5", "threshold"),
        ("session.output_modalities", ["speech"], "output_modalities"),
    ],
)
def test_rejects_wrong_values(path: str, value: Any, message: str) -> None:
    with pytest.raises(ProtocolViolation, match=message):
        validate_client_event(changed(path, value))


def test_rejects_a_truncate_without_audio_end_ms() -> None:
    with pytest.raises(ProtocolViolation, match=r"\$\.audio_end_ms: Field required"):
        validate_client_event(
            {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0}
        )


def test_rejects_a_server_event_sent_as_a_client_event() -> None:
    with pytest.raises(ProtocolViolation, match="does not match any of the expected tags"):
        validate_client_event({"type": "response.audio.delta", "delta": ""})


def test_rejects_non_json() -> None:
    with pytest.raises(ProtocolViolation, match="<not JSON>"):
        validate_client_event("{not json")


def test_accepts_every_other_client_event_the_session_sends() -> None:
    for event in (
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": 5,
        },
        {"type": "conversation.item.delete", "item_id": "i", "event_id": "patter_3"},
        {"type": "response.create", "response": {"instructions": "Say hi."}},
        {"type": "response.cancel", "response_id": "resp_1"},
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c", "output": "{}"},
        },
    ):
        validate_client_event(event)
