"""The fake server itself: it speaks the GA protocol and refuses what the service refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import LOOKUP, Reader, config, open_session
from patter_openai_realtime.testing import (
    CallTool,
    FakeRealtimeServer,
    ProtocolViolation,
    Reply,
    ResponseRequest,
    mulaw_silence,
    mulaw_speech,
    validate_server_event,
)

from patter_core.engine import ResponseDone, ToolCall, UserTranscriptDone


async def raw_client(server: FakeRealtimeServer, **headers: str) -> Any:
    from websockets.asyncio.client import connect

    auth = {"Authorization": f"Bearer {server.api_key}", **headers}
    ws = await connect(server.ws_url + "?model=gpt-realtime-2", additional_headers=auth)
    assert json.loads(await ws.recv())["type"] == "session.created"
    assert json.loads(await ws.recv())["type"] == "conversation.created"
    return ws


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == kind:
            return event


async def test_every_server_event_matches_openais_types(server: FakeRealtimeServer) -> None:
    server.caller_says("where is my order")
    server.reply("Let me look.", CallTool("lookup_order", {"id": "7"}))
    server.reply("It ships today.")
    session = await open_session(
        server,
        config("gpt-realtime-2", tools=(LOOKUP,)),
        model="gpt-realtime-2",
        input_audio_transcription_model="gpt-4o-mini-transcribe",
    )
    reader = Reader(session)
    for _ in range(20):
        await session.send_audio(mulaw_speech(20))
    for _ in range(30):
        await session.send_audio(mulaw_silence(20))
    call = await reader.next(ToolCall)
    await reader.next(ResponseDone)
    await session.send_tool_result(call.call_id, "shipped")
    done = await reader.next(ResponseDone, where=lambda d: d.status == "completed")
    await session.truncate(done.item_ids[0], 100)
    await server.wait_for("conversation.item.truncate")
    await session.close()
    await reader.finished()
    kinds = {e["type"] for e in server.sent}
    assert {
        "input_audio_buffer.speech_started",
        "conversation.item.input_audio_transcription.completed",
        "response.function_call_arguments.done",
        "conversation.item.truncated",
        "rate_limits.updated",
    } <= kinds
    for event in server.sent:
        validate_server_event(event)


async def test_wrong_key_is_refused_on_upgrade(server: FakeRealtimeServer) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as caught:
        await connect(server.ws_url, additional_headers={"Authorization": "Bearer nope"})
    assert caught.value.response.status_code == 401


async def test_truncate_past_the_audio_gets_the_services_error(server: FakeRealtimeServer) -> None:
    server.reply("Twelve chars")  # 480 ms
    ws = await raw_client(server)
    await ws.send(json.dumps({"type": "response.create"}))
    done = await next_of(ws, "response.done")
    item_id = done["response"]["output"][0]["id"]
    truncate = {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": 900,
        "event_id": "ev1",
    }
    await ws.send(json.dumps(truncate))
    error = (await next_of(ws, "error"))["error"]
    assert error["message"] == "Audio content of 480ms is already shorter than 900ms"
    assert error["event_id"] == "ev1"
    await ws.send(json.dumps({**truncate, "audio_end_ms": 480}))
    assert (await next_of(ws, "conversation.item.truncated"))["audio_end_ms"] == 480
    await ws.send(json.dumps({**truncate, "audio_end_ms": -1}))
    assert (await next_of(ws, "error"))["error"]["code"] == "integer_below_min_value"
    await ws.close()


async def test_second_response_create_while_active_is_refused(server: FakeRealtimeServer) -> None:
    server.delta_interval_s = 0.01
    server.reply("A slow answer for the collision test.")
    ws = await raw_client(server)
    await ws.send(json.dumps({"type": "response.create"}))
    await next_of(ws, "response.created")
    await ws.send(json.dumps({"type": "response.create"}))
    error = (await next_of(ws, "error"))["error"]
    assert error["code"] == "conversation_already_has_active_response"
    await ws.send(json.dumps({"type": "response.cancel"}))
    done = await next_of(ws, "response.done")
    assert done["response"]["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    await ws.send(json.dumps({"type": "response.cancel"}))
    assert (await next_of(ws, "error"))["error"]["code"] == "response_cancel_not_active"
    await ws.close()


async def test_vad_timing_follows_the_session(server: FakeRealtimeServer) -> None:
    ws = await raw_client(server)
    vad = {
        "type": "server_vad",
        "prefix_padding_ms": 100,
        "silence_duration_ms": 300,
        "create_response": False,
    }
    update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"format": {"type": "audio/pcmu"}, "turn_detection": vad}},
        },
    }
    await ws.send(json.dumps(update))
    await next_of(ws, "session.updated")
    for payload in [mulaw_silence(20)] * 10 + [mulaw_speech(20)] * 10 + [mulaw_silence(20)] * 20:
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": payload}))
    started = await next_of(ws, "input_audio_buffer.speech_started")
    stopped = await next_of(ws, "input_audio_buffer.speech_stopped")
    assert started["audio_start_ms"] == 200 - 100  # speech at 200 ms, minus the padding
    assert stopped["audio_end_ms"] == 400
    assert stopped["item_id"] == started["item_id"]
    committed = await next_of(ws, "input_audio_buffer.committed")
    assert committed["item_id"] == started["item_id"]
    await ws.close()
    assert not any(e["type"] == "response.created" for e in server.sent)  # create_response off


async def test_no_vad_needs_a_commit(server: FakeRealtimeServer) -> None:
    ws = await raw_client(server)
    update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"format": {"type": "audio/pcmu"}, "turn_detection": None}},
        },
    }
    await ws.send(json.dumps(update))
    await next_of(ws, "session.updated")
    await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
    assert (await next_of(ws, "error"))["error"]["code"] == "input_audio_buffer_commit_empty"
    for _ in range(10):
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": mulaw_speech(20)}))
    await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
    assert (await next_of(ws, "conversation.item.done"))["item"]["role"] == "user"
    await ws.close()
    assert not any(e["type"] == "input_audio_buffer.speech_started" for e in server.sent)


async def test_echo_mode_returns_every_append(server: FakeRealtimeServer) -> None:
    server.echo = True
    ws = await raw_client(server)
    frame = mulaw_speech(20)
    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": frame}))
    delta = await next_of(ws, "response.output_audio.delta")
    assert delta["delta"] == frame and delta["item_id"] == "item_echo"
    await ws.close()


async def test_validate_records_bad_client_events(server: FakeRealtimeServer) -> None:
    ws = await raw_client(server)
    await ws.send(
        json.dumps({"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}})
    )
    error = (await next_of(ws, "error"))["error"]
    assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")
    await ws.close()
    assert len(server.failures) == 1 and "$.session.voice" in server.failures[0]
    with pytest.raises(AssertionError, match=r"session\.voice"):
        server.assert_clean()
    server.failures.clear()


async def test_reasoning_on_a_model_without_it_is_refused(server: FakeRealtimeServer) -> None:
    from websockets.asyncio.client import connect

    auth = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(server.ws_url + "?model=gpt-realtime-mini", additional_headers=auth) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "reasoning": {"effort": "low"}},
                }
            )
        )
        error = (await next_of(ws, "error"))["error"]
    assert error["param"] == "session.reasoning"


async def test_response_create_before_the_tool_output_is_flagged() -> None:
    async with FakeRealtimeServer() as server:
        server.reply(CallTool("lookup_order", {"id": "1"}, call_id="c9"))
        ws = await raw_client(server)
        await ws.send(json.dumps({"type": "response.create"}))
        await next_of(ws, "response.done")
        await ws.send(json.dumps({"type": "response.create"}))
        await next_of(ws, "response.done")
        await ws.close()
    assert server.failures == ["response.create sent before function_call_output for ['c9']"]


async def test_reply_callables_see_the_request(server: FakeRealtimeServer) -> None:
    server.caller_says("my name is Ada")
    server.reply_with(lambda request: Reply((f"Hello, {request.user_text.split()[-1]}.",)))
    session = await open_session(server)
    reader = Reader(session)
    for payload in [mulaw_speech(20)] * 15 + [mulaw_silence(20)] * 30:
        await session.send_audio(payload)
    await reader.next(UserTranscriptDone)
    await reader.next(ResponseDone)
    request = server.requests[0]
    assert isinstance(request, ResponseRequest)
    assert (request.trigger, request.user_text) == ("turn_detection", "my name is Ada")
    assert any(
        e.get("transcript") == "Hello, Ada."
        for e in server.sent
        if e["type"] == "response.output_audio_transcript.done"
    )
    await session.close()


def test_server_event_validation_catches_a_bad_event() -> None:
    with pytest.raises(ProtocolViolation, match="delta"):
        validate_server_event(
            {
                "type": "response.output_audio.delta",
                "event_id": "e",
                "response_id": "r",
                "item_id": "i",
                "output_index": 0,
                "content_index": 0,
            }
        )
