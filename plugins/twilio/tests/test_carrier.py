"""The carrier's configuration and its HTTP routes, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import subprocess
import sys
from xml.etree import ElementTree

import httpx
import pytest
from patter_twilio import Twilio
from patter_twilio.plugin import CARRIER_SPEC
from twilio.request_validator import RequestValidator
from twilio_test_app import PUBLIC_URL, TOKEN, Context, make_app, running

from patter_core.carrier import Carrier, InboundCall
from patter_core.errors import CallSetupError, ConfigError

VOICE_URL = PUBLIC_URL + "/twilio/voice"
FORM = {
    "AccountSid": "AC" + "a" * 32,
    "CallSid": "CA" + "1" * 32,
    "From": "+15551230000",
    "To": "+15555550100",
    "Direction": "inbound",
    "CallStatus": "ringing",
}


def sign(url: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PATTER_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------------- configuration


def test_is_a_carrier_and_reads_the_environment(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("PATTER_PUBLIC_URL", "https://agent.example.com/")
    twilio = Twilio()
    assert isinstance(twilio, Carrier)
    assert twilio.account_sid == "AC123"
    assert twilio.has_auth_token
    assert twilio.webhook_url == "https://agent.example.com"
    twilio.prepare(CARRIER_SPEC)
    assert "secret-token" not in repr(twilio)


def test_no_token_is_a_clear_startup_error(clean_env: None) -> None:
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN") as info:
        Twilio().prepare(CARRIER_SPEC)
    assert "allow_unsigned=True" in str(info.value)


def test_allow_unsigned_starts_with_a_loud_warning(
    clean_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="patter_twilio"):
        Twilio(allow_unsigned=True).prepare(CARRIER_SPEC)
    assert "NOT checked" in caplog.text


@pytest.mark.parametrize(
    "url", ["agent.example.com", "ftp://x", "http://agent.example.com", "https://h/?a=1"]
)
def test_webhook_url_must_be_a_public_https_base(clean_env: None, url: str) -> None:
    with pytest.raises(ConfigError, match="webhook_url"):
        Twilio(auth_token="t", webhook_url=url).prepare(CARRIER_SPEC)


def test_plain_http_is_allowed_only_when_unsigned(clean_env: None) -> None:
    Twilio(webhook_url="http://localhost:8000", allow_unsigned=True).prepare(CARRIER_SPEC)


def test_route_urls_come_from_the_server_then_from_webhook_url(clean_env: None) -> None:
    twilio = Twilio(auth_token="t", webhook_url="https://carrier.example")
    assert twilio.route_url("media", Context("https://server.example")) == (
        "wss://server.example/twilio/media"
    )
    assert twilio.route_url("media", Context("")) == "wss://carrier.example/twilio/media"
    assert twilio.route_url("voice", Context("")) == "https://carrier.example/twilio/voice"


def test_importing_the_plugin_does_not_import_the_twilio_sdk() -> None:
    code = (
        "import sys, patter_twilio, patter_twilio.plugin;"
        "print(sorted(m for m in sys.modules if m == 'twilio' or m.startswith('twilio.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------- voice webhook


async def test_signed_webhook_is_answered_with_connect_stream_twiml() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token=TOKEN, stream_name="agent"), ctx)
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(base + "/twilio/voice", data=FORM, headers=sign(VOICE_URL, FORM))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.text)
    assert root.tag == "Response"
    [connect] = list(root)
    assert connect.tag == "Connect"
    [stream] = list(connect)
    assert stream.tag == "Stream"
    assert stream.get("url") == "wss://example.test/twilio/media"
    assert stream.get("name") == "agent"
    assert stream.get("statusCallback") == "https://example.test/twilio/status"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    [(token, call)] = ctx.tokens.items()
    assert params == {"call_token": token, "caller": "+15551230000", "callee": "+15555550100"}
    assert call == InboundCall(
        call_id=FORM["CallSid"],
        caller="+15551230000",
        callee="+15555550100",
        direction="inbound",
        parameters=FORM,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        sign(VOICE_URL, FORM, token="another-token"),
        sign(VOICE_URL, {**FORM, "From": "+19999999999"}),
        # Signed over the URL the request arrived at behind a proxy, not the public one.
        sign("http://127.0.0.1/twilio/voice", FORM),
    ],
    ids=["missing", "empty", "garbage", "wrong-token", "tampered", "proxy-url"],
)
async def test_bad_or_missing_signature_is_403_and_issues_no_token(
    headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token=TOKEN), ctx)
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(base + "/twilio/voice", data=FORM, headers=headers)
    assert response.status_code == 403
    assert ctx.tokens == {}
    assert TOKEN not in caplog.text
    if headers.get("X-Twilio-Signature"):
        assert headers["X-Twilio-Signature"] not in caplog.text


async def test_without_a_token_every_webhook_is_refused() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token="", account_sid="AC1"), ctx)
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(
            base + "/twilio/voice", data=FORM, headers=sign(VOICE_URL, FORM, token="")
        )
    assert response.status_code == 403


async def test_query_string_on_the_webhook_url_is_part_of_the_signature() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token=TOKEN), ctx)
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        good = await http.post(
            base + "/twilio/voice?agent=sales",
            data=FORM,
            headers=sign(VOICE_URL + "?agent=sales", FORM),
        )
        bad = await http.post(
            base + "/twilio/voice?agent=sales", data=FORM, headers=sign(VOICE_URL, FORM)
        )
    assert (good.status_code, bad.status_code) == (200, 403)


async def test_allow_unsigned_accepts_unsigned_webhooks() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(allow_unsigned=True), ctx)
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(base + "/twilio/voice", data=FORM)
    assert response.status_code == 200
    assert len(ctx.tokens) == 1


async def test_wrong_content_type_oversized_body_and_missing_call_sid() -> None:
    app, _ = make_app(Twilio(auth_token=TOKEN), Context())
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        as_json = await http.post(base + "/twilio/voice", json=FORM)
        huge = {**FORM, "Pad": "x" * 100_000}
        too_big = await http.post(base + "/twilio/voice", data=huge, headers=sign(VOICE_URL, huge))
        no_sid = {k: v for k, v in FORM.items() if k != "CallSid"}
        missing = await http.post(
            base + "/twilio/voice", data=no_sid, headers=sign(VOICE_URL, no_sid)
        )
    assert (as_json.status_code, too_big.status_code, missing.status_code) == (415, 413, 400)


async def test_a_server_that_refuses_the_call_answers_reject() -> None:
    class Busy(Context):
        def issue_call_token(self, call: InboundCall) -> str:
            raise CallSetupError("draining")

    app, _ = make_app(Twilio(auth_token=TOKEN), Busy())
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(base + "/twilio/voice", data=FORM, headers=sign(VOICE_URL, FORM))
    assert response.status_code == 200
    reject = ElementTree.fromstring(response.text).find("Reject")
    assert reject is not None and reject.get("reason") == "busy"


# ---------------------------------------------------------------------- status callback


async def test_status_callbacks_are_validated_then_reported() -> None:
    ctx = Context()
    app, _ = make_app(Twilio(auth_token=TOKEN), ctx)
    url = PUBLIC_URL + "/twilio/status"
    done = {**FORM, "CallStatus": "completed", "CallDuration": "42"}
    stream = {"CallSid": FORM["CallSid"], "StreamEvent": "stream-error", "StreamError": "boom"}
    async with running(app) as base, httpx.AsyncClient(trust_env=False) as http:
        ok = await http.post(base + "/twilio/status", data=done, headers=sign(url, done))
        forged = await http.post(base + "/twilio/status", data=done, headers=sign(VOICE_URL, done))
        streamed = await http.post(base + "/twilio/status", data=stream, headers=sign(url, stream))
    assert (ok.status_code, forged.status_code, streamed.status_code) == (204, 403, 204)
    assert ctx.statuses == [
        (FORM["CallSid"], "completed", done),
        (FORM["CallSid"], "stream-error", stream),
    ]
