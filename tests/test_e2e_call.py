"""Whole calls over real sockets: simulated Twilio caller → our server → fake OpenAI Realtime.

Every hop is a real HTTP or WebSocket connection on 127.0.0.1, speaking the real protocols.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import API_KEY, AUTH_TOKEN, PUBLIC_URL
from patter_openai_realtime import OpenAIRealtimeAdapter
from patter_openai_realtime.testing import CallTool, Disconnect, FakeRealtimeServer, Say
from patter_twilio import Twilio
from patter_twilio.testing import (
    Audio,
    Dtmf,
    Hangup,
    Silence,
    Speech,
    TwilioCallSimulator,
    WaitForAgent,
)

from patter_core import Patter, PatterWarning, Tool
from patter_core.records import CallResult
from patter_core.server import running


async def test_greeting_is_heard(make_rig: Callable[..., Any]) -> None:
    async with make_rig(first_message="Hi, how can I help today?") as rig:
        rig.model.reply(Say("Hi, how can I help today?"))
        recording = await rig.sim.call([WaitForAgent(), Hangup()])
        [result] = await rig.wait_ended()
    assert recording.heard_ms > 500
    assert recording.ended_by == "hangup"
    [create] = [e for e in rig.model.of_type("response.create")]
    assert "Hi, how can I help today?" in create["response"]["instructions"]
    assert [(e.role, e.text) for e in result.transcript] == [("agent", "Hi, how can I help today?")]
    assert result.end_reason == "caller hung up"
    assert result.cost is not None and result.cost.total > 0


async def test_a_user_turn_is_answered_in_order(make_rig: Callable[..., Any]) -> None:
    async with make_rig(first_message="Hello!") as rig:
        rig.model.reply(Say("Hello!"))
        rig.model.caller_says("When do you open?")
        rig.model.reply(Say("We open at nine."))
        recording = await rig.sim.call(
            [WaitForAgent(), Speech(ms=700), Silence(ms=800), WaitForAgent(), Hangup()]
        )
        [result] = await rig.wait_ended()
    lines = [(e.role, e.text) for e in result.transcript if e.final]
    assert lines == [
        ("agent", "Hello!"),
        ("user", "When do you open?"),
        ("agent", "We open at nine."),
    ]
    assert recording.heard_ms >= (len("Hello!") + len("We open at nine.")) * 40 - 40
    assert result.transcription_seconds > 0


async def test_barge_in_after_response_done_truncates_at_what_was_heard(
    make_rig: Callable[..., Any],
) -> None:
    long_answer = "Our opening hours are nine to five on weekdays and ten to four on weekends."
    async with make_rig() as rig:
        rig.model.caller_says("When do you open?", "Sorry, one more thing")
        rig.model.reply(Say(long_answer))  # ~3 s of audio, generated far faster than real time
        rig.model.reply(Say("Sure."))
        recording = await rig.sim.call(
            [
                Speech(ms=600),
                Silence(ms=700),  # end of turn: the answer starts streaming
                Silence(ms=1200),  # the caller listens for a while...
                Speech(ms=600),  # ...then talks over the agent
                Silence(ms=800),
                WaitForAgent(),
                Hangup(),
            ]
        )
        [result] = await rig.wait_ended()
    truncate = rig.model.of_type("conversation.item.truncate")
    assert len(truncate) == 1, rig.model.events
    assert len(recording.clears) == 1
    clear = recording.clears[0]
    heard_at_clear = clear.played_ms
    assert clear.dropped_ms > 0  # the clear really cut queued audio
    assert abs(truncate[0]["audio_end_ms"] - heard_at_clear) <= 40, (
        truncate[0],
        heard_at_clear,
    )
    # The answer had finished generating (response.done, completed) before the barge-in.
    sent = [e["type"] for e in rig.model.sent]
    answer_done = next(
        i
        for i, e in enumerate(rig.model.sent)
        if e["type"] == "response.done" and e["response"]["status"] == "completed"
    )
    barge_in = [i for i, t in enumerate(sent) if t == "input_audio_buffer.speech_started"][1]
    assert answer_done < barge_in
    agent_lines = [e for e in result.transcript if e.role == "agent"]
    assert agent_lines[0].interrupted


async def test_no_clear_or_truncate_when_nothing_is_playing(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        rig.model.caller_says("Hello?")
        rig.model.reply(Say("Hi."))
        recording = await rig.sim.call(
            [
                Speech(ms=600),
                Silence(ms=700),
                WaitForAgent(),
                Speech(ms=500),
                Silence(ms=700),
                WaitForAgent(),
                Hangup(),
            ]
        )
        await rig.wait_ended()
    assert recording.clears == ()
    assert rig.model.of_type("conversation.item.truncate") == []


async def test_dtmf_reaches_the_engine_as_user_input(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        recording = await rig.sim.call([Silence(ms=200), Dtmf("7"), Silence(ms=300), Hangup()])
        items = await rig.model.wait_for("conversation.item.create")
        await rig.wait_ended()
    assert [digit for _, digit in recording.dtmf_sent] == ["7"]
    assert "7" in items["item"]["content"][0]["text"]


async def test_a_tool_call_is_answered_and_the_agent_continues(
    make_rig: Callable[..., Any],
) -> None:
    calls: list[dict[str, Any]] = []

    def opening_hours(arguments: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        calls.append({"arguments": arguments, "context": context})
        return {"day": arguments["day"], "hours": "9-17"}

    tool = Tool(
        name="opening_hours",
        description="Opening hours for a day of the week.",
        parameters={"type": "object", "properties": {"day": {"type": "string"}}},
        handler=opening_hours,
    )
    async with make_rig(tools=(tool,)) as rig:
        rig.model.caller_says("Are you open on Monday?")
        rig.model.reply(CallTool("opening_hours", {"day": "monday"}))
        rig.model.reply(Say("Yes, from nine to five."))
        await rig.sim.call([Speech(ms=600), Silence(ms=700), WaitForAgent(), Hangup()])
        [result] = await rig.wait_ended()
    [output] = [
        e
        for e in rig.model.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]
    assert '"hours": "9-17"' in output["item"]["output"]
    assert calls[0]["arguments"] == {"day": "monday"}
    assert calls[0]["context"]["caller"] == "+15551230000"
    assert ("agent", "Yes, from nine to five.") in [(e.role, e.text) for e in result.transcript]


async def test_bad_webhook_signature_gets_403_and_no_engine_session(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        recording = await rig.sim.call([Silence(ms=100)], sign_webhook=False)
    assert recording.webhook_status == 403
    assert recording.ended_by == "webhook_rejected"
    assert rig.model.connections == []


async def test_unsigned_media_websocket_is_refused(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        recording = await rig.sim.call([Silence(ms=100)], sign_media=False)
    assert recording.ended_by == "media_rejected"
    assert rig.model.connections == []
    assert rig.ended == []


async def test_forged_call_token_is_refused_before_any_engine_session(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        recording = await rig.sim.call(
            [Silence(ms=300)], custom_parameters={"call_token": "forged"}
        )
    assert recording.ended_by == "server_closed"
    assert rig.model.connections == []


async def test_engine_dropping_mid_call_ends_the_call_and_the_server_keeps_serving(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig(first_message="Hello there, welcome.") as rig:
        rig.model.reply(Say("Hello there, welcome."), Disconnect())
        first = await rig.sim.call([Silence(ms=3000)])
        [ended] = await rig.wait_ended()
        rig.model.reply(Say("Hello again."))
        second = await rig.sim.call([WaitForAgent(), Hangup()])
        await rig.wait_ended(2)
    assert first.ended_by == "server_closed"
    assert ended.end_reason.startswith("engine connection closed")
    assert second.ended_by == "hangup"
    assert second.heard_ms > 0


async def test_raising_callbacks_never_break_the_call(make_rig: Callable[..., Any]) -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("callback bug")

    async with make_rig(first_message="Hi.") as rig:
        rig.server.server.agent = attrs.evolve(
            rig.server.server.agent, on_call_start=boom, on_transcript=boom
        )
        rig.model.reply(Say("Hi."))
        recording = await rig.sim.call([WaitForAgent(), Hangup()])
        [result] = await rig.wait_ended()
    assert recording.heard_ms > 0
    assert result.end_reason == "caller hung up"


def _numbered_frames(call: int, frames: int) -> bytes:
    """μ-law audio whose every 20 ms frame is unique to (call, frame index)."""
    out = bytearray()
    for k in range(frames):
        header = f"{call:03d}:{k:05d}:".encode()
        out += header + bytes([0x7F]) * (160 - len(header))
    return bytes(out)


async def test_twenty_concurrent_calls_lose_and_reorder_no_frame(
    make_rig: Callable[..., Any],
) -> None:
    frames = 100  # 2 s per call
    fake = FakeRealtimeServer(api_key=API_KEY, echo=True)
    async with make_rig(fake=fake, turn_detection=None) as rig:
        recordings = await asyncio.gather(
            *(
                rig.sim.call([Audio(_numbered_frames(i, frames)), Silence(ms=600)])
                for i in range(20)
            )
        )
        await rig.wait_ended(20)
    # Caller → engine: every frame of every call arrived once, in order, untouched.
    per_call: dict[bytes, list[bytes]] = {}
    for event in fake.of_type("input_audio_buffer.append"):
        frame = base64.b64decode(event["audio"])
        if frame[3:4] == b":":  # the numbered frames (the trailing silence is 0xFF)
            per_call.setdefault(frame[:3], []).append(frame)
    for i, recording in enumerate(recordings):
        sent = _numbered_frames(i, frames)
        assert b"".join(per_call[f"{i:03d}".encode()]) == sent
        # Engine → caller: the echo came back whole and in order.
        heard = b"".join(
            base64.b64decode(r.message["media"]["payload"])
            for r in recording.received
            if r.event == "media"
        )
        assert heard[: len(sent)] == sent


# Prices typed from the OpenAI and Twilio price lists (USD; tokens per 1M, else per minute).
HAND_PRICES = {
    "gpt-realtime-mini": {"text": ("0.60", "0.06", "2.40"), "audio": ("10.00", "0.30", "20.00")},
    "gpt-realtime-2": {"text": ("4.00", "0.40", "24.00"), "audio": ("32.00", "0.40", "64.00")},
}
WHISPER_PER_MIN = Decimal("0.017")
TWILIO_INBOUND_PER_MIN = Decimal("0.0085")


def _hand_engine_cost(usages: list[dict[str, Any]], prices: dict[str, tuple[str, ...]]) -> Decimal:
    """Σ (uncached·in + cached·cached + out·out) per kind, per 1M tokens."""
    total = Decimal(0)
    for usage in usages:
        details = usage["input_token_details"]
        cached = details["cached_tokens_details"]
        out = usage["output_token_details"]
        for kind in ("text", "audio"):
            p_in, p_cached, p_out = (Decimal(v) for v in prices[kind])
            uncached = details[f"{kind}_tokens"] - cached[f"{kind}_tokens"]
            total += (
                uncached * p_in
                + cached[f"{kind}_tokens"] * p_cached
                + out[f"{kind}_tokens"] * p_out
            ) / Decimal(1_000_000)
    return total


@pytest.mark.parametrize(
    ("model", "override"),
    [
        ("gpt-realtime-2", None),
        ("gpt-realtime-mini", None),
        ("gpt-realtime-2", {"audio": ("30.00", "0.40", "60.00")}),
    ],
)
async def test_cost_of_a_scripted_call_matches_a_hand_computation(
    tmp_path: Path, model: str, override: dict[str, tuple[str, ...]] | None
) -> None:
    prices = {**HAND_PRICES[model], **(override or {})}
    pricing = None
    if override:
        p_in, p_cached, p_out = override["audio"]
        pricing = {
            "openai_realtime": {
                "models": {
                    model: {
                        "audio_input": p_in,
                        "audio_cached_input": p_cached,
                        "audio_output": p_out,
                    }
                }
            }
        }
    ended: list[CallResult] = []
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as fake:
        phone = Patter(
            carrier=Twilio(auth_token=AUTH_TOKEN), pricing=pricing, call_log=tmp_path / "calls"
        )
        engine = OpenAIRealtimeAdapter(
            api_key=API_KEY,
            model=model,
            voice="marin",
            input_audio_transcription_model="gpt-realtime-whisper",
            base_url=fake.url,
        )
        if model == "gpt-realtime-mini":  # scheduled to shut down: building it warns
            with pytest.warns(PatterWarning, match="2027-01-20"):
                agent = phone.agent(engine=engine, first_message="Hi.", on_call_end=ended.append)
        else:
            agent = phone.agent(engine=engine, first_message="Hi.", on_call_end=ended.append)
        fake.reply(Say("Hi."))
        fake.caller_says("What is the price?")
        fake.reply(Say("It costs ten dollars."))
        async with (
            running(phone, agent, public_url=PUBLIC_URL) as server,
            TwilioCallSimulator(server.base_url, AUTH_TOKEN, public_url=PUBLIC_URL) as sim,
        ):
            await sim.call(
                [WaitForAgent(), Speech(ms=700), Silence(ms=800), WaitForAgent(), Hangup()]
            )
            async with asyncio.timeout(10):
                while not ended:
                    await asyncio.sleep(0.02)
    [result] = ended
    usages = [e["response"]["usage"] for e in fake.sent if e["type"] == "response.done"]
    seconds = sum(
        e["usage"]["seconds"]
        for e in fake.sent
        if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert len(usages) == 2 and seconds > 0
    engine_cost = _hand_engine_cost(usages, prices)
    transcription = Decimal(math.ceil(seconds)) * WHISPER_PER_MIN / 60  # billed per second
    carrier = math.ceil(result.duration_s / 60) * TWILIO_INBOUND_PER_MIN  # per started minute
    assert result.cost is not None
    assert result.cost.engine == engine_cost
    assert result.cost.transcription == transcription
    assert result.cost.carrier == carrier
    assert result.cost.total == engine_cost + transcription + carrier
    # The metrics split the same bill per turn: the greeting (turn 0) and the answer (turn 1).
    assert result.metrics is not None
    assert [t.index for t in result.metrics.turns] == [0, 1]
    assert sum(t.cost for t in result.metrics.turns) == engine_cost
    assert result.metrics.turns[1].user_text == "What is the price?"
    assert result.metrics.turns[1].latency_ms is not None and result.metrics.turns[1].latency_ms > 0
    # And the call landed in the call log.
    [line] = (tmp_path / "calls").glob("calls-*.jsonl")
    record = json.loads(line.read_text().splitlines()[-1])
    assert result.call is not None and record["call_id"] == result.call.call_id
    assert Decimal(record["cost"]["total"]) == result.cost.total
