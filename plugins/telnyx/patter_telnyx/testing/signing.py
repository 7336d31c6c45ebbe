"""A throwaway Ed25519 key pair that signs webhooks the way Telnyx does."""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER


class TestKeys:
    """A fresh signing key; `public_key` is what `Telnyx(public_key=...)` takes."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self) -> None:
        self._private = Ed25519PrivateKey.generate()
        raw = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:  # never shows the private key
        return f"TestKeys(public_key={self.public_key!r})"

    def signature(self, body: bytes, timestamp: str) -> str:
        """Base64 Ed25519 signature of ``timestamp|body``."""
        return base64.b64encode(self._private.sign(timestamp.encode() + b"|" + body)).decode()

    def headers(self, body: bytes, *, timestamp: float | None = None) -> dict[str, str]:
        """The two signature headers Telnyx sends with ``body``."""
        stamp = str(int(time.time() if timestamp is None else timestamp))
        return {SIGNATURE_HEADER: self.signature(body, stamp), TIMESTAMP_HEADER: stamp}
