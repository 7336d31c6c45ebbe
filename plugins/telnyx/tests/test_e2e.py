"""Whole calls over real sockets: the fake Telnyx network → our server → fake OpenAI Realtime.

Every hop is a real HTTP or WebSocket connection on 127.0.0.1: signed Call Control
webhooks, REST commands to the fake Telnyx API, the media stream on a real 20 ms clock,
and the OpenAI Realtime protocol to its fake server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
from patter_telnyx import Telnyx
from patter_telnyx.testing import FakeTelnyx

from patter_core import Patter
from patter_core.records import CallResult
from patter_core.server import RunningServer, running
from patter_core.simulation import Dtmf, Hangup, Silence, Speech, WaitForAgent

realtime = pytest.importorskip(
    "patter_openai_realtime.testing", reason="the e2e tests need patter-openai-realtime"
)
from patter_openai_realtime import OpenAIRealtimeAdapter  # noqa: E402

PUBLIC_URL = "https://agent.example.test"
API_KEY = "sk-test-telnyx-e2e"
GREETING = "Hi, how can I help today?"
LONG = "Our opening hours are nine to five on weekdays and ten to four on weekends."


@attrs.define
class Rig:
    model: Any  # FakeRealtimeServer
    fake: FakeTelnyx
    server: RunningServer
    ended: list[CallResult]
    phone: Patter
    agent: Any

    async def wait_ended(self, count: int = 1) -> list[CallResult]:
        async with asyncio.timeout(15):  # a hang guard, not a timing assertion
            while len(self.ended) < count:
                await asyncio.sleep(0.02)
        return self.ended


@pytest.fixture
def make_rig() -> Callable[..., contextlib.AbstractAsyncContextManager[Rig]]:
    @contextlib.asynccontextmanager
    async def rig(first_message: str = "") -> AsyncIterator[Rig]:
        ended: list[CallResult] = []
        async with (
            realtime.FakeRealtimeServer(api_key=API_KEY, validate=True) as model,
            FakeTelnyx() as fake,
        ):
            phone = Patter(carrier=Telnyx(**fake.carrier_options()), call_log=False)
            engine = OpenAIRealtimeAdapter(
                api_key=API_KEY,
                base_url=model.url,
                model="gpt-realtime-2",
                voice="marin",
                input_audio_transcription_model="gpt-realtime-whisper",
            )
            agent = phone.agent(
                engine=engine,
                system_prompt="You are a test agent.",
                first_message=first_message,
                on_call_end=ended.append,
            )
            async with running(phone, agent, public_url=PUBLIC_URL) as server:
                fake.attach(server.base_url)
                yield Rig(model, fake, server, ended, phone, agent)
            model.assert_clean()

    return rig


async def test_greeting_is_heard_then_the_caller_hangs_up(make_rig: Callable[..., Any]) -> None:
    async with make_rig(first_message=GREETING) as rig:
        rig.model.reply(realtime.Say(GREETING))
        outcome = await rig.fake.call([WaitForAgent(), Hangup()])
        [result] = await rig.wait_ended()
    assert outcome.ended_by == "hangup" and outcome.webhook_status == 200
    assert outcome.stream is not None
    assert outcome.stream.heard_ms >= len(GREETING) * 40 - 40  # the fake speaks 40 ms a char
    assert outcome.stream.marks_echoed > 0 and outcome.stream.clears == ()
    assert outcome.stream.protocol_errors == ()
    assert [(e.role, e.text) for e in result.transcript] == [("agent", GREETING)]
    assert result.end_reason == "caller hung up"
    assert result.cost is not None and result.cost.total > 0
    assert rig.model.of_type("conversation.item.truncate") == []
    events = [event for call_id, event, _ in rig.fake.webhooks if call_id == outcome.call_id]
    assert events[:2] == ["call.initiated", "call.answered"]
    assert "call.hangup" in events
    assert all(status == 200 for _, _, status in rig.fake.webhooks)


async def test_barge_in_clears_telnyx_and_truncates_at_what_was_heard(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig(first_message=LONG) as rig:
        rig.model.reply(realtime.Say(LONG))  # ~3 s of audio, generated faster than real time
        rig.model.caller_says("Sorry, one more thing")
        rig.model.reply(realtime.Say("Sure."))
        outcome = await rig.fake.call(
            [Silence(1200), Speech(600), Silence(800), WaitForAgent(), Hangup()]
        )
        [result] = await rig.wait_ended()
    assert outcome.stream is not None
    [clear] = outcome.stream.clears
    assert clear.dropped_ms > 0  # the clear really cut audio still queued at Telnyx
    [truncate] = rig.model.of_type("conversation.item.truncate")
    assert abs(truncate["audio_end_ms"] - clear.heard_ms) <= 60, (truncate, clear)
    agent_lines = [e for e in result.transcript if e.role == "agent"]
    assert agent_lines[0].interrupted
    assert ("user", "Sorry, one more thing") in [(e.role, e.text) for e in result.transcript]
    assert outcome.ended_by == "hangup"


async def test_a_key_press_reaches_the_engine(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        outcome = await rig.fake.call([Silence(200), Dtmf("7"), Silence(300), Hangup()])
        item = await rig.model.wait_for("conversation.item.create")
        await rig.wait_ended()
    assert outcome.stream is not None and outcome.stream.dtmf_sent == ("7",)
    assert "7" in item["item"]["content"][0]["text"]


async def test_a_forged_signature_is_rejected_and_no_engine_session_opens(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig(first_message=GREETING) as rig:
        outcome = await rig.fake.call([Silence(500), Hangup()], webhook_auth="forged")
        await asyncio.sleep(0.2)  # let anything that wrongly started show itself
        calls = list(rig.server.server.calls)
    assert (outcome.ended_by, outcome.webhook_status) == ("webhook_rejected", 403)
    assert rig.model.connections == []
    assert rig.fake.api.requests == []  # no answer command: no call token was issued
    assert calls == [] and rig.ended == []


async def test_a_forged_media_url_never_becomes_a_call(make_rig: Callable[..., Any]) -> None:
    async with make_rig(first_message=GREETING) as rig:
        outcome = await rig.fake.call([Silence(500), Hangup()], media_auth="forged")
    assert (outcome.ended_by, outcome.media_status) == ("media_rejected", 403)
    assert rig.model.connections == []
    # Telnyx reports the failed stream; the carrier hangs the silent call up.
    assert [r.action for r in rig.fake.api.commands(outcome.call_id)] == ["answer", "hangup"]


async def test_an_outbound_call_is_dialled_streamed_and_reported(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig(first_message=GREETING) as rig:
        rig.model.reply(realtime.Say(GREETING))
        rig.fake.answer_with("+15555550123", [WaitForAgent(), Hangup()])
        async with asyncio.timeout(20):  # a hang guard, not a timing assertion
            outcome = await rig.phone.call(
                "+15555550123", agent=rig.agent, from_="+15555550100", wait=True
            )
    assert outcome.outcome == "answered"
    assert outcome.statuses[:2] == ("initiated", "in-progress")
    assert "completed" in outcome.statuses
    assert outcome.result is not None
    assert [(e.role, e.text) for e in outcome.result.transcript] == [("agent", GREETING)]
    actions = [r.action for r in rig.fake.api.commands(outcome.call_id)]
    assert actions == ["dial", "streaming_start"]
