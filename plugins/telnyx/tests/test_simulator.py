"""The fake Telnyx network itself: playback accounting, credentials, signing, the kit's fakes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from patter_telnyx.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, load_public_key, problem
from patter_telnyx.streamauth import UrlSigner
from patter_telnyx.testing import FakeCall, FakeTelnyx, Playback, TelnyxTestKit
from patter_telnyx.testing.fake_api import new_call_id


def test_a_mark_comes_back_only_once_the_audio_before_it_has_played() -> None:
    playback = Playback()
    playback.audio(0, 100)
    playback.mark(0, "m1")
    assert playback.due(99) == []
    assert playback.due(100) == ["m1"]
    playback.mark(150, "m2")  # nothing queued: due at once
    assert playback.due(150) == ["m2"]
    assert playback.heard_ms(150) == 100


def test_clear_drops_queued_audio_and_returns_pending_marks() -> None:
    playback = Playback()
    playback.audio(0, 1000)
    playback.mark(0, "m1")
    playback.audio(0, 1000)
    playback.mark(0, "m2")
    assert playback.clear(300) == ["m1", "m2"]
    [clear] = playback.clears
    assert (clear.heard_ms, clear.dropped_ms) == (300, 1700)
    assert playback.heard_ms(5000) == 300
    assert playback.echoed == 2


def test_media_credentials_as_the_test_asks() -> None:
    fake = FakeTelnyx()
    fake.attach("http://127.0.0.1:9999")
    signer = UrlSigner(b"k" * 32)
    url = "wss://agent.example.test/telnyx/media?" + signer.query("v3:c")
    valid, missing, forged = (fake.media_target(url, a) for a in ("valid", "missing", "forged"))
    fake.close()
    assert (
        valid.startswith("ws://127.0.0.1:9999/telnyx/media?")
        and signer.problem(urlsplit(valid).query) is None
    )
    assert urlsplit(missing).query == ""
    forged_query = urlsplit(forged).query
    assert parse_qs(forged_query)["call"] == ["v3:c"] and signer.problem(forged_query)


def test_webhooks_are_signed_as_telnyx_signs_them() -> None:
    fake = FakeTelnyx()
    call = FakeCall(new_call_id(), "incoming", "+15551230000", "+15555550100")
    body = fake.envelope(call, "call.initiated")
    headers = fake.keys.headers(body)
    fake.close()
    key = load_public_key(fake.carrier_options()["public_key"])
    assert problem(key, body, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]) is None


async def test_the_kit_serves_the_fake_its_carrier_options_named() -> None:
    kit = TelnyxTestKit()
    options = kit.carrier_options()
    async with (
        kit.network("https://x.test") as network,
        kit.simulator("http://s", "https://x.test") as caller,
    ):
        assert network.fake is caller.fake
        assert network.carrier_options()["api_base_url"] == options["api_base_url"]
    assert kit.carrier_options()["api_base_url"] != options["api_base_url"]  # a fresh fake
    kit.close()
