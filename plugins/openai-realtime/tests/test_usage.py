"""Usage and transcription bills, normalised from the fake's GA-shaped objects."""

from __future__ import annotations

from typing import Any

from conftest import Reader, open_session
from hypothesis import given
from hypothesis import strategies as st
from patter_openai_realtime.events import response_usage, split_cached
from patter_openai_realtime.testing import FakeRealtimeServer, mulaw_silence, mulaw_speech

from patter_core.engine import (
    ResponseDone,
    TokenUsage,
    UserSpeechStopped,
    UserTranscriptDelta,
    UserTranscriptDone,
)


def expected(usage: dict[str, Any]) -> TokenUsage:
    inp, out = usage["input_token_details"], usage["output_token_details"]
    cached = inp["cached_tokens_details"]
    return TokenUsage(
        input_text=inp["text_tokens"],
        input_audio=inp["audio_tokens"],
        input_image=inp["image_tokens"],
        cached_text=cached["text_tokens"],
        cached_audio=cached["audio_tokens"],
        cached_image=cached["image_tokens"],
        output_text=out["text_tokens"],
        output_audio=out["audio_tokens"],
    )


async def test_response_usage_with_cached_details(server: FakeRealtimeServer) -> None:
    server.reply("First answer.")
    server.reply("Second answer, longer.")
    session = await open_session(server)
    reader = Reader(session)
    dones = []
    for _ in range(2):
        await session.create_response()
        dones.append(await reader.next(ResponseDone))
    sent = [e["response"]["usage"] for e in server.sent if e["type"] == "response.done"]
    assert [d.usage for d in dones] == [expected(u) for u in sent]
    second = dones[1].usage
    assert second is not None and second.cached_text > 0  # the prefix came from cache
    assert second.output_audio == len("Second answer, longer.") * 40 // 50  # 1 token / 50 ms
    await session.close()


async def test_scalar_cached_tokens_are_split_pro_rata(server: FakeRealtimeServer) -> None:
    usage = {
        "total_tokens": 460,
        "input_tokens": 400,
        "output_tokens": 60,
        "input_token_details": {"text_tokens": 300, "audio_tokens": 100, "cached_tokens": 200},
        "output_token_details": {"text_tokens": 10, "audio_tokens": 50},
    }
    server.reply("Hi.", usage=usage)
    session = await open_session(server)
    reader = Reader(session)
    await session.create_response()
    done = await reader.next(ResponseDone)
    assert done.usage == TokenUsage(
        input_text=300,
        input_audio=100,
        cached_text=150,
        cached_audio=50,
        output_text=10,
        output_audio=50,
    )
    await session.close()


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_split_cached_never_exceeds_its_parts(cached: int, text: int, audio: int) -> None:
    cached_text, cached_audio = split_cached(cached, text, audio)
    assert 0 <= cached_text <= text and 0 <= cached_audio <= audio
    assert cached_text + cached_audio <= cached
    if cached <= text + audio:
        assert cached_text + cached_audio == cached


def test_absent_usage_is_none() -> None:
    assert response_usage(None) is None
    assert response_usage({}) == TokenUsage()


async def test_failed_and_incomplete_responses_carry_their_reason(
    server: FakeRealtimeServer,
) -> None:
    server.reply("Cut", status="incomplete", status_reason="max_output_tokens")
    server.reply("Broken", status="failed", status_reason="server_error")
    session = await open_session(server)
    reader = Reader(session)
    await session.create_response()
    done = await reader.next(ResponseDone)
    assert (done.status, done.status_reason) == ("incomplete", "max_output_tokens")
    await session.create_response()
    done = await reader.next(ResponseDone)
    assert (done.status, done.status_reason) == ("failed", "server_error")
    await session.close()


async def speak_one_turn(session: Any, ms: int = 600) -> None:
    for _ in range(ms // 20):
        await session.send_audio(mulaw_speech(20))
    for _ in range(30):
        await session.send_audio(mulaw_silence(20))


async def test_whisper_1_bills_seconds_and_gives_no_partials(server: FakeRealtimeServer) -> None:
    server.caller_says("I would like a pizza")
    session = await open_session(server)
    reader = Reader(session)
    await speak_one_turn(session, 600)
    stopped = await reader.next(UserSpeechStopped)
    events = await reader.until(UserTranscriptDone)
    done = events[-1]
    assert isinstance(done, UserTranscriptDone)
    assert (done.item_id, done.text) == (stopped.item_id, "I would like a pizza")
    assert done.transcription_seconds == 0.6 and done.transcription_tokens is None
    assert not any(isinstance(e, UserTranscriptDelta) for e in events)
    assert stopped.audio_end_ms == 600
    await session.close()


async def test_streaming_whisper_gives_partials(server: FakeRealtimeServer) -> None:
    server.caller_says("two words")
    session = await open_session(server, input_audio_transcription_model="gpt-realtime-whisper")
    reader = Reader(session)
    await speak_one_turn(session, 400)
    events = await reader.until(UserTranscriptDone)
    partials = [e.text for e in events if isinstance(e, UserTranscriptDelta)]
    assert partials == ["two", " words"]
    done = events[-1]
    assert isinstance(done, UserTranscriptDone) and done.transcription_seconds == 0.4
    await session.close()


async def test_token_billed_transcription_estimates_seconds(server: FakeRealtimeServer) -> None:
    session = await open_session(server, input_audio_transcription_model="gpt-4o-transcribe")
    reader = Reader(session)
    await speak_one_turn(session, 800)
    done = await reader.next(UserTranscriptDone)
    assert done.transcription_tokens == TokenUsage(input_audio=8, output_text=2)
    assert done.transcription_seconds == 0.8  # 8 audio tokens at 10 per second
    await session.close()
