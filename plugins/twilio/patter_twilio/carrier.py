"""`Twilio`: the configured Twilio carrier users hand to `Patter`."""

from __future__ import annotations

import asyncio
import logging
import os
import re
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

    from patter_core.carrier import CarrierContext, DialRequest

    from .rest import RestApi

ACCOUNT_SID_ENV = "TWILIO_ACCOUNT_SID"
AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
PUBLIC_URL_ENV = "PATTER_PUBLIC_URL"

log = logging.getLogger("patter_twilio")

E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def check_e164(number: str, what: str = "phone number") -> str:
    """``number`` if it is E.164 (``+`` and 2 to 15 digits), else `ConfigError` saying so."""
    if not E164.fullmatch(number):
        raise ConfigError(
            f"Twilio: {what} {number!r} is not an E.164 number; expected '+', the country "
            "code and the number, 2 to 15 digits in all, like '+15551230000'"
        )
    return number


CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


def check_call_sid(call_id: str) -> str:
    """``call_id`` if shaped like a Twilio ``CallSid`` (it goes in a URL), else `ConfigError`."""
    if not CALL_SID.fullmatch(call_id):
        raise ConfigError(
            f"Twilio: {call_id!r} is not a Twilio CallSid; expected 'CA' and 32 hex digits"
        )
    return call_id


class Twilio:
    """Twilio Programmable Voice; empty arguments are read from the environment.

    ``account_sid``/``auth_token`` default to ``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN``;
    ``webhook_url`` (the public https base URL Twilio reaches this server at) defaults to
    ``PATTER_PUBLIC_URL``, then to the server's own idea of its public URL.
    ``allow_unsigned=True`` turns signature checks off and is meant for local development only.
    ``api_base_url`` sends REST requests somewhere other than ``https://api.twilio.com`` (a
    local fake in tests); ``api_timeout_s`` bounds each REST request. Call `aclose` when done
    placing calls to release the REST client's HTTP session.
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
        api_base_url: str = "",
        api_timeout_s: float = 15.0,
    ) -> None:
        self.account_sid = account_sid or os.environ.get(ACCOUNT_SID_ENV, "")
        self._auth_token = auth_token or os.environ.get(AUTH_TOKEN_ENV, "")
        self.webhook_url = (webhook_url or os.environ.get(PUBLIC_URL_ENV, "")).rstrip("/")
        self.allow_unsigned = allow_unsigned
        self.stream_name = stream_name
        self.api_base_url = api_base_url.rstrip("/")
        self.api_timeout_s = api_timeout_s
        self._routes: dict[str, RouteSpec] = {r.name: r for r in CARRIER_SPEC.routes}
        self._rest: RestApi | None = None
        if self.api_base_url:
            parts = urlsplit(self.api_base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
                raise ConfigError(
                    "Twilio: api_base_url must be an http(s) base URL without a query, like "
                    f"'http://127.0.0.1:8080'; got {api_base_url!r}"
                )
        if api_timeout_s <= 0:
            raise ConfigError(f"Twilio: api_timeout_s must be positive; got {api_timeout_s!r}")

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

    # ------------------------------------------------------------------ call control (REST)

    async def dial(self, request: DialRequest) -> str:
        """Place an outbound call (``calls.create``); returns its ``CallSid``."""
        api = await self._api()
        return await api.dial(request)

    async def hang_up(self, call_id: str) -> None:
        """End a call (``calls(sid).update(status="completed")``)."""
        check_call_sid(call_id)
        api = await self._api()
        await api.hang_up(call_id)

    async def transfer(self, call_id: str, to: str) -> None:
        """Cold-transfer a call to the E.164 number ``to``: its TwiML becomes ``<Dial>``."""
        check_call_sid(call_id)
        check_e164(to, "transfer target")
        api = await self._api()
        await api.transfer(call_id, to)

    async def configure_number(
        self, phone_number: str, voice_url: str, status_url: str = ""
    ) -> str:
        """Point one of your numbers' voice webhook (and status callback) at ``voice_url``."""
        check_e164(phone_number)
        api = await self._api()
        return await api.configure_number(phone_number, voice_url, status_url)

    async def aclose(self) -> None:
        """Close the REST client's HTTP session (a new one is opened if needed again)."""
        rest, self._rest = self._rest, None
        if rest is not None and rest.loop is asyncio.get_running_loop():
            await rest.aclose()

    async def _api(self) -> RestApi:
        """The REST client for the running event loop, made on first use."""
        from .rest import RestApi

        loop = asyncio.get_running_loop()
        if self._rest is not None and self._rest.loop is loop:
            return self._rest
        missing = [
            name
            for name, value in (
                (ACCOUNT_SID_ENV, self.account_sid),
                (AUTH_TOKEN_ENV, self._auth_token),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "Twilio: call control needs the account SID and auth token; pass "
                f"Twilio(account_sid=..., auth_token=...) or set {' and '.join(missing)}"
            )
        # A client made under another event loop (an earlier asyncio.run) cannot be used here.
        self._rest = RestApi(
            self.account_sid,
            self._auth_token,
            base_url=self.api_base_url,
            timeout_s=self.api_timeout_s,
        )
        return self._rest

    # The codec is stateless; plain functions avoid a method call per frame.
    decode = staticmethod(codec.decode)
    encode_audio = staticmethod(codec.encode_audio)
    encode_mark = staticmethod(codec.encode_mark)
    encode_clear = staticmethod(codec.encode_clear)
