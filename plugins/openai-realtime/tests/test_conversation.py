"""A live session against the fake: first message, tools, barge-in, errors, close."""

from __future__ import annotations

import asyncio
import base64

from conftest import LOOKUP, Reader, config, open_session, without_id
from patter_openai_realtime.testing import (
    CallTool,
    Disconnect,
    FakeRealtimeServer,
    ServerError,
    mulaw_silence,
    mulaw_speech,
)

from patter_core.audio import decoded_length
from patter_core.engine import (
    AgentAudio,
    AgentTranscriptDelta,
    AgentTranscriptDone,
    EngineClosed,
    EngineError,
    RateLimits,
    ResponseDone,
    ResponseStarted,
    ToolCall,
    UserSpeechStarted,
)


async def test_first_message_passes_audio_through_untouched(server: FakeRealtimeServer) -> None:
    server.reply("Hi, how can I help today?")
    session = await open_session(server)
    reader = Reader(session)
    await session.say("Hi, how can I help today?")
    events = await reader.until(ResponseDone)
    create = without_id(await server.wait_for("response.create"))
    assert create["type"] == "response.create"
    assert "Hi, how can I help today?" in create["response"]["instructions"]
    assert "exactly" in create["response"]["instructions"]
    assert set(create["response"]) == {"instructions"}

    sent = [e for e in server.sent if e["type"] == "response.output_audio.delta"]
    audio = [e for e in events if isinstance(e, AgentAudio)]
    assert [a.payload for a in audio] == [e["delta"] for e in sent]  # byte-for-byte base64
    assert {(a.item_id, a.content_index, a.response_id) for a in audio} == {
        (sent[0]["item_id"], 0, sent[0]["response_id"])
    }
    started = next(e for e in events if isinstance(e, ResponseStarted))
    assert started.response_id == sent[0]["response_id"]
    deltas = "".join(e.text for e in events if isinstance(e, AgentTranscriptDelta))
    done = next(e for e in events if isinstance(e, AgentTranscriptDone))
    assert deltas == done.text == "Hi, how can I help today?"
    finished = events[-1]
    assert isinstance(finished, ResponseDone)
    assert finished.status == "completed"
    assert finished.item_ids == (audio[0].item_id,)
    assert any(isinstance(e, RateLimits) and "tokens" in e.limits for e in events)
    await session.close()
    await reader.finished()


async def test_function_call_round_trip(server: FakeRealtimeServer) -> None:
    server.reply(CallTool("lookup_order", {"id": "A-42"}, call_id="call_1"))
    server.reply("Order A-42 ships tomorrow.")
    session = await open_session(server, config(tools=(LOOKUP,)))
    reader = Reader(session)
    await session.send_user_text("Where is order A-42?")
    call = await reader.next(ToolCall)
    assert (call.call_id, call.name, dict(call.arguments), call.error) == (
        "call_1",
        "lookup_order",
        {"id": "A-42"},
        "",
    )
    assert call.item_id.startswith("item_")
    await reader.next(ResponseDone)
    await session.send_tool_result("call_1", '{"status": "shipped"}')
    done = await reader.next(AgentTranscriptDone)
    assert done.text == "Order A-42 ships tomorrow."
    await reader.next(ResponseDone)

    kinds = [e["type"] for e in server.events]
    assert kinds == [
        "session.update",
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    assert without_id(server.events[1])["item"] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Where is order A-42?"}],
    }
    assert without_id(server.events[3]) == {
        "type": "conversation.item.create",
        "item": {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": '{"status": "shipped"}',
        },
    }
    assert without_id(server.events[4]) == {"type": "response.create"}
    assert server.requests[1].tool_outputs == {"call_1": '{"status": "shipped"}'}
    await session.close()


async def test_tool_result_during_the_response_waits_for_response_done(
    server: FakeRealtimeServer,
) -> None:
    server.delta_interval_s = 0.01
    server.reply(CallTool("lookup_order", {"id": "1"}, call_id="c1"), "Let me check that.")
    server.reply("Done.")
    session = await open_session(server, config(tools=(LOOKUP,)))
    reader = Reader(session)
    await session.create_response()
    call = await reader.next(ToolCall)
    await session.send_tool_result(call.call_id, "ok")  # the response is still speaking
    await reader.next(ResponseDone)
    await reader.next(AgentTranscriptDone, where=lambda d: d.text == "Done.")
    assert not [e for e in server.sent if e["type"] == "error"]
    assert len(server.of_type("response.create")) == 2
    await session.close()


async def test_parallel_calls_get_one_continuation(server: FakeRealtimeServer) -> None:
    server.reply(
        CallTool("lookup_order", {"id": "1"}, call_id="c1"),
        CallTool("lookup_order", {"id": "2"}, call_id="c2"),
    )
    server.reply("Both found.")
    session = await open_session(server, config(tools=(LOOKUP,)))
    reader = Reader(session)
    await session.create_response()
    await reader.next(ResponseDone)
    await session.send_tool_result("c2", "two")
    assert len(server.of_type("response.create")) == 1  # c1 still open: no continuation yet
    await session.send_tool_result("c1", "one")
    await reader.next(AgentTranscriptDone, where=lambda d: d.text == "Both found.")
    assert len(server.of_type("response.create")) == 2
    assert server.requests[1].tool_outputs == {"c1": "one", "c2": "two"}
    await session.close()


async def test_malformed_arguments_are_answered_with_an_error_output(
    server: FakeRealtimeServer,
) -> None:
    server.reply(CallTool("lookup_order", '{"id": "A-4', call_id="bad"))
    server.reply(CallTool("lookup_order", {"id": "A-42"}, call_id="good"))
    session = await open_session(server, config(tools=(LOOKUP,)))
    reader = Reader(session)
    await session.create_response()
    call = await reader.next(ToolCall)
    assert call.call_id == "bad" and call.arguments == {}
    assert "not valid JSON" in call.error
    retry = await reader.next(ToolCall)  # the model was told and called again
    assert retry.call_id == "good" and retry.arguments == {"id": "A-42"}
    output = without_id(server.of_type("conversation.item.create")[0])["item"]
    assert output["type"] == "function_call_output" and output["call_id"] == "bad"
    assert output["output"].startswith("Error: the call to 'lookup_order' was not run")
    await session.send_tool_result("bad", "late result")  # already answered: dropped
    assert [e["item"]["call_id"] for e in server.of_type("conversation.item.create")] == ["bad"]
    await session.close()


async def test_arguments_that_are_not_an_object_are_an_error(server: FakeRealtimeServer) -> None:
    server.reply(CallTool("lookup_order", "[1, 2]", call_id="list"))
    session = await open_session(server, config(tools=(LOOKUP,)))
    reader = Reader(session)
    await session.create_response()
    call = await reader.next(ToolCall)
    assert call.error == "arguments must be a JSON object, got list"
    await session.close()


async def generated_item(server: FakeRealtimeServer, reader: Reader, text: str) -> tuple[str, int]:
    """Play one reply and return its item id and how many ms of audio the fake generated."""
    await reader.session.say(text)
    done = await reader.next(ResponseDone)
    ms = sum(
        decoded_length(e["delta"]) // 8
        for e in server.sent
        if e["type"] == "response.output_audio.delta" and e["item_id"] == done.item_ids[0]
    )
    return done.item_ids[0], ms


async def test_truncate_at_the_heard_position(server: FakeRealtimeServer) -> None:
    server.reply("Your order ships tomorrow morning.")  # 34 chars x 40 ms = 1360 ms
    session = await open_session(server)
    reader = Reader(session)
    item_id, generated = await generated_item(server, reader, "x")
    assert generated == 1360
    await session.truncate(item_id, 640)
    event = without_id(await server.wait_for("conversation.item.truncate"))
    assert event == {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": 640,
    }
    await session.close()
    await reader.finished()
    truncated = [e for e in server.sent if e["type"] == "conversation.item.truncated"]
    assert [t["audio_end_ms"] for t in truncated] == [640]


async def test_truncate_is_clamped_to_the_generated_audio(server: FakeRealtimeServer) -> None:
    server.reply("Short one.")  # 400 ms
    session = await open_session(server)
    reader = Reader(session)
    item_id, generated = await generated_item(server, reader, "x")
    await session.truncate(item_id, 5_000)  # heard more than exists: a wall-clock estimate
    event = await server.wait_for("conversation.item.truncate")
    assert event["audio_end_ms"] == generated == 400
    await session.close()
    await reader.finished()
    assert not [e for e in server.sent if e["type"] == "error"]


async def test_truncate_at_zero_deletes_the_item(server: FakeRealtimeServer) -> None:
    server.reply("Never heard.", "Also never heard.")
    session = await open_session(server)
    reader = Reader(session)
    await session.say("x")
    done = await reader.next(ResponseDone)
    first, second = done.item_ids
    await session.truncate(first, 0)
    await session.truncate(second, -20)  # negative is clamped to 0: also a delete
    await server.wait_for("conversation.item.delete", count=2)
    assert [e["item_id"] for e in server.of_type("conversation.item.delete")] == [first, second]
    assert server.of_type("conversation.item.truncate") == []
    await session.close()
    await reader.finished()
    assert [e["item_id"] for e in server.sent if e["type"] == "conversation.item.deleted"] == [
        first,
        second,
    ]


async def test_barge_in_cancels_the_response_with_turn_detected(server: FakeRealtimeServer) -> None:
    server.delta_interval_s = 0.01
    server.ms_per_char = 400  # a long answer, so the caller can cut in
    server.reply("A long answer that goes on and on.")
    session = await open_session(server)
    reader = Reader(session)
    await session.say("x")
    await reader.next(AgentAudio)
    for _ in range(10):
        await session.send_audio(mulaw_speech(20))
    started = await reader.next(UserSpeechStarted)
    done = await reader.next(ResponseDone)
    assert (done.status, done.status_reason) == ("cancelled", "turn_detected")
    assert started.item_id and started.audio_start_ms == 0
    await session.close()


async def test_interrupt_response_false_lets_the_answer_finish(server: FakeRealtimeServer) -> None:
    from patter_openai_realtime import ServerVad

    server.delta_interval_s = 0.005
    server.reply("An answer that is not interrupted.")
    session = await open_session(server, turn_detection=ServerVad(interrupt_response=False))
    reader = Reader(session)
    await session.say("x")
    await reader.next(AgentAudio)
    for _ in range(10):
        await session.send_audio(mulaw_speech(20))
    await reader.next(UserSpeechStarted)
    done = await reader.next(ResponseDone)
    assert done.status == "completed"
    await session.close()


async def test_cancel_response_only_when_one_is_running(server: FakeRealtimeServer) -> None:
    await_ms = 0.01
    server.delta_interval_s = await_ms
    server.ms_per_char = 400
    server.reply("Something long enough to cancel.")
    session = await open_session(server)
    reader = Reader(session)
    await session.cancel_response()  # nothing running: nothing sent
    assert server.of_type("response.cancel") == []
    await session.say("x")
    started = await reader.next(ResponseStarted)
    await reader.next(AgentAudio)
    await session.cancel_response()
    done = await reader.next(ResponseDone)
    assert (done.status, done.status_reason) == ("cancelled", "client_cancelled")
    cancel = without_id(server.of_type("response.cancel")[0])
    assert cancel == {"type": "response.cancel", "response_id": started.response_id}
    await session.cancel_response()  # finished: nothing more sent
    assert len(server.of_type("response.cancel")) == 1
    await session.close()


async def test_update_restates_the_audio_formats(server: FakeRealtimeServer) -> None:
    session = await open_session(server)
    reader = Reader(session)
    await session.update(instructions="Now speak French.", tools=[LOOKUP])
    update = without_id(await server.wait_for("session.update", count=2))
    assert update["session"]["type"] == "realtime"
    assert update["session"]["instructions"] == "Now speak French."
    assert update["session"]["tools"][0]["name"] == "lookup_order"
    assert update["session"]["audio"] == {
        "input": {"format": {"type": "audio/pcmu"}},
        "output": {"format": {"type": "audio/pcmu"}},
    }
    assert "voice" not in update["session"]["audio"]["output"]
    await session.close()
    await reader.finished()
    assert not any(isinstance(e, EngineError) for e in reader.seen)


async def test_error_events_are_reported_and_the_session_goes_on(
    server: FakeRealtimeServer,
) -> None:
    session = await open_session(server)
    reader = Reader(session)
    await server.send_event({"type": "some.future_event", "detail": 1})  # ignored quietly
    await server.send_error("Something odd.", code="odd_code", param="session.tools")
    error = await reader.next(EngineError)
    assert error == EngineError(
        "Something odd.", code="odd_code", param="session.tools", fatal=False
    )
    server.reply("Still here.")
    await session.say("Still here.")
    await reader.next(AgentTranscriptDone, where=lambda d: d.text == "Still here.")
    await session.close()


async def test_error_part_mid_response(server: FakeRealtimeServer) -> None:
    server.reply(
        "Hello",
        ServerError("Tool backend slow.", code="server_error", type="server_error"),
        "again",
    )
    session = await open_session(server)
    reader = Reader(session)
    await session.say("x")
    error = await reader.next(EngineError)
    assert (error.message, error.code, error.param) == ("Tool backend slow.", "server_error", "")
    assert (await reader.next(ResponseDone)).status == "completed"
    await session.close()


async def test_abrupt_close_mid_response_ends_the_events(server: FakeRealtimeServer) -> None:
    server.reply("Half of this answer is lost", Disconnect())
    session = await open_session(server)
    reader = Reader(session)
    await session.say("x")
    await reader.finished()  # the iterator ends on its own: no hang
    closed = reader.seen[-1]
    assert isinstance(closed, EngineClosed) and closed.code == 1006
    assert any(isinstance(e, AgentAudio) for e in reader.seen)
    assert not any(isinstance(e, ResponseDone) for e in reader.seen)
    # Using a dead session neither raises nor hangs.
    await session.send_audio(mulaw_silence(20))
    await session.truncate("item_1", 100)
    await session.send_tool_result("call_x", "late")
    await session.close()
    await session.close()


async def test_server_close_code_is_reported(server: FakeRealtimeServer) -> None:
    session = await open_session(server)
    reader = Reader(session)
    await server.disconnect(1001, "Your session hit the maximum duration of 60 minutes.")
    await reader.finished()
    assert reader.seen[-1] == EngineClosed(
        1001, "Your session hit the maximum duration of 60 minutes."
    )
    assert sum(isinstance(e, EngineClosed) for e in reader.seen) == 1


async def test_close_is_idempotent_and_events_end_once(server: FakeRealtimeServer) -> None:
    session = await open_session(server)
    reader = Reader(session)
    await session.close()
    await session.close()
    await reader.finished()
    assert reader.seen == [EngineClosed(1000, "")]


async def test_audio_is_appended_as_given(server: FakeRealtimeServer) -> None:
    session = await open_session(server)
    frame = mulaw_silence(20)
    await session.send_audio(frame)
    append = await server.wait_for("input_audio_buffer.append")
    assert append == {"type": "input_audio_buffer.append", "audio": frame}
    assert len(base64.b64decode(append["audio"])) == 160
    await session.close()


async def test_events_can_be_read_once(server: FakeRealtimeServer) -> None:
    import pytest

    session = await open_session(server)
    reader = Reader(session)
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="only once"):
        await session.events().__anext__()
    await session.close()
    await reader.finished()


async def test_a_create_that_collides_with_a_vad_response_is_retried_after_it(
    server: FakeRealtimeServer,
) -> None:
    server.delta_interval_s = 0.01
    server.reply("The answer to the caller's turn.")
    server.reply("Then the answer we asked for.")
    session = await open_session(server)
    for payload in [mulaw_speech(20)] * 15 + [mulaw_silence(20)] * 30:
        await session.send_audio(payload)
    # Nobody reads events yet, so the session has not heard of the server's VAD response.
    for _ in range(500):
        if any(e["type"] == "response.created" for e in server.sent):
            break
        await asyncio.sleep(0.01)
    await session.create_response("Now say the other thing.")
    reader = Reader(session)
    error = await reader.next(EngineError)
    assert error.code == "conversation_already_has_active_response"
    await reader.next(ResponseDone)
    done = await reader.next(AgentTranscriptDone)
    assert done.text == "Then the answer we asked for."
    creates = [without_id(e) for e in server.of_type("response.create")]
    assert (
        creates
        == [{"type": "response.create", "response": {"instructions": "Now say the other thing."}}]
        * 2
    )
    await session.close()


async def test_a_mid_call_format_change_is_a_fatal_error(server: FakeRealtimeServer) -> None:
    session = await open_session(server)
    reader = Reader(session)
    pcm = {"format": {"type": "audio/pcm", "rate": 24000}}
    await server.send_event(
        {"type": "session.updated", "session": {"audio": {"input": pcm, "output": pcm}}}
    )
    error = await reader.next(EngineError)
    assert error.fatal and error.code == "audio_format_mismatch"
    assert "session.updated says input audio/pcm@24000" in error.message
    await session.close()
