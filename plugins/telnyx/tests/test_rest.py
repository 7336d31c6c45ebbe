"""Call Control commands against the fake Telnyx API: exact bodies, auth and error handling."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from contextlib import aclosing
from typing import Any

import pytest
from patter_telnyx import Telnyx, TelnyxApiError
from patter_telnyx.streamauth import DIAL_MARKER, decode_state, token_from_state
from patter_telnyx.testing import FakeCall, FakeTelnyx, schema_problem
from patter_telnyx.testing.fake_api import new_call_id

from patter_core.carrier import DialRequest, InboundCall
from patter_core.errors import CapabilityError, ConfigError

PUBLIC = "https://agent.example.test"
STREAM_OPTIONS = {
    "stream_track": "inbound_track",
    "stream_codec": "PCMU",
    "stream_bidirectional_mode": "rtp",
    "stream_bidirectional_codec": "PCMU",
}


class Context:
    """A `CarrierContext` for calling the carrier's commands directly."""

    public_url = PUBLIC

    def url_for(self, route_name: str) -> str:
        return {"media": "wss://agent.example.test/telnyx/media"}[route_name]

    def issue_call_token(self, call: InboundCall) -> str:
        return "tok"

    def report_status(self, call_id: str, status: str, details: Mapping[str, str]) -> None:
        pass


def parked(fake: FakeTelnyx, direction: str = "incoming") -> FakeCall:
    call = FakeCall(new_call_id(), direction, "+15551230000", "+15555550100")
    fake.api.calls[call.call_id] = call
    return call


def body_of(fake: FakeTelnyx, action: str) -> dict[str, Any]:
    [request] = [r for r in fake.api.requests if r.action == action]
    assert request.status == 200, request
    body = dict(request.body)
    assert body.pop("command_id")  # every command is idempotent on Telnyx's side
    return body


async def test_answer_streams_pcmu_both_ways_to_the_signed_url() -> None:
    async with FakeTelnyx() as fake, aclosing(Telnyx(**fake.carrier_options())) as telnyx:
        call = parked(fake)
        await telnyx.answer(call.call_id, "tok-1", Context())
    body = body_of(fake, "answer")
    url = body.pop("stream_url")
    assert url.startswith("wss://agent.example.test/telnyx/media?call=v3")
    assert token_from_state(body.pop("client_state")) == "tok-1"
    assert body == STREAM_OPTIONS
    assert call.state == "answered"


async def test_streaming_start_asks_for_the_same_stream() -> None:
    async with FakeTelnyx() as fake, aclosing(Telnyx(**fake.carrier_options())) as telnyx:
        call = parked(fake, "outgoing")
        call.state = "answered"
        await telnyx.stream(call.call_id, "tok-2", Context())
    body = body_of(fake, "streaming_start")
    assert token_from_state(body.pop("client_state")) == "tok-2"
    assert body.pop("stream_url").startswith("wss://agent.example.test/telnyx/media?")
    assert body == STREAM_OPTIONS


async def test_hangup_transfer_and_reject_bodies() -> None:
    async with FakeTelnyx() as fake, aclosing(Telnyx(**fake.carrier_options())) as telnyx:
        first, second, third = parked(fake), parked(fake), parked(fake)
        await telnyx.hang_up(first.call_id)
        await telnyx.transfer(second.call_id, "+15555550199")
        await telnyx.reject(third.call_id)
    assert body_of(fake, "hangup") == {}
    assert body_of(fake, "transfer") == {"to": "+15555550199"}
    assert body_of(fake, "reject") == {"cause": "USER_BUSY"}
    assert dict(telnyx.transferred) == {second.call_id: "+15555550199"}
    assert first.hung_up_by_api and second.transferred_to == "+15555550199"


async def test_dial_body() -> None:
    async with FakeTelnyx() as fake, aclosing(Telnyx(**fake.carrier_options())) as telnyx:
        request = DialRequest(
            to="+15555550123",
            from_="+15555550100",
            answer_url=PUBLIC + "/telnyx/webhook",
            status_url=PUBLIC + "/telnyx/status",
            ring_timeout_s=2,
            time_limit_s=600,
        )
        call_id = await telnyx.dial(request)
    body = body_of(fake, "dial")
    assert decode_state(body.pop("client_state")) == DIAL_MARKER
    assert body == {
        "connection_id": "1234567890123456789",
        "to": "+15555550123",
        "from": "+15555550100",
        "webhook_url": PUBLIC + "/telnyx/webhook",
        "webhook_url_method": "POST",
        "timeout_secs": 5,  # Telnyx's minimum
        "time_limit_secs": 600,
    }
    assert call_id in fake.api.calls


async def test_dial_checks_what_it_needs_before_any_request() -> None:
    request = DialRequest("+15555550123", "+15555550100", PUBLIC + "/a", PUBLIC + "/b")
    async with FakeTelnyx() as fake:
        options = fake.carrier_options()
        with pytest.raises(ConfigError, match="TELNYX_CONNECTION_ID"):
            await Telnyx(**{**options, "connection_id": ""}).dial(request)  # before any client
        with pytest.raises(ConfigError, match=r"E\.164"):
            await Telnyx(**options).dial(DialRequest("555", "+15555550100", "/a", "/b"))
        with pytest.raises(CapabilityError):
            await Telnyx(**options).dial(
                DialRequest("+15555550123", "+1555", "/a", "/b", machine_detection=True)
            )
    assert fake.api.requests == []


async def test_a_wrong_key_is_an_api_error_that_never_shows_the_key() -> None:
    async with (
        FakeTelnyx() as fake,
        aclosing(Telnyx(**{**fake.carrier_options(), "api_key": "KEY-wrong-secret"})) as telnyx,
    ):
        with pytest.raises(TelnyxApiError) as info:
            await telnyx.hang_up(parked(fake).call_id)
    assert info.value.status == 401 and info.value.code == "10009"
    assert "KEY-wrong-secret" not in str(info.value) and "KEY-wrong" not in repr(telnyx)


async def test_commands_to_an_ended_call() -> None:
    async with FakeTelnyx() as fake, aclosing(Telnyx(**fake.carrier_options())) as telnyx:
        call = parked(fake)
        call.state = "ended"
        await telnyx.hang_up(call.call_id)  # already over: nothing to do, no error
        with pytest.raises(TelnyxApiError) as info:
            await telnyx.transfer(call.call_id, "+15555550199")
    assert info.value.call_has_ended and "Call has already ended" in str(info.value)
    assert dict(telnyx.transferred) == {}


async def test_an_unknown_call_and_an_unreachable_api() -> None:
    async with FakeTelnyx() as fake, aclosing(Telnyx(**fake.carrier_options())) as telnyx:
        with pytest.raises(TelnyxApiError, match="HTTP 404"):
            await telnyx.hang_up("v3:nobody")
        gone = fake.base_url
    async with aclosing(Telnyx(api_key="KEY-x", api_base_url=gone)) as telnyx:
        with pytest.raises(TelnyxApiError, match="could not be reached") as info:
            await telnyx.hang_up("v3:nobody")
    assert info.value.status is None


@pytest.mark.parametrize("call_id", ["", "../calls", "v3:a/b", "v3:a?x", "x" * 300])
async def test_call_ids_that_would_bend_the_url_are_refused(call_id: str) -> None:
    with pytest.raises(ConfigError, match="call_control_id"):
        await Telnyx(api_key="KEY-x", api_base_url="http://127.0.0.1:9/v2").hang_up(call_id)


def test_the_fake_api_is_strict_about_parameters() -> None:
    assert schema_problem("answer", {"stream_url": "wss://x", "stream_trak": "x"}) is not None
    assert schema_problem("answer", {"stream_bidirectional_mode": "wav"}) is not None
    assert schema_problem("transfer", {}) is not None
    assert schema_problem(
        "dial", {"connection_id": "c", "to": "+1", "from": "+2", "timeout_secs": 4}
    )
    assert schema_problem("hangup", {"client_state": "%%"}) is not None
    state = base64.b64encode(b"x").decode()
    assert schema_problem("hangup", {"client_state": state, "command_id": "c"}) is None
