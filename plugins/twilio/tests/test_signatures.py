"""Signatures: our helpers agree with the twilio package and with Twilio's published vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from patter_twilio.signatures import Params, compute_signature, is_valid
from twilio.request_validator import RequestValidator

VOICE_URL = "https://example.com/twilio/voice?foo=bar"
VOICE_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def params(mapping: dict[str, str]) -> Params:
    return Params(mapping.items())


def test_known_vectors_from_protocols_b6() -> None:
    assert compute_signature("12345", VOICE_URL, params(VOICE_PARAMS)) == (
        "+OsKn8AdY+QtZYPe7z5lDzT0vkg="
    )
    documented = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert compute_signature("12345", url, params(documented)) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert compute_signature("12345", "wss://example.com/media") == "7PR3qMkpDyEJtMrVOY/LDyNq8J8="


def test_matches_a_hand_written_hmac() -> None:
    message = VOICE_URL + "".join(k + VOICE_PARAMS[k] for k in sorted(VOICE_PARAMS))
    digest = hmac.new(b"12345", message.encode(), hashlib.sha1).digest()
    assert compute_signature("12345", VOICE_URL, params(VOICE_PARAMS)) == (
        base64.b64encode(digest).decode()
    )


def test_is_valid_accepts_twilio_signatures_and_rejects_tampering() -> None:
    signature = RequestValidator("12345").compute_signature(VOICE_URL, VOICE_PARAMS)
    assert is_valid("12345", VOICE_URL, params(VOICE_PARAMS), signature)
    assert is_valid(
        "12345", VOICE_URL.replace(".com/", ".com:443/"), params(VOICE_PARAMS), signature
    )
    assert not is_valid("12345", VOICE_URL, params({**VOICE_PARAMS, "Digits": "9"}), signature)
    assert not is_valid("54321", VOICE_URL, params(VOICE_PARAMS), signature)
    assert not is_valid("12345", VOICE_URL + "&x=1", params(VOICE_PARAMS), signature)


@pytest.mark.parametrize("signature", [None, "", "garbage", "7PR3qMkpDyEJtMrVOY/LDyNq8J8"])
def test_missing_or_malformed_signature_is_invalid(signature: str | None) -> None:
    assert not is_valid("12345", "wss://example.com/media", None, signature)


def test_websocket_signature_is_over_the_wss_url_only() -> None:
    signature = "7PR3qMkpDyEJtMrVOY/LDyNq8J8="
    assert is_valid("12345", "wss://example.com/media", None, signature)
    assert not is_valid("12345", "https://example.com/media", None, signature)


def test_no_token_never_validates() -> None:
    signature = compute_signature("", "wss://example.com/media")
    assert not is_valid("", "wss://example.com/media", None, signature)


def test_repeated_form_fields_are_all_signed() -> None:
    multi = Params([("A", "1"), ("A", "2"), ("B", "x")])
    expected = RequestValidator("t").compute_signature(
        "https://h/p", {"A": "1", "B": "x"}
    )  # a plain dict only knows one value: the multi-valued form must sign differently
    assert compute_signature("t", "https://h/p", multi) != expected
    message = "https://h/pA1A2Bx"
    digest = hmac.new(b"t", message.encode(), hashlib.sha1).digest()
    assert compute_signature("t", "https://h/p", multi) == base64.b64encode(digest).decode()


def test_sha256_settings_header_selects_hmac_sha256() -> None:
    url = "https://example.com/twilio/voice"
    sha256 = RequestValidator("k").compute_signature(url, {}, "HMAC_SHA256")
    header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    assert is_valid("k", url, None, sha256, settings_header=header)
    assert not is_valid("k", url, None, sha256)
