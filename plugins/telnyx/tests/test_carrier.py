"""The carrier's configuration and its webhook route, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from patter_telnyx import Telnyx
from patter_telnyx.plugin import CARRIER_SPEC
from patter_telnyx.streamauth import token_from_state
from patter_telnyx.testing import FakeCall, TestKeys
from patter_telnyx.testing.fake_api import new_call_id

from patter_core.carrier import Carrier
from patter_core.errors import ConfigError
from patter_core.simulation import Hangup, Silence

KEYS = TestKeys()
GOOD: dict[str, Any] = {"api_key": "KEY-secret-123", "public_key": KEYS.public_key}


def test_is_a_carrier_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", "KEY-from-env")
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", KEYS.public_key)
    monkeypatch.setenv("TELNYX_CONNECTION_ID", "conn-1")
    telnyx = Telnyx()
    assert isinstance(telnyx, Carrier)
    assert telnyx.has_api_key and telnyx.public_key == KEYS.public_key
    assert telnyx.connection_id == "conn-1"
    telnyx.prepare(CARRIER_SPEC)
    assert "KEY-from-env" not in repr(telnyx)


def test_no_public_key_is_a_clear_startup_error() -> None:
    with pytest.raises(ConfigError, match="TELNYX_PUBLIC_KEY") as info:
        Telnyx(api_key="k").prepare(CARRIER_SPEC)
    assert "allow_unsigned=True" in str(info.value)


def test_no_api_key_is_a_clear_startup_error() -> None:
    with pytest.raises(ConfigError, match="TELNYX_API_KEY"):
        Telnyx(public_key=KEYS.public_key).prepare(CARRIER_SPEC)


@pytest.mark.parametrize(("key", "why"), [("not base64!", "not base64"), ("AAAA", "32")])
def test_a_malformed_public_key_is_refused_at_start(key: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        Telnyx(api_key="k", public_key=key).prepare(CARRIER_SPEC)


def test_allow_unsigned_starts_with_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="patter_telnyx"):
        Telnyx(api_key="k", allow_unsigned=True).prepare(CARRIER_SPEC)
    assert "NOT checked" in caplog.text


@pytest.mark.parametrize(
    "url", ["http://api.example.com/v2", "ftp://127.0.0.1", "https://h/v2?x=1", "127.0.0.1:80"]
)
def test_api_base_url_must_be_https_or_loopback_http(url: str) -> None:
    with pytest.raises(ConfigError, match="api_base_url"):
        Telnyx(**GOOD, api_base_url=url)


def test_loopback_http_and_any_https_base_are_accepted() -> None:
    Telnyx(**GOOD, api_base_url="http://127.0.0.1:9/v2")
    Telnyx(**GOOD, api_base_url="http://localhost:9/v2")
    Telnyx(**GOOD, api_base_url="https://telnyx-gateway.example.com/v2")


def test_importing_the_plugin_imports_neither_httpx_nor_cryptography() -> None:
    code = (
        "import sys, patter_telnyx.plugin; "
        "print(any(m.split('.')[0] in ('httpx', 'cryptography') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------- webhooks over HTTP


async def test_incoming_call_is_answered_with_a_signed_stream_and_the_token(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        outcome = await rig.fake.call([Silence(200), Hangup()])
        await rig.wait_ended()
    [answer] = [r for r in rig.fake.api.commands(outcome.call_id) if r.action == "answer"]
    assert answer.status == 200
    url = urlsplit(answer.body["stream_url"])
    assert (url.scheme, url.netloc, url.path) == ("wss", "agent.example.test", "/telnyx/media")
    assert set(parse_qs(url.query)) == {"call", "exp", "sig"}
    assert parse_qs(url.query)["call"] == [outcome.call_id]
    assert token_from_state(answer.body["client_state"])  # the core's token rides along
    assert outcome.ended_by == "hangup" and outcome.media_status == 101
    [result] = rig.ended
    assert result.call is not None and result.call.call_id == outcome.call_id
    assert result.call.caller == "+15551230000" and result.call.callee == "+15555550100"
    assert result.end_reason == "caller hung up"


async def test_a_stream_with_a_used_or_foreign_token_is_not_a_call(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        first = await rig.fake.call([Silence(100), Hangup()])
        await rig.wait_ended()
        # Replay the same answer (same signed URL, same client_state) as a second stream.
        replay = FakeCall(first.call_id + "x", "incoming", "+1", "+2", [Silence(200), Hangup()])
        call = rig.fake.api.calls[first.call_id]
        replay.stream_url, replay.client_state = call.stream_url, call.client_state
        outcome = await rig.fake.stream_call(replay, 200, "valid")
        await rig.server.server.drain(5)
    assert outcome.ended_by == "server_closed"
    assert len(rig.engine.sessions) == 1


async def test_duplicate_webhook_deliveries_are_acted_on_once(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        call = FakeCall(new_call_id(), "incoming", "+15551230000", "+15555550100")
        rig.fake.api.calls[call.call_id] = call
        body = rig.fake.envelope(call, "call.initiated")
        for _ in range(2):
            headers = {"content-type": "application/json", **rig.fake.keys.headers(body)}
            response = await rig.fake.post("/telnyx/webhook", body, headers)
            assert response.status_code == 200
    assert [r.action for r in rig.fake.api.commands(call.call_id)] == ["answer"]


async def test_a_draining_server_rejects_new_calls_busy(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        rig.server.server.accepting = False
        outcome = await rig.fake.call([Silence(100), Hangup()])
    assert outcome.ended_by == "no_stream"
    [reject] = rig.fake.api.commands(outcome.call_id)
    assert (reject.action, reject.body["cause"]) == ("reject", "USER_BUSY")


async def test_hangup_events_are_reported_with_twilio_status_names(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        outcome = await rig.fake.call([Silence(100), Hangup()])
        await rig.wait_ended()
        await rig.wait_for(lambda: len(rig.statuses.get(outcome.call_id, [])) >= 4)
    names = [status for status, _ in rig.statuses[outcome.call_id]]
    assert names == ["in-progress", "stream-started", "completed", "stream-stopped"]
    hangup = rig.statuses[outcome.call_id][2][1]
    assert hangup["hangup_cause"] == "normal_clearing" and hangup["hangup_source"] == "caller"
    assert "CallDuration" in hangup
    # The caller hung up: the stream's end must not send a redundant hangup command.
    assert [r.action for r in rig.fake.api.commands(outcome.call_id)] == ["answer"]


async def test_when_the_server_ends_the_stream_the_call_is_hung_up(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        task = asyncio.create_task(rig.fake.call([Silence(10_000)]))
        await rig.wait_for(lambda: rig.server.server.calls)
        for session in list(rig.server.server.calls):
            await session.hang_up("agent ended the call")
        outcome = await task
    assert outcome.ended_by == "server_closed"
    actions = [r.action for r in rig.fake.api.commands(outcome.call_id)]
    assert actions == ["answer", "hangup"]


async def test_a_forged_webhook_issues_no_token_and_sends_no_command(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        forged = await rig.fake.call([Hangup()], webhook_auth="forged")
        missing = await rig.fake.call([Hangup()], webhook_auth="missing")
    assert (forged.ended_by, forged.webhook_status) == ("webhook_rejected", 403)
    assert (missing.ended_by, missing.webhook_status) == ("webhook_rejected", 401)
    assert rig.fake.api.requests == []
    assert rig.engine.sessions == []


async def test_allow_unsigned_accepts_unsigned_webhooks(make_rig: Callable[..., Any]) -> None:
    async with make_rig(allow_unsigned=True, public_key="") as rig:
        outcome = await rig.fake.call([Silence(100), Hangup()], webhook_auth="missing")
        await rig.wait_ended()
    assert outcome.ended_by == "hangup"


async def test_bad_bodies_are_refused_after_the_signature(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        for body, status in [(b"not json", 400), (b'{"data": {}}', 400), (b"x" * 300_000, 413)]:
            response = await rig.fake.post("/telnyx/webhook", body, rig.fake.keys.headers(body))
            assert response.status_code == status, body[:20]


async def test_a_transferred_call_is_not_hung_up_when_its_stream_stops(
    make_rig: Callable[..., Any],
) -> None:
    async with make_rig() as rig:
        task = asyncio.create_task(rig.fake.call([Silence(10_000)]))
        await rig.wait_for(lambda: rig.server.server.calls)
        [call_id] = [c for c in rig.fake.api.calls]
        await rig.carrier.transfer(call_id, "+15555550199")
        outcome = await task
        await rig.wait_ended()
    assert outcome.ended_by == "api"  # Telnyx moved the caller off our stream
    assert [r.action for r in rig.fake.api.commands(call_id)] == ["answer", "transfer"]
    assert "streaming.stopped" in [e for c, e, _ in rig.fake.webhooks if c == call_id]
