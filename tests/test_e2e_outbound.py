"""Outbound calls end to end: phone.call → Twilio's REST API (local fake) → our webhooks → a call.

The fake REST API behaves like Twilio: it records the exact request, posts signed status and
answering-machine callbacks to our server, and when the call is answered it dials our media
stream with the call simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import API_KEY, PUBLIC_URL
from patter_openai_realtime import OpenAIRealtimeAdapter
from patter_openai_realtime.testing import CallTool, FakeRealtimeServer, Say
from patter_twilio import Twilio
from patter_twilio.testing import CallPlan, FakeTwilioApi, Silence, WaitForAgent

from patter_core import CallSetupError, Patter
from patter_core.outbound import CallOutcome
from patter_core.server import RunningServer, running

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "outbound-token"
OUR_NUMBER = "+15555550100"


@attrs.define
class OutboundRig:
    model: FakeRealtimeServer
    api: FakeTwilioApi
    phone: Patter
    server: RunningServer
    agent: Any


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[OutboundRig]:
    async with (
        FakeRealtimeServer(api_key=API_KEY, validate=True) as model,
        FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as api,
    ):
        carrier = Twilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=api.base_url)
        phone = Patter(carrier=carrier, phone_number=OUR_NUMBER, call_log=tmp_path / "calls")
        agent = phone.agent(
            engine=OpenAIRealtimeAdapter(
                api_key=API_KEY,
                model="gpt-realtime-2",
                voice="marin",
                input_audio_transcription_model="gpt-realtime-whisper",
                base_url=model.url,
            ),
            first_message="Hi, this is Bella's Bakery calling about your order.",
            transfer_call=True,
        )
        async with running(phone, agent, public_url=PUBLIC_URL) as server:
            api.server_url = server.base_url
            yield OutboundRig(model, api, phone, server, agent)
        model.assert_clean()


async def test_an_answered_outbound_call_runs_the_agent_and_reports_the_outcome(
    rig: OutboundRig,
) -> None:
    rig.model.reply(Say("Hi, this is Bella's Bakery calling about your order."))
    rig.api.plans["+15557654321"] = CallPlan("human", script=(WaitForAgent(),))
    outcome: CallOutcome = await rig.phone.call(
        "+15557654321", agent=rig.agent, machine_detection=True, ring_timeout=25, wait=True
    )
    [create] = [r for r in rig.api.requests if r.path.endswith("/Calls.json")]
    form = create.fields()
    assert create.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert form["To"] == "+15557654321" and form["From"] == OUR_NUMBER
    assert form["Url"] == f"{PUBLIC_URL}/twilio/voice" and form["Method"] == "POST"
    assert form["StatusCallback"] == f"{PUBLIC_URL}/twilio/status"
    assert create.getlist("StatusCallbackEvent") == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert form["Timeout"] == "25"
    assert form["MachineDetection"] == "Enable" and form["AsyncAmd"] == "true"
    assert outcome.outcome == "answered" and outcome.answered_by == "human"
    assert outcome.statuses[-1] == "completed"
    assert outcome.result is not None
    assert outcome.result.call is not None and outcome.result.call.direction == "outbound-api"
    assert [(e.role, e.text) for e in outcome.result.transcript] == [
        ("agent", "Hi, this is Bella's Bakery calling about your order.")
    ]
    # Priced as an outbound leg: $0.013 per started minute.
    assert outcome.result.cost is not None
    assert str(outcome.result.cost.carrier) == "0.013"


async def test_a_machine_gets_the_voicemail_message_then_the_call_ends(rig: OutboundRig) -> None:
    machines: list[Any] = []
    rig.model.reply(Say("Hi, this is Bella's Bakery calling about your order."))
    rig.model.reply(Say("Your order is ready. Call us back any time."))
    rig.api.plans["+15557654321"] = CallPlan(
        "machine", script=(Silence(ms=8000),), answered_by="machine_end_beep"
    )
    outcome = await rig.phone.call(
        "+15557654321",
        agent=rig.agent,
        machine_detection=True,
        voicemail_message="Your order is ready. Call us back any time.",
        on_machine=machines.append,
        wait=True,
    )
    assert outcome.outcome == "voicemail" and outcome.answered_by == "machine_end_beep"
    assert len(machines) == 1
    assert outcome.result is not None and outcome.result.end_reason == "left a voicemail"
    said = [e["response"].get("instructions", "") for e in rig.model.of_type("response.create")]
    assert any("Your order is ready. Call us back any time." in s for s in said)


@pytest.mark.parametrize("plan", ["busy", "no-answer", "failed"])
async def test_unanswered_calls_report_why_and_start_no_session(
    rig: OutboundRig, plan: str
) -> None:
    rig.api.plans["+15557654321"] = CallPlan(plan)  # type: ignore[arg-type]
    outcome = await rig.phone.call("+15557654321", agent=rig.agent, wait=True)
    assert outcome.outcome == plan
    assert outcome.result is None
    assert rig.model.connections == []


async def test_the_model_can_transfer_the_call(rig: OutboundRig) -> None:
    rig.model.reply(Say("Hi, this is Bella's Bakery calling about your order."))
    rig.model.caller_says("Can I talk to a person?")
    rig.model.reply(
        Say("Of course, transferring you now."), CallTool("transfer_call", {"to": "+15550001234"})
    )
    from patter_twilio.testing import Speech

    rig.api.plans["+15557654321"] = CallPlan(
        "human", script=(WaitForAgent(), Speech(ms=600), Silence(ms=700), Silence(ms=4000))
    )
    outcome = await rig.phone.call("+15557654321", agent=rig.agent, wait=True)
    [fake_call] = rig.api.calls.values()
    assert fake_call.transferred_to == "+15550001234"
    assert outcome.result is not None
    assert outcome.result.end_reason == "transferred to +15550001234"


async def test_calling_without_a_running_server_says_what_to_do(tmp_path: Path) -> None:
    phone = Patter(carrier=Twilio(auth_token=AUTH_TOKEN), phone_number=OUR_NUMBER, call_log=False)
    agent = phone.agent(
        engine=OpenAIRealtimeAdapter(
            api_key=API_KEY,
            model="gpt-realtime-2",
            voice="marin",
            input_audio_transcription_model="gpt-realtime-whisper",
        )
    )
    with pytest.raises(CallSetupError, match="server running"):
        await phone.call("+15557654321", agent=agent)
