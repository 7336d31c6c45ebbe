"""The exact session.update the adapter sends, validated against openai's types."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import LOOKUP, config, open_session, without_id
from patter_openai_realtime import (
    OpenAIRealtimeModel,
    OpenAITranscriptionModel,
    SemanticVad,
    ServerVad,
)
from patter_openai_realtime.testing import FakeRealtimeServer, validate_client_event

PCMU = {"type": "audio/pcmu"}
DEFAULT_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
LOOKUP_JSON = {
    "type": "function",
    "name": "lookup_order",
    "description": "Look up an order by its number.",
    "parameters": {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
    },
}


async def sent_update(server: FakeRealtimeServer, **options: Any) -> dict[str, Any]:
    """Open a session and return its set-up session.update (validated, event_id removed)."""
    cfg = options.pop("cfg", None)
    session = await open_session(server, cfg, **options)
    await session.close()
    updates = server.of_type("session.update")
    assert len(updates) == 1, "set-up sends exactly one session.update"
    validate_client_event(updates[0])
    return without_id(updates[0])


async def test_defaults(server: FakeRealtimeServer) -> None:
    update = await sent_update(server, cfg=config(tools=(LOOKUP,)))
    assert update == {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": "gpt-realtime-mini",
            "output_modalities": ["audio"],
            "instructions": "You are a test agent.",
            "audio": {
                "input": {
                    "format": PCMU,
                    "transcription": {"model": "whisper-1"},
                    "turn_detection": DEFAULT_VAD,
                },
                "output": {"format": PCMU, "voice": "alloy"},
            },
            "tools": [LOOKUP_JSON],
            "tool_choice": "auto",
        },
    }
    assert "reasoning" not in update["session"]
    assert "strict" not in update["session"]["tools"][0]


async def test_gpt_realtime_2_low_reasoning_streaming_whisper(server: FakeRealtimeServer) -> None:
    update = await sent_update(
        server,
        cfg=config("gpt-realtime-2"),
        model=OpenAIRealtimeModel.GPT_REALTIME_2,
        voice="marin",
        input_audio_transcription_model=OpenAITranscriptionModel.GPT_REALTIME_WHISPER,
        reasoning_effort="low",
    )
    session = update["session"]
    assert session["type"] == "realtime"
    assert session["model"] == "gpt-realtime-2"
    assert session["output_modalities"] == ["audio"]
    assert session["instructions"] == "You are a test agent."
    assert session["audio"]["input"]["format"] == PCMU
    assert session["audio"]["input"]["transcription"] == {"model": "gpt-realtime-whisper"}
    assert session["audio"]["input"]["turn_detection"] == DEFAULT_VAD
    assert "noise_reduction" not in session["audio"]["input"]
    assert session["audio"]["output"] == {"format": PCMU, "voice": "marin"}
    assert session["tools"] == []
    assert session["tool_choice"] == "auto"
    assert session["reasoning"] == {"effort": "low"}
    assert set(session) == {
        "type",
        "model",
        "output_modalities",
        "instructions",
        "audio",
        "tools",
        "tool_choice",
        "reasoning",
    }
    # The URL names the model too, and the server's echo confirms μ-law both ways.
    assert server.connections[0].session["model"] == "gpt-realtime-2"


async def test_mini_with_high_reasoning_sends_no_reasoning(
    server: FakeRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="patter.openai_realtime")
    update = await sent_update(
        server,
        cfg=config("gpt-realtime-mini"),
        model=OpenAIRealtimeModel.GPT_REALTIME_MINI,
        reasoning_effort="high",
    )
    session = update["session"]
    assert "reasoning" not in session
    assert "reasoning_effort='high' not sent" in caplog.text  # at debug level, not an error
    assert session["model"] == "gpt-realtime-mini"
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    assert session["audio"]["output"] == {"format": PCMU, "voice": "alloy"}


async def test_every_option_lands_in_its_ga_field(server: FakeRealtimeServer) -> None:
    update = await sent_update(
        server,
        cfg=config("gpt-realtime-2", tools=(LOOKUP,)),
        model="gpt-realtime-2",
        voice="cedar",
        input_audio_transcription_model="gpt-4o-transcribe",
        transcription_language="de",
        turn_detection=SemanticVad(eagerness="high", interrupt_response=False),
        noise_reduction="far_field",
        tool_choice="lookup_order",
        max_output_tokens=900,
        reasoning_effort="xhigh",
    )
    session = update["session"]
    assert session["audio"]["input"] == {
        "format": PCMU,
        "transcription": {"model": "gpt-4o-transcribe", "language": "de"},
        "turn_detection": {
            "type": "semantic_vad",
            "eagerness": "high",
            "create_response": True,
            "interrupt_response": False,
        },
        "noise_reduction": {"type": "far_field"},
    }
    assert session["tool_choice"] == {"type": "function", "name": "lookup_order"}
    assert session["max_output_tokens"] == 900
    assert session["reasoning"] == {"effort": "xhigh"}


async def test_idle_timeout_and_no_vad_no_transcription(server: FakeRealtimeServer) -> None:
    update = await sent_update(server, input_audio_transcription_model=None, turn_detection=None)
    assert update["session"]["audio"]["input"] == {"format": PCMU, "turn_detection": None}
    server.events.clear()
    vad = ServerVad(silence_duration_ms=250, idle_timeout_ms=6000, create_response=False)
    update = await sent_update(server, turn_detection=vad)
    assert update["session"]["audio"]["input"]["turn_detection"] == {
        **DEFAULT_VAD,
        "silence_duration_ms": 250,
        "create_response": False,
        "idle_timeout_ms": 6000,
    }


async def test_empty_instructions_are_omitted_and_adapter_instructions_are_a_fallback(
    server: FakeRealtimeServer,
) -> None:
    update = await sent_update(server, cfg=config(instructions=""))
    assert "instructions" not in update["session"]
    server.events.clear()
    update = await sent_update(
        server, cfg=config(instructions=""), instructions="From the adapter."
    )
    assert update["session"]["instructions"] == "From the adapter."


async def test_reasoning_without_a_core_model_spec_uses_the_plugins_table(
    server: FakeRealtimeServer,
) -> None:
    from patter_core.engine import SessionConfig
    from patter_core.specs import PCMU_8K

    bare = SessionConfig(instructions="x", audio_format=PCMU_8K)
    update = await sent_update(server, cfg=bare, model="gpt-realtime-2", reasoning_effort="medium")
    assert update["session"]["reasoning"] == {"effort": "medium"}
    server.events.clear()
    update = await sent_update(server, cfg=bare, model="gpt-realtime", reasoning_effort="medium")
    assert "reasoning" not in update["session"]


async def test_headers_bearer_and_no_beta(server: FakeRealtimeServer) -> None:
    await sent_update(server)
    request = server.connections[0].ws.request
    assert request is not None
    assert request.headers["Authorization"] == f"Bearer {server.api_key}"
    assert "OpenAI-Beta" not in request.headers
    assert request.path == "/v1/realtime?model=gpt-realtime-mini"


async def test_debug_logs_never_show_the_key(
    server: FakeRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await sent_update(server)
    assert "> Authorization: Bearer [redacted]" in caplog.text  # websockets' header dump
    assert server.api_key not in caplog.text
