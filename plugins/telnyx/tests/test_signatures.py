"""Ed25519 webhook signatures and the signed media-stream URL, fail-closed in every case."""

from __future__ import annotations

import base64
import time

import pytest
from patter_telnyx.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    load_public_key,
    problem,
)
from patter_telnyx.streamauth import (
    UrlSigner,
    decode_state,
    is_dial_state,
    token_from_state,
    token_state,
)
from patter_telnyx.testing import TestKeys

from patter_core.errors import ConfigError

KEYS = TestKeys()
KEY = load_public_key(KEYS.public_key)
BODY = b'{"data":{"event_type":"call.initiated","payload":{"call_control_id":"v3:abc"}}}'
NOW = 1_800_000_000


def signed(body: bytes = BODY, at: float = NOW, keys: TestKeys = KEYS) -> tuple[str, str]:
    headers = keys.headers(body, timestamp=at)
    return headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]


def test_a_valid_signature_is_accepted() -> None:
    assert problem(KEY, BODY, *signed(), now=NOW) is None
    assert problem(KEY, BODY, *signed(at=NOW - 299), now=NOW) is None


def test_a_signature_from_another_key_is_refused() -> None:
    assert "does not match" in str(problem(KEY, BODY, *signed(keys=TestKeys()), now=NOW))


def test_a_changed_body_or_timestamp_is_refused() -> None:
    signature, stamp = signed()
    assert "does not match" in str(problem(KEY, BODY + b" ", signature, stamp, now=NOW))
    assert "does not match" in str(problem(KEY, BODY, signature, str(NOW + 1), now=NOW))


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_stale_or_future_timestamps_are_refused(offset: int) -> None:
    reason = problem(KEY, BODY, *signed(at=NOW + offset), now=NOW)
    assert reason is not None and "off our clock" in reason


def test_missing_headers_are_named() -> None:
    signature, stamp = signed()
    assert problem(KEY, BODY, None, stamp, now=NOW) == f"missing {SIGNATURE_HEADER}"
    assert problem(KEY, BODY, signature, None, now=NOW) == f"missing {TIMESTAMP_HEADER}"
    assert problem(KEY, BODY, "", "", now=NOW) == (
        f"missing {SIGNATURE_HEADER} and {TIMESTAMP_HEADER}"
    )


@pytest.mark.parametrize(
    ("signature", "stamp", "why"),
    [
        ("%%%", str(NOW), "not base64"),
        (base64.b64encode(b"x" * 63).decode(), str(NOW), "63 bytes"),
        ("AAAA", "soon", "Unix seconds"),
        ("AAAA", "-5", "Unix seconds"),
        ("AAAA", "1" * 40, "Unix seconds"),
        ("AAAA", "١٨٠٠٠٠٠٠٠٠", "Unix seconds"),
    ],
)
def test_malformed_headers_are_refused(signature: str, stamp: str, why: str) -> None:
    assert why in str(problem(KEY, BODY, signature, stamp, now=NOW))


def test_the_default_clock_is_now() -> None:
    assert problem(KEY, BODY, *signed(at=time.time())) is None


def test_public_keys_are_checked_when_loaded() -> None:
    with pytest.raises(ConfigError, match="not base64"):
        load_public_key("no way")
    with pytest.raises(ConfigError, match="16 bytes"):
        load_public_key(base64.b64encode(b"k" * 16).decode())


# ---------------------------------------------------------------------- the media credentials


def test_a_minted_stream_query_is_accepted_until_it_expires() -> None:
    signer = UrlSigner(b"k" * 32, ttl_s=300)
    query = signer.query("v3:call-1", now=NOW)
    assert signer.problem(query, now=NOW + 299) is None
    assert "expired" in str(signer.problem(query, now=NOW + 301))


@pytest.mark.parametrize(
    "change",
    [
        lambda q: q.replace("call=v3", "call=v4"),
        lambda q: q.replace("exp=", "exp=9"),
        lambda q: q[:-3] + "AAA",
        lambda q: q.split("&sig=")[0],
        lambda q: "",
        lambda q: q + "&sig=again",
        lambda q: q.replace("sig=", "sig=%C3%A9"),
        lambda q: q + "&x=" + "y" * 3000,
    ],
)
def test_a_tampered_stream_query_is_refused(change: object) -> None:
    signer = UrlSigner(b"k" * 32)
    query = signer.query("v3:call-1")
    assert signer.problem(change(query)) is not None  # type: ignore[operator]


def test_another_servers_query_is_refused() -> None:
    assert UrlSigner(b"a" * 32).problem(UrlSigner(b"b" * 32).query("v3:c")) is not None
    assert "k" * 8 not in repr(UrlSigner(b"k" * 32))


def test_client_state_carries_the_token_and_nothing_else() -> None:
    assert token_from_state(token_state("tok-1")) == "tok-1"
    assert token_from_state(base64.b64encode(b"someone else's state").decode()) == ""
    assert token_from_state("%%%") == ""
    assert decode_state(base64.b64encode(b"\xff\xfe").decode()) is None
    assert not is_dial_state(token_state("x"))
