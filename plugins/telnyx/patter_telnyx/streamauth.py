"""How a media stream proves it belongs to a call we answered.

Two credentials, each checked where the core gives us the chance:

* The stream URL we hand Telnyx carries ``call``, ``exp`` and ``sig`` query parameters:
  an HMAC-SHA256, under a random key that lives only in this process, of the call and an
  expiry. `Telnyx.authenticate_media` checks it before the WebSocket is accepted, so a
  connection we did not mint never becomes a call session.
* The core's one-time call token travels as the command's ``client_state`` (base64 of
  ``patter1:token:<token>``), which Telnyx repeats in the stream's ``start`` frame; the
  codec returns it in `StreamStarted.call_token` and the core claims it once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlencode

CALL_PARAM, EXPIRES_PARAM, SIG_PARAM = "call", "exp", "sig"
#: How long a minted stream URL may be used to connect (the core's tokens live 300 s).
URL_TTL_S = 300
TOKEN_PREFIX = "patter1:token:"
#: ``client_state`` of calls we dial: their ``call.answered`` webhook starts the stream.
DIAL_MARKER = "patter1:dial"
_MAX_QUERY_CHARS = 2048


def encode_state(text: str) -> str:
    """``client_state`` for ``text`` (Telnyx wants base64)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode_state(client_state: str) -> str | None:
    """The text of a ``client_state``, or ``None`` when it is not base64 UTF-8."""
    try:
        return base64.b64decode(client_state, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def token_state(token: str) -> str:
    """The ``client_state`` that carries the core's call token."""
    return encode_state(TOKEN_PREFIX + token)


def token_from_state(client_state: str) -> str:
    """The call token inside a ``client_state`` we set, or ``""`` when it carries none."""
    text = decode_state(client_state)
    if text is None or not text.startswith(TOKEN_PREFIX):
        return ""
    return text[len(TOKEN_PREFIX) :]


def is_dial_state(client_state: str) -> bool:
    """Whether ``client_state`` marks a call we dialled."""
    return decode_state(client_state) == DIAL_MARKER


class UrlSigner:
    """Mints and checks the signed query string of our media stream URLs."""

    def __init__(self, key: bytes, ttl_s: int = URL_TTL_S) -> None:
        self._key = key
        self.ttl_s = ttl_s

    def __repr__(self) -> str:  # never shows the key
        return f"UrlSigner(ttl_s={self.ttl_s})"

    def _mac(self, call_id: str, expires: str) -> str:
        message = f"patter-telnyx-media|{call_id}|{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def query(self, call_id: str, *, now: float | None = None) -> str:
        """``call=…&exp=…&sig=…`` for a stream of ``call_id``."""
        expires = str(int(time.time() if now is None else now) + self.ttl_s)
        sig = self._mac(call_id, expires)
        return urlencode({CALL_PARAM: call_id, EXPIRES_PARAM: expires, SIG_PARAM: sig})

    def problem(self, query: str, *, now: float | None = None) -> str | None:
        """Why a stream URL's query string is not one we minted and still valid, if it is not."""
        if len(query) > _MAX_QUERY_CHARS:
            return "the stream URL's query string is too long"
        params = parse_qs(query, keep_blank_values=True)
        values = [params.get(name, []) for name in (CALL_PARAM, EXPIRES_PARAM, SIG_PARAM)]
        if any(len(v) != 1 for v in values):
            return "the stream URL lacks its call/exp/sig parameters"
        call_id, expires, sig = (v[0] for v in values)
        expected = self._mac(call_id, expires).encode("ascii")
        if not hmac.compare_digest(expected, sig.encode("utf-8")):
            return "the stream URL's signature is wrong (not a URL this server handed out)"
        if not (expires.isascii() and expires.isdigit()):
            return "the stream URL's expiry is not a number"
        if int(expires) < (time.time() if now is None else now):
            return "the stream URL has expired"
        return None
