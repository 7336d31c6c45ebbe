"""Request signatures: HMAC-SHA256 over the public URL and the body, hex in a header."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-template-signature"


def sign(secret: str, url: str, body: bytes = b"") -> str:
    """The signature the network sends for a request to ``url`` carrying ``body``."""
    message = url.encode("utf-8") + b"\n" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def is_valid(secret: str, url: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` signs ``url`` and ``body`` with ``secret`` (False when absent)."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(secret, url, body), signature)
