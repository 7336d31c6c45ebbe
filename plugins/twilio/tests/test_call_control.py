"""Call control (dial, hang-up, transfer) through the twilio REST client against FakeTwilioApi.

Everything runs over real sockets on 127.0.0.1: the carrier's `twilio.rest.Client` talks to
the fake REST API, which rings the small test app with signed callbacks and media streams.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from patter_twilio import Twilio, TwilioApiError
from patter_twilio.plugin import CARRIER_SPEC
from patter_twilio.testing import (
    CallPlan,
    FakeCall,
    FakeTwilioApi,
    Hangup,
    Silence,
    Speech,
    WaitForAgent,
)
from twilio.request_validator import RequestValidator
from twilio_test_app import PUBLIC_URL, TOKEN, Context, MediaHandler, StreamLog, make_app, running

from patter_core.carrier import (
    CarrierEvent,
    DialRequest,
    MediaReceived,
    StreamStarted,
    StreamStopped,
)
from patter_core.errors import ConfigError, PatterError

GUARD_S = 30  # hang guard only: a healthy test finishes in a few seconds
ACCOUNT = "AC" + "0123456789abcdef" * 2
OURS = "+15555550100"
CALLEE = "+15551230000"
VOICE = PUBLIC_URL + "/twilio/voice"
STATUS = PUBLIC_URL + "/twilio/status"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
EVENTS = ["initiated", "ringing", "answered", "completed"]
LONG_CALL = [Silence(ms=60_000)]  # kept up until the test ends it through the API


def request(**options: object) -> DialRequest:
    return DialRequest(to=CALLEE, from_=OURS, answer_url=VOICE, status_url=STATUS, **options)  # type: ignore[arg-type]


class Rig:
    """The fake Twilio API, the test app behind it, and a carrier pointed at both."""

    def __init__(self, api: FakeTwilioApi, carrier: Twilio, ctx: Context, logs: list[StreamLog]):
        self.api, self.carrier, self.ctx, self.logs = api, carrier, ctx, logs

    async def dial(self, plan: CallPlan | None = None, **options: object) -> FakeCall:
        if plan is not None:
            self.api.plans[CALLEE] = plan
        sid = await asyncio.wait_for(self.carrier.dial(request(**options)), GUARD_S)
        return self.api.call(sid)

    async def finished(self, call: FakeCall) -> FakeCall:
        return await asyncio.wait_for(self.api.finished(call.sid), GUARD_S)

    def reported(self, call: FakeCall) -> list[tuple[str, dict[str, str]]]:
        return [(status, details) for sid, status, details in self.ctx.statuses if sid == call.sid]


@asynccontextmanager
async def rig(behaviour: object = None) -> AsyncIterator[Rig]:
    async with FakeTwilioApi(ACCOUNT, TOKEN) as api:
        carrier = Twilio(account_sid=ACCOUNT, auth_token=TOKEN, api_base_url=api.base_url)
        ctx = Context()
        app, logs = make_app(carrier, ctx, behaviour)  # type: ignore[arg-type]
        try:
            async with running(app) as base:
                api.server_url = base
                yield Rig(api, carrier, ctx, logs)
        finally:
            await carrier.aclose()


def pairs(form: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return sorted(form)


# ---------------------------------------------------------------------- what is sent


async def test_dial_sends_exactly_the_documented_create_parameters() -> None:
    async with rig() as r:
        call = await r.dial(CallPlan("busy"))
        await r.finished(call)
    [sent] = r.api.requests
    assert (sent.method, sent.path, sent.status_code) == ("POST", CALLS, 201)
    assert pairs(sent.form) == sorted(
        [
            ("To", CALLEE),
            ("From", OURS),
            ("Url", VOICE),
            ("Method", "POST"),
            ("StatusCallback", STATUS),
            *[("StatusCallbackEvent", event) for event in EVENTS],
            ("StatusCallbackMethod", "POST"),
            ("Timeout", "30"),
        ]
    )
    assert sent.getlist("StatusCallbackEvent") == EVENTS  # repeated, in order
    assert call.sid.startswith("CA") and len(call.sid) == 34


async def test_dial_with_machine_detection_and_limits_adds_amd_and_time_limit() -> None:
    async with rig() as r:
        call = await r.dial(
            CallPlan("no-answer"), machine_detection=True, ring_timeout_s=25, time_limit_s=600
        )
        await r.finished(call)
    [sent] = r.api.requests
    fields = sent.fields()
    assert fields["Timeout"] == "25"
    assert fields["TimeLimit"] == "600"
    assert fields["MachineDetection"] == "Enable"
    assert fields["AsyncAmd"] == "true"
    assert fields["AsyncAmdStatusCallback"] == STATUS
    assert fields["AsyncAmdStatusCallbackMethod"] == "POST"
    assert len(sent.form) == 16  # the 11 fields of a plain dial, plus these five


async def test_hang_up_updates_status_completed_and_ends_the_stream() -> None:
    started = asyncio.Event()

    async def behaviour(handler: MediaHandler, event: CarrierEvent) -> None:
        if isinstance(event, StreamStarted):
            started.set()

    async with rig(behaviour) as r:
        call = await r.dial(CallPlan(script=LONG_CALL))
        await asyncio.wait_for(started.wait(), GUARD_S)
        await asyncio.wait_for(r.carrier.hang_up(call.sid), GUARD_S)
        await r.finished(call)
    update = r.api.requests[-1]
    assert (update.method, update.path) == ("POST", CALLS.replace(".json", f"/{call.sid}.json"))
    assert update.form == (("Status", "completed"),)
    assert call.recording is not None and call.recording.ended_by == "api"
    [log] = r.logs
    assert isinstance(log.events[-1], StreamStopped)  # Twilio sent stop, the server saw it
    status, details = r.reported(call)[-1]
    assert status == "completed" and int(details["CallDuration"]) >= 1


async def test_transfer_sends_dial_twiml_and_ends_the_stream() -> None:
    started = asyncio.Event()

    async def behaviour(handler: MediaHandler, event: CarrierEvent) -> None:
        if isinstance(event, StreamStarted):
            started.set()

    async with rig(behaviour) as r:
        call = await r.dial(CallPlan(script=LONG_CALL))
        await asyncio.wait_for(started.wait(), GUARD_S)
        await asyncio.wait_for(r.carrier.transfer(call.sid, "+442071838750"), GUARD_S)
        await r.finished(call)
    update = r.api.requests[-1]
    assert update.path.endswith(f"/Calls/{call.sid}.json")
    assert update.form == (("Twiml", "<Response><Dial>+442071838750</Dial></Response>"),)
    assert call.transferred_to == "+442071838750"
    assert call.recording is not None and call.recording.ended_by == "api"
    assert isinstance(r.logs[0].events[-1], StreamStopped)


@pytest.mark.parametrize(
    "bad", ["", "5551230000", "+05551230000", "+1", "+1234567890123456", "+1 555 123 0000"]
)
async def test_transfer_target_must_be_e164_and_nothing_is_sent(bad: str) -> None:
    async with FakeTwilioApi(ACCOUNT, TOKEN) as api:
        carrier = Twilio(account_sid=ACCOUNT, auth_token=TOKEN, api_base_url=api.base_url)
        with pytest.raises(ConfigError) as info:
            await carrier.transfer("CA" + "1" * 32, bad)
        await carrier.aclose()
    assert repr(bad) in str(info.value)
    assert "E.164" in str(info.value) and "+15551230000" in str(info.value)
    assert api.requests == []


# ---------------------------------------------------------------------- errors


async def test_a_wrong_token_is_401_mapped_without_the_token() -> None:
    async with FakeTwilioApi(ACCOUNT, TOKEN) as api:
        wrong = "wrong-token-that-must-not-leak-42"
        carrier = Twilio(account_sid=ACCOUNT, auth_token=wrong, api_base_url=api.base_url)
        with pytest.raises(TwilioApiError) as info:
            await asyncio.wait_for(carrier.dial(request()), GUARD_S)
        await carrier.aclose()
    error = info.value
    assert isinstance(error, PatterError)
    assert (error.status, error.code) == (401, 20003)
    assert "HTTP 401" in str(error) and "20003" in str(error) and "Authenticate" in str(error)
    assert wrong not in str(error) and TOKEN not in str(error)
    assert api.requests[0].status_code == 401 and api.calls == {}


async def test_twilio_errors_keep_status_code_and_message_but_never_the_token() -> None:
    async with FakeTwilioApi(ACCOUNT, TOKEN) as api:
        carrier = Twilio(account_sid=ACCOUNT, auth_token=TOKEN, api_base_url=api.base_url)
        api.fail_next(400, 21211, f"The 'To' number {CALLEE} is not a valid phone number.")
        api.fail_next(400, 21220, f"echoing a secret back: {TOKEN}")
        with pytest.raises(TwilioApiError) as invalid:
            await asyncio.wait_for(carrier.dial(request()), GUARD_S)
        with pytest.raises(TwilioApiError) as echoed:
            await asyncio.wait_for(carrier.hang_up("CA" + "1" * 32), GUARD_S)
        with pytest.raises(TwilioApiError) as unknown:
            await asyncio.wait_for(carrier.hang_up("CA" + "2" * 32), GUARD_S)
        await carrier.aclose()
    assert (invalid.value.status, invalid.value.code) == (400, 21211)
    assert "is not a valid phone number" in invalid.value.twilio_message
    assert "https://www.twilio.com/docs/errors/21211" in str(invalid.value)
    assert TOKEN not in str(echoed.value) and "[auth token]" in str(echoed.value)
    assert (unknown.value.status, unknown.value.code) == (404, 20404)
    assert "hang up call CA2222" in str(unknown.value)


async def test_hanging_up_a_finished_call_is_twilio_error_21220() -> None:
    async with rig() as r:
        call = await r.dial(CallPlan("busy"))
        await r.finished(call)
        with pytest.raises(TwilioApiError) as info:
            await asyncio.wait_for(r.carrier.hang_up(call.sid), GUARD_S)
    assert (info.value.status, info.value.code) == (400, 21220)


async def test_network_errors_are_mapped_too() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    carrier = Twilio(ACCOUNT, TOKEN, api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TwilioApiError) as info:
        await asyncio.wait_for(carrier.dial(request()), GUARD_S)
    await carrier.aclose()
    assert info.value.status is None and info.value.code is None
    assert "could not be reached" in str(info.value) and TOKEN not in str(info.value)


async def test_a_silent_api_times_out_as_a_mapped_error() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # hold the connection open without a response
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    carrier = Twilio(ACCOUNT, TOKEN, api_base_url=f"http://127.0.0.1:{port}", api_timeout_s=0.2)
    try:
        with pytest.raises(TwilioApiError, match="could not be reached"):
            await asyncio.wait_for(carrier.hang_up("CA" + "1" * 32), GUARD_S)
    finally:
        await carrier.aclose()
        server.close()


async def test_service_exceptions_are_mapped_as_well() -> None:
    from patter_twilio.rest import RestApi
    from twilio.base.exceptions import TwilioServiceException

    async def refuse() -> None:
        raise TwilioServiceException(
            type_uri="https://www.twilio.com/docs/api/errors/20429",
            title="Too Many Requests",
            status=429,
            code=20429,
            detail="Slow down",
        )

    api = RestApi(ACCOUNT, TOKEN)
    try:
        with pytest.raises(TwilioApiError) as info:
            await api._guard("place a call", refuse())
    finally:
        await api.aclose()
    assert (info.value.status, info.value.code) == (429, 20429)
    assert info.value.twilio_message == "Too Many Requests: Slow down"


async def test_call_control_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        await Twilio(auth_token=TOKEN).dial(request())


@pytest.mark.parametrize("url", ["api.twilio.local", "ftp://x", "http://h/?a=1"])
def test_api_base_url_must_be_an_http_base(url: str) -> None:
    with pytest.raises(ConfigError, match="api_base_url"):
        Twilio(ACCOUNT, TOKEN, api_base_url=url)


async def test_requests_are_routed_to_the_configured_base_only_for_twilio_hosts() -> None:
    from patter_twilio.rest import RoutedHttpClient

    routed = RoutedHttpClient("http://127.0.0.1:9/prefix/")
    direct = RoutedHttpClient()
    try:
        url = f"https://api.twilio.com{CALLS}"
        assert routed.route(url) == f"http://127.0.0.1:9/prefix{CALLS}"
        assert routed.route("https://api.dublin.ie1.twilio.com/x?y=1") == (
            "http://127.0.0.1:9/prefix/x?y=1"
        )
        assert routed.route("https://example.com/x") == "https://example.com/x"
        assert direct.route(url) == url
    finally:
        await routed.close()
        await direct.close()


def test_a_carrier_can_dial_again_under_a_new_event_loop() -> None:
    carrier = Twilio(ACCOUNT, TOKEN)

    async def once() -> str:
        async with FakeTwilioApi(ACCOUNT, TOKEN, default_plan=CallPlan("failed")) as api:
            carrier.api_base_url = api.base_url
            sid = await asyncio.wait_for(carrier.dial(request()), GUARD_S)
            await asyncio.wait_for(api.finished(sid), GUARD_S)
        return sid

    first = asyncio.run(once())
    second = asyncio.run(once())  # the first client's loop is closed by now
    asyncio.run(carrier.aclose())
    assert first != second


def test_the_spec_declares_call_control() -> None:
    caps = CARRIER_SPEC.capabilities
    assert (caps.outbound, caps.hang_up, caps.transfer) == (True, True, True)
    assert caps.answering_machine_detection and not caps.recording


# ---------------------------------------------------------------------- calls end to end


async def test_outbound_call_end_to_end_answered_by_a_human() -> None:
    frames: list[str] = []

    async def behaviour(handler: MediaHandler, event: CarrierEvent) -> None:
        if isinstance(event, MediaReceived):
            frames.append(event.payload)

    script = [Speech(ms=300), Silence(ms=200)]
    async with rig(behaviour) as r:
        call = await r.dial(CallPlan("human", script=script), machine_detection=True)
        await r.finished(call)
    # The answer: a signed webhook with Direction=outbound-api and the same CallSid...
    [announced] = r.ctx.issued
    assert (announced.call_id, announced.direction) == (call.sid, "outbound-api")
    assert (announced.caller, announced.callee) == (OURS, CALLEE)
    assert announced.parameters["CallStatus"] == "in-progress"
    # ...then the media stream carrying the per-call token, and the callee's frames.
    recording = call.recording
    assert recording is not None and recording.ended_by == "script"
    assert recording.webhook_status == 200 and recording.media_status == 101
    assert recording.parameters["call_token"] and r.ctx.tokens == {}  # used, then spent
    [log] = r.logs
    assert not log.refused
    started = log.of(StreamStarted)[0]
    assert started.call_id == call.sid
    assert len(frames) == recording.frames_sent == 25  # 500 ms of 20 ms frames
    # The statuses, in order, and the AMD verdict, all signed and accepted.
    assert [status for status, _ in r.reported(call)] == [
        "initiated",
        "ringing",
        "in-progress",
        "amd",
        "completed",
    ]
    amd = dict(r.reported(call))["amd"]
    assert amd["AnsweredBy"] == "human" and amd["MachineDetectionDuration"] == "2400"
    assert all(callback.status_code == 204 for callback in call.callbacks)
    assert call.status == "completed" and call.duration_s is not None


@pytest.mark.parametrize(
    ("plan", "verdict"),
    [
        (CallPlan("machine", script=[Speech(ms=100)]), "machine_start"),
        (
            CallPlan("machine", script=[Hangup()], answered_by="machine_end_beep"),
            "machine_end_beep",
        ),
    ],
)
async def test_a_machine_answers_and_the_verdict_is_reported(plan: CallPlan, verdict: str) -> None:
    async with rig() as r:
        call = await r.dial(plan, machine_detection=True)
        await r.finished(call)
    amd = [details for status, details in r.reported(call) if status == "amd"]
    assert [d["AnsweredBy"] for d in amd] == [verdict]
    assert set(amd[0]) == {"AccountSid", "CallSid", "AnsweredBy", "MachineDetectionDuration"}
    assert call.recording is not None and call.recording.media_status == 101


async def test_without_machine_detection_no_verdict_is_posted() -> None:
    async with rig() as r:
        call = await r.dial(CallPlan("machine", script=[Hangup()]))
        await r.finished(call)
    assert [s for s, _ in r.reported(call)] == ["initiated", "ringing", "in-progress", "completed"]
    assert "MachineDetection" not in r.api.requests[0].fields()


@pytest.mark.parametrize(
    ("outcome", "statuses"),
    [
        ("busy", ["initiated", "ringing", "busy"]),
        ("no-answer", ["initiated", "ringing", "no-answer"]),
        ("failed", ["initiated", "failed"]),
    ],
)
async def test_unanswered_outcomes_are_reported_and_nothing_is_streamed(
    outcome: str, statuses: list[str]
) -> None:
    async with rig() as r:
        call = await r.dial(CallPlan(outcome), machine_detection=True)  # type: ignore[arg-type]
        await r.finished(call)
    assert [status for status, _ in r.reported(call)] == statuses
    final = r.reported(call)[-1][1]
    assert final["CallDuration"] == "0" and final["Direction"] == "outbound-api"
    assert r.ctx.issued == [] and r.logs == [] and call.recording is None


async def test_status_callbacks_carry_twilio_fields_and_are_signed_over_the_public_url() -> None:
    async with rig() as r:
        call = await r.dial(CallPlan("busy"))
        await r.finished(call)
    validator = RequestValidator(TOKEN)
    for callback in call.callbacks:
        assert callback.url == STATUS
        signature = validator.compute_signature(STATUS, dict(callback.form))
        assert validator.validate(STATUS, dict(callback.form), signature)
    ringing = r.reported(call)[1][1]
    assert ringing["CallbackSource"] == "call-progress-events"
    assert ringing["SequenceNumber"] == "1" and ringing["AccountSid"] == ACCOUNT
    assert (ringing["From"], ringing["To"]) == (OURS, CALLEE)


async def test_a_busy_server_turns_the_outbound_answer_into_reject() -> None:
    async with rig() as r:
        r.ctx.issue_call_token = _refuse  # type: ignore[method-assign]
        call = await r.dial(CallPlan(script=[WaitForAgent(timeout_ms=100)]))
        await r.finished(call)
    assert call.recording is not None and call.recording.ended_by == "no_stream"
    assert r.reported(call)[-1][0] == "completed"


def _refuse(call: object) -> str:
    raise PatterError("draining")


# ---------------------------------------------------------------------- the status route


async def test_amd_callbacks_are_reported_as_amd_unless_they_carry_a_call_status() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token=TOKEN), ctx)
    sid = "CA" + "3" * 32
    verdict = {"AccountSid": ACCOUNT, "CallSid": sid, "AnsweredBy": "machine_start"}
    verdict["MachineDetectionDuration"] = "3100"
    with_status = {**verdict, "CallStatus": "in-progress"}
    validator = RequestValidator(TOKEN)
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        for form in (verdict, with_status):
            headers = {"X-Twilio-Signature": validator.compute_signature(STATUS, form)}
            response = await http.post(base + "/twilio/status", data=form, headers=headers)
            assert response.status_code == 204
    assert ctx.statuses == [(sid, "amd", verdict), (sid, "in-progress", with_status)]


# ---------------------------------------------------------------------- numbers and logs


async def test_configure_number_points_the_number_at_our_webhooks() -> None:
    async with FakeTwilioApi(ACCOUNT, TOKEN) as api:
        pn = api.add_number(OURS)
        carrier = Twilio(ACCOUNT, TOKEN, api_base_url=api.base_url)
        try:
            assert await carrier.configure_number(OURS, VOICE, STATUS) == pn
            with pytest.raises(TwilioApiError, match="no such number"):
                await carrier.configure_number(CALLEE, VOICE)
        finally:
            await carrier.aclose()
    lookup, update, _ = api.requests
    numbers = f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers"
    assert (lookup.method, lookup.path) == ("GET", numbers + ".json")
    assert dict(lookup.query)["PhoneNumber"] == OURS
    assert (update.method, update.path) == ("POST", f"{numbers}/{pn}.json")
    assert pairs(update.form) == sorted(
        [
            ("VoiceUrl", VOICE),
            ("VoiceMethod", "POST"),
            ("StatusCallback", STATUS),
            ("StatusCallbackMethod", "POST"),
        ]
    )
    assert api.numbers[OURS]["voice_url"] == VOICE


async def test_call_control_never_logs_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    async with rig() as r:
        call = await r.dial(CallPlan("busy"), machine_detection=True)
        await r.finished(call)
        r.api.fail_next(401, 20003, "Authenticate")
        with pytest.raises(TwilioApiError):
            await asyncio.wait_for(r.carrier.hang_up(call.sid), GUARD_S)
    assert "twilio" in caplog.text.lower()  # the client did log its requests...
    assert TOKEN not in caplog.text  # ...but never the token or the Basic credentials
    assert "Authorization" not in caplog.text
    assert TOKEN not in repr(r.api) and TOKEN not in repr(r.carrier)


@pytest.mark.parametrize(
    "sid", ["", "CA123", "../IncomingPhoneNumbers/PN" + "0" * 32, "CA" + "g" * 32]
)
async def test_call_sids_are_checked_before_they_go_into_a_url(sid: str) -> None:
    async with FakeTwilioApi(ACCOUNT, TOKEN) as api:
        carrier = Twilio(ACCOUNT, TOKEN, api_base_url=api.base_url)
        with pytest.raises(ConfigError, match="CallSid"):
            await carrier.hang_up(sid)
        with pytest.raises(ConfigError, match="CallSid"):
            await carrier.transfer(sid, CALLEE)
        await carrier.aclose()
    assert api.requests == []
