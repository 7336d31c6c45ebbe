"""The call simulator against a real server (uvicorn on 127.0.0.1) using the Twilio carrier."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from patter_twilio import Twilio
from patter_twilio.testing import (
    Audio,
    CallRecording,
    Dtmf,
    Hangup,
    ScriptItem,
    Silence,
    Speech,
    TwilioCallSimulator,
    WaitForAgent,
    tone,
)
from patter_twilio.testing.script import SILENT_FRAME, render
from twilio_test_app import (
    PUBLIC_URL,
    TOKEN,
    Behaviour,
    Context,
    MediaHandler,
    StreamLog,
    echo,
    make_app,
    on_dtmf,
    running,
)

from patter_core.carrier import (
    CarrierEvent,
    DtmfReceived,
    MediaReceived,
    StreamStarted,
    StreamStopped,
)

GUARD_S = 60  # hang guard only: a healthy test finishes in seconds


async def place(
    script: Sequence[ScriptItem],
    behaviour: Behaviour | None = None,
    *,
    carrier: Twilio | None = None,
    token: str = TOKEN,
    **call_options: Any,
) -> tuple[CallRecording, list[StreamLog], Context]:
    ctx = Context()
    app, logs = make_app(carrier or Twilio(auth_token=TOKEN), ctx, behaviour)
    async with (
        running(app) as base,
        TwilioCallSimulator(base, token, public_url=PUBLIC_URL) as sim,
    ):
        recording = await asyncio.wait_for(sim.call(script, **call_options), GUARD_S)
    return recording, logs, ctx


def sent_audio(script: Sequence[ScriptItem]) -> bytes:
    out = b""
    for item in script:
        if isinstance(item, Speech | Silence | Audio):
            out += b"".join(render(item))
    return out


def server_audio(log: StreamLog) -> bytes:
    return b"".join(base64.b64decode(e.payload) for e in log.of(MediaReceived))


def greeting(ms: int, chunk_ms: int = 200) -> Behaviour:
    """Play ``ms`` of tone, all at once in chunks with marks, as soon as the stream starts."""

    async def behaviour(handler: MediaHandler, event: CarrierEvent) -> None:
        if isinstance(event, StreamStarted):
            await handler.play(tone(ms, 300.0), chunk_ms=chunk_ms)

    return behaviour


def both(*behaviours: Behaviour) -> Behaviour:
    async def behaviour(handler: MediaHandler, event: CarrierEvent) -> Any:
        results = [await b(handler, event) for b in behaviours]
        return False if False in results else None

    return behaviour


async def test_a_call_streams_every_frame_in_order_and_the_server_sees_it_all() -> None:
    script: list[ScriptItem] = [Silence(ms=200), Speech(ms=400), Dtmf("5"), Silence(ms=210)]
    recording, [log], ctx = await place(script, caller="+15550001111", callee="+15550002222")

    assert recording.ended_by == "script"
    assert recording.webhook_status == 200 and recording.media_status == 101
    assert recording.stream_url == "wss://example.test/twilio/media"
    assert recording.parameters["caller"] == "+15550001111"
    assert recording.frames_sent == 10 + 20 + 11  # 210 ms is padded to 11 frames
    # The server decoded exactly the audio the script describes, none lost or reordered.
    assert server_audio(log) == sent_audio(script)
    started = log.of(StreamStarted)[0]
    assert started.call_id == recording.call_sid and started.stream_id == recording.stream_sid
    assert started.custom_parameters["callee"] == "+15550002222"
    assert ctx.tokens == {}  # the token was claimed
    assert [e.digit for e in log.of(DtmfReceived)] == ["5"]
    assert isinstance(log.events[-1], StreamStopped)
    # Wire shape: connected, then start numbered 1, then consecutive sequence numbers.
    assert log.raw[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert [int(m["sequenceNumber"]) for m in log.raw[1:]] == list(range(1, len(log.raw)))
    media = [m["media"] for m in log.raw if m["event"] == "media"]
    assert [int(m["chunk"]) for m in media] == list(range(1, 42))
    assert [int(m["timestamp"]) for m in media] == [20 * i for i in range(41)]
    assert {m["track"] for m in media} == {"inbound"}
    assert recording.protocol_errors == ()


async def test_marks_echo_only_after_the_audio_before_them_has_played() -> None:
    recording, [log], _ = await place([Silence(ms=1400)], greeting(1000))

    assert [m.name for m in recording.marks] == [f"m{i}" for i in range(1, 6)]
    for mark, chunk in zip(recording.marks, recording.chunks, strict=True):
        assert not mark.flushed
        assert mark.echoed_ms >= chunk.end_ms  # the simulator's own playback clock
    # And from the server's side of the socket: each echo came no sooner than the audio
    # queued before its mark needs to play.
    first = min(sent for sent, _ in log.sent_at.values())
    for name, (_, audio_ms) in log.sent_at.items():
        assert (log.echoed_at[name] - first) * 1000 >= audio_ms
    assert recording.heard_audio == tone(1000, 300.0)
    assert recording.heard_ms == 1000


async def test_clear_drops_buffered_audio_and_flushes_pending_marks() -> None:
    async def clear(handler: MediaHandler) -> None:
        await handler.clear()

    behaviour = both(greeting(10_000, chunk_ms=500), on_dtmf("#", clear))
    script: list[ScriptItem] = [Silence(ms=300), Dtmf("#"), Silence(ms=300)]
    recording, [log], _ = await place(script, behaviour)

    [cleared] = recording.clears
    assert recording.received_audio_ms == 10_000
    assert cleared.dropped_ms > 0
    assert recording.heard_ms == pytest.approx(cleared.played_ms, abs=0.2)
    assert recording.heard_ms + cleared.dropped_ms == pytest.approx(10_000, abs=0.2)
    assert recording.heard_audio == tone(10_000, 300.0)[: len(recording.heard_audio)]
    flushed = [m for m in recording.marks if m.flushed]
    assert flushed and [m.name for m in flushed] == list(cleared.flushed_marks)
    assert all(m.echoed_ms == cleared.t_ms for m in flushed)
    # Twilio echoes every mark once, played or flushed, and in order.
    assert [m.name for m in recording.marks] == [f"m{i}" for i in range(1, 21)]
    assert set(log.echoed_at) == set(log.sent_at)
    # Nothing plays after the clear: every chunk stopped by then.
    assert all(c.end_ms <= cleared.t_ms for c in recording.chunks)


async def test_audio_sent_after_a_clear_plays_again() -> None:
    async def clear_then_play(handler: MediaHandler) -> None:
        await handler.clear()
        await handler.play(tone(200, 500.0))

    behaviour = both(greeting(5000), on_dtmf("1", clear_then_play))
    recording, _, _ = await place([Silence(ms=200), Dtmf("1"), Silence(ms=1000)], behaviour)
    [cleared] = recording.clears
    after = [c for c in recording.chunks if c.received_ms >= cleared.t_ms]
    assert len(after) == 1 and after[0].played == 1600
    assert recording.heard_audio.endswith(tone(200, 500.0))
    assert not recording.marks[-1].flushed


async def test_echo_server_returns_every_frame_in_order() -> None:
    script: list[ScriptItem] = [Speech(ms=300, frequency_hz=700.0), Silence(ms=100)]
    recording, [log], _ = await place([*script, Silence(ms=600)], echo)
    # What the caller heard is a prefix of what it said (the tail may still be queued at stop).
    assert len(recording.heard_audio) >= len(sent_audio(script))
    assert sent_audio([*script, Silence(ms=600)]).startswith(recording.heard_audio)
    assert len(recording.chunks) == len(log.of(MediaReceived))


async def test_hangup_ends_the_call_early_with_stop() -> None:
    recording, [log], _ = await place([Silence(ms=100), Hangup(), Speech(ms=1000)])
    assert recording.ended_by == "hangup"
    assert recording.frames_sent == 5
    assert isinstance(log.events[-1], StreamStopped)


async def test_the_server_ending_the_call_is_recorded() -> None:
    async def hang_up(handler: MediaHandler) -> bool:
        return False

    recording, [log], _ = await place(
        [Silence(ms=100), Dtmf("0"), Silence(ms=5000)], on_dtmf("0", hang_up)
    )
    assert recording.ended_by == "server_closed"
    assert recording.close_code == 1000
    assert recording.close_reason == "call ended by the server"
    assert recording.frames_sent < 250
    assert not log.of(StreamStopped)  # Twilio sends no stop when the server closes


async def test_wait_for_agent_waits_for_the_greeting_to_finish_playing() -> None:
    script: list[ScriptItem] = [WaitForAgent(timeout_ms=5000, quiet_ms=200), Hangup()]
    recording, _, _ = await place(script, greeting(300, chunk_ms=100))
    assert recording.wait_timeouts == 0
    assert recording.heard_ms == 300
    assert recording.frames_sent * 20 >= 300 + 200


async def test_wait_for_agent_gives_up_at_its_timeout() -> None:
    recording, _, _ = await place([WaitForAgent(timeout_ms=200, quiet_ms=100)])
    assert recording.wait_timeouts == 1
    assert recording.frames_sent == 10


async def test_wav_file_audio_is_streamed_byte_for_byte(tmp_path: Path) -> None:
    audio = bytes(range(256)) * 5  # 1280 bytes = 160 ms of μ-law
    path = tmp_path / "caller.wav"
    path.write_bytes(ulaw_wav(audio))
    script: list[ScriptItem] = [Audio.from_wav(path)]
    recording, [log], _ = await place(script)
    assert server_audio(log) == audio
    assert recording.frames_sent == 8


async def test_bad_webhook_signature_gets_403_and_no_stream() -> None:
    recording, logs, ctx = await place([Silence(ms=100)], token="wrong-token")
    assert recording.ended_by == "webhook_rejected"
    assert recording.webhook_status == 403
    assert logs == [] and ctx.tokens == {}


async def test_unsigned_media_upgrade_is_refused_before_accept() -> None:
    recording, [log], _ = await place([Silence(ms=100)], sign_media=False)
    assert recording.ended_by == "media_rejected"
    assert recording.media_status == 403
    assert "X-Twilio-Signature" in log.refused
    assert log.events == []


async def test_forged_call_token_is_refused() -> None:
    recording, [log], _ = await place(
        [Silence(ms=2000)], custom_parameters={"call_token": "forged"}
    )
    assert recording.ended_by == "server_closed"
    assert recording.close_code == 1008
    assert log.refused == "bad call token"


async def test_unsigned_carrier_takes_unsigned_calls() -> None:
    recording, [log], _ = await place(
        [Silence(ms=100)],
        carrier=Twilio(allow_unsigned=True),
        sign_webhook=False,
        sign_media=False,
    )
    assert recording.ended_by == "script"
    assert len(log.of(MediaReceived)) == 5


async def test_concurrent_calls_lose_no_frames() -> None:
    ctx = Context()
    app, logs = make_app(Twilio(auth_token=TOKEN), ctx, echo)
    script: list[ScriptItem] = [Speech(ms=200), Silence(ms=200), Dtmf("7")]
    async with running(app) as base, TwilioCallSimulator(base, TOKEN, public_url=PUBLIC_URL) as sim:
        recordings = await asyncio.wait_for(
            asyncio.gather(*(sim.call(script) for _ in range(12))), GUARD_S
        )
    assert {r.ended_by for r in recordings} == {"script"}
    by_stream = {log.of(StreamStarted)[0].stream_id: log for log in logs}
    for recording in recordings:
        log = by_stream[recording.stream_sid]
        assert server_audio(log) == sent_audio(script)
        assert [e.digit for e in log.of(DtmfReceived)] == ["7"]
        assert recording.protocol_errors == ()


async def test_status_callbacks_from_the_simulator() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token=TOKEN), ctx)
    async with running(app) as base, TwilioCallSimulator(base, TOKEN, public_url=PUBLIC_URL) as sim:
        assert await sim.send_status("CA1", "completed", CallDuration="3") == 204
    async with running(app) as base, TwilioCallSimulator(base, "bad", public_url=PUBLIC_URL) as sim:
        assert await sim.send_status("CA2", "completed") == 403
    assert [(c, s) for c, s, _ in ctx.statuses] == [("CA1", "completed")]


def ulaw_wav(audio: bytes) -> bytes:
    fmt = (7).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    fmt += (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    body += b"data" + len(audio).to_bytes(4, "little") + audio
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def test_silence_is_ulaw_silence() -> None:
    assert render(Silence(ms=40)) == [SILENT_FRAME, SILENT_FRAME]
    assert set(SILENT_FRAME) == {0xFF}
