"""`Twilio`: the configured Twilio carrier users hand to `Patter`."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from patter_core.errors import ConfigError
from patter_core.specs import CarrierSpec, RouteSpec

from . import codec, signatures
from .plugin import CARRIER_NAME, CARRIER_SPEC

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from patter_core.carrier import CarrierContext

ACCOUNT_SID_ENV = "TWILIO_ACCOUNT_SID"
AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
PUBLIC_URL_ENV = "PATTER_PUBLIC_URL"

log = logging.getLogger("patter_twilio")


class Twilio:
    """Twilio Programmable Voice; empty arguments are read from the environment.

    ``account_sid``/``auth_token`` default to ``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN``;
    ``webhook_url`` (the public https base URL Twilio reaches this server at) defaults to
    ``PATTER_PUBLIC_URL``, then to the server's own idea of its public URL.
    ``allow_unsigned=True`` turns signature checks off and is meant for local development only.
    """

    carrier_name = CARRIER_NAME

    def __init__(
        self,
        account_sid: str = "",
        auth_token: str = "",
        *,
        webhook_url: str = "",
        allow_unsigned: bool = False,
        stream_name: str = "patter",
    ) -> None:
        self.account_sid = account_sid or os.environ.get(ACCOUNT_SID_ENV, "")
        self._auth_token = auth_token or os.environ.get(AUTH_TOKEN_ENV, "")
        self.webhook_url = (webhook_url or os.environ.get(PUBLIC_URL_ENV, "")).rstrip("/")
        self.allow_unsigned = allow_unsigned
        self.stream_name = stream_name
        self._routes: dict[str, RouteSpec] = {r.name: r for r in CARRIER_SPEC.routes}

    def __repr__(self) -> str:  # never shows the token
        return (
            f"Twilio(account_sid={self.account_sid!r}, webhook_url={self.webhook_url!r}, "
            f"allow_unsigned={self.allow_unsigned!r})"
        )

    @property
    def has_auth_token(self) -> bool:
        """Whether an auth token is configured (the token itself is never exposed)."""
        return bool(self._auth_token)

    def prepare(self, spec: CarrierSpec) -> None:
        """Check the configuration before serving; raise `ConfigError` saying what to set."""
        self._routes = {r.name: r for r in spec.routes}
        missing = {"voice", "status", "media"} - self._routes.keys()
        if missing:
            raise ConfigError(f"Twilio: carrier spec lacks the route(s) {sorted(missing)}")
        if not self._auth_token and not self.allow_unsigned:
            raise ConfigError(
                "Twilio: no auth token, so webhook signatures cannot be checked; pass "
                f"Twilio(auth_token=...) or set {AUTH_TOKEN_ENV} (find it in the Twilio console). "
                "For local development only, Twilio(allow_unsigned=True) turns the checks off."
            )
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            secure = parts.scheme == "https"
            if not (secure or (parts.scheme == "http" and self.allow_unsigned)) or not parts.netloc:
                raise ConfigError(
                    f"Twilio: webhook_url / {PUBLIC_URL_ENV} must be the public https base URL "
                    f"of this server, like 'https://agent.example.com'; got {self.webhook_url!r}"
                )
            if parts.query or parts.fragment:
                raise ConfigError(
                    f"Twilio: webhook_url / {PUBLIC_URL_ENV} must be a base URL without a query "
                    f"or fragment; got {self.webhook_url!r}"
                )
        if self.allow_unsigned:
            log.warning(
                "Twilio: allow_unsigned=True, webhook and media-stream signatures are NOT "
                "checked; anyone who finds this server can place calls through it. "
                "Use this for local development only."
            )

    def route_url(self, route_name: str, ctx: CarrierContext) -> str:
        """The public URL Twilio uses for one of our routes: what it signs and what TwiML names.

        The server's public URL wins (it is seeded from ``webhook_url`` unless the user gave
        the server another one); ``webhook_url`` is the fallback when the server has none.
        """
        if ctx.public_url or not self.webhook_url:
            return ctx.url_for(route_name)
        route = self._routes[route_name]
        base = self.webhook_url
        if route.kind == "websocket":
            # https://host → wss://host, and http → ws for local development.
            base = "ws" + base[4:]
        return base + route.path

    async def handle_http(self, route_name: str, request: Request, ctx: CarrierContext) -> Response:
        """Answer the voice webhook (TwiML) or the status callback, after checking the signature."""
        from . import webhooks

        return await webhooks.handle(self, route_name, request, ctx)

    async def authenticate_media(self, websocket: WebSocket, ctx: CarrierContext) -> str | None:
        """Check the upgrade's signature over the ``wss://`` stream URL; the reason if refused."""
        if self.allow_unsigned:
            return None
        signature = websocket.headers.get(signatures.SIGNATURE_HEADER)
        if not self._auth_token:
            return "no Twilio auth token is configured, so the media stream cannot be verified"
        if not signature:
            return "the media WebSocket upgrade carries no X-Twilio-Signature header"
        url = self.route_url("media", ctx)
        settings = websocket.headers.get(signatures.SIGNATURE_SETTINGS_HEADER)
        if not self.verify(url, None, signature, settings):
            return f"the media WebSocket upgrade's X-Twilio-Signature does not sign {url}"
        return None

    def verify(
        self,
        url: str,
        params: signatures.Params | None,
        signature: str | None,
        settings_header: str | None = None,
    ) -> bool:
        """Whether a request to ``url`` with form ``params`` is signed with our auth token."""
        if self.allow_unsigned:
            return True
        return signatures.is_valid(
            self._auth_token, url, params, signature, settings_header=settings_header
        )

    # The codec is stateless; plain functions avoid a method call per frame.
    decode = staticmethod(codec.decode)
    encode_audio = staticmethod(codec.encode_audio)
    encode_mark = staticmethod(codec.encode_mark)
    encode_clear = staticmethod(codec.encode_clear)
