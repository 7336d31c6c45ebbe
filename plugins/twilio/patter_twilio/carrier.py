"""`Twilio`: the configured Twilio carrier users hand to `Patter`."""

from __future__ import annotations

import os

from patter_core.errors import ConfigError
from patter_core.specs import CarrierSpec

from .plugin import CARRIER_NAME

ACCOUNT_SID_ENV = "TWILIO_ACCOUNT_SID"
AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"


class Twilio:
    """Twilio Programmable Voice; empty arguments read ``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN``."""

    carrier_name = CARRIER_NAME

    def __init__(self, account_sid: str = "", auth_token: str = "") -> None:
        self.account_sid = account_sid or os.environ.get(ACCOUNT_SID_ENV, "")
        self._auth_token = auth_token or os.environ.get(AUTH_TOKEN_ENV, "")

    def __repr__(self) -> str:  # never shows the token
        return f"Twilio(account_sid={self.account_sid!r})"

    def prepare(self, spec: CarrierSpec) -> None:
        if not self._auth_token:
            raise ConfigError(f"Twilio: no auth token; pass auth_token= or set {AUTH_TOKEN_ENV}")
