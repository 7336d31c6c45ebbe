"""Telnyx webhook signatures: Ed25519 over ``timestamp|raw body``, with a replay window.

Telnyx sends ``telnyx-signature-ed25519`` (base64 of a 64-byte signature) and
``telnyx-timestamp`` (Unix seconds) and signs the bytes ``f"{timestamp}|"`` followed by
the raw request body; the public key is the base64 one shown in the Telnyx portal.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING

from patter_core.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
#: How far a webhook's timestamp may be from our clock, either way (Telnyx's SDKs use 300 s).
DEFAULT_TOLERANCE_S = 300
_MAX_TIMESTAMP_CHARS = 12


def load_public_key(encoded: str) -> Ed25519PublicKey:
    """The Ed25519 key from its base64 text; `ConfigError` saying what is wrong otherwise."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            "Telnyx: the public key is not base64; copy it from the Telnyx portal "
            "(Account Settings → Keys & Credentials → Public Key)"
        ) from None
    if len(raw) != 32:
        raise ConfigError(
            f"Telnyx: the public key decodes to {len(raw)} bytes, an Ed25519 key has 32; "
            "copy the base64 Public Key from the Telnyx portal"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def problem(
    key: Ed25519PublicKey,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> str | None:
    """Why a webhook's signature is not acceptable, or ``None`` if it is valid and fresh."""
    from cryptography.exceptions import InvalidSignature

    if not signature or not timestamp:
        missing = [
            name
            for name, value in ((SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, timestamp))
            if not value
        ]
        return f"missing {' and '.join(missing)}"
    stamp = timestamp.strip()
    if not (0 < len(stamp) <= _MAX_TIMESTAMP_CHARS and stamp.isascii() and stamp.isdigit()):
        return "the timestamp is not Unix seconds"
    skew = (time.time() if now is None else now) - int(stamp)
    if abs(skew) > tolerance_s:
        return f"the timestamp is {abs(skew):.0f} s off our clock (tolerance {tolerance_s} s)"
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64"
    if len(raw) != 64:
        return f"the signature has {len(raw)} bytes, not 64"
    try:
        key.verify(raw, stamp.encode("ascii") + b"|" + body)
    except InvalidSignature:
        return "the signature does not match the body"
    return None
