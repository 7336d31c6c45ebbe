"""`Telnyx`: the configured Telnyx carrier users hand to `Patter`."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from patter_core.callcontrol import check_e164
from patter_core.errors import CapabilityError, ConfigError
from patter_core.specs import CarrierSpec

from . import codec, signatures
from .errors import TelnyxApiError
from .plugin import CARRIER_NAME, MEDIA_ROUTE, STATUS_ROUTE, VOICE_ROUTE
from .streamauth import DIAL_MARKER, UrlSigner, encode_state, token_state

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.websockets import WebSocket

    from patter_core.carrier import CarrierContext, DialRequest

    from .rest import RestApi

API_KEY_ENV = "TELNYX_API_KEY"
PUBLIC_KEY_ENV = "TELNYX_PUBLIC_KEY"
CONNECTION_ID_ENV = "TELNYX_CONNECTION_ID"

log = logging.getLogger("patter_telnyx")

#: A ``call_control_id`` goes into a URL path: Telnyx's are ``v3:`` and base64url characters.
CALL_ID = re.compile(r"^[A-Za-z0-9:_\-]{1,256}$")
_REMEMBERED = 4096  # event ids and ended calls kept for de-duplication


def check_call_id(call_id: str) -> str:
    """``call_id`` if shaped like a Telnyx ``call_control_id``, else `ConfigError`."""
    if not isinstance(call_id, str) or not CALL_ID.fullmatch(call_id):
        raise ConfigError(
            f"Telnyx: {call_id!r} is not a call_control_id (letters, digits, ':', '_', '-')"
        )
    return call_id


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _remember(store: OrderedDict[str, None], key: str) -> None:
    store[key] = None
    if len(store) > _REMEMBERED:
        store.popitem(last=False)


class Telnyx:
    """Telnyx Call Control; empty arguments are read from the environment.

    ``api_key``, ``public_key`` and ``connection_id`` default to ``TELNYX_API_KEY``,
    ``TELNYX_PUBLIC_KEY`` (the base64 Ed25519 key from the portal) and
    ``TELNYX_CONNECTION_ID`` (the Call Control application, needed to dial out).
    ``allow_unsigned=True`` turns webhook signature checks off, for local development only.
    ``api_base_url`` replaces ``https://api.telnyx.com/v2`` (a local fake in tests; plain
    http only on loopback). ``hang_up_when_stream_ends`` ends a call whose media stream
    stopped (Telnyx keeps the call up otherwise). Call `aclose` to release the HTTP client.
    """

    carrier_name = CARRIER_NAME

    def __init__(
        self,
        api_key: str = "",
        public_key: str = "",
        connection_id: str = "",
        *,
        api_base_url: str = "",
        allow_unsigned: bool = False,
        api_timeout_s: float = 10.0,
        signature_tolerance_s: int = signatures.DEFAULT_TOLERANCE_S,
        hang_up_when_stream_ends: bool = True,
    ) -> None:
        self._api_key = api_key or os.environ.get(API_KEY_ENV, "")
        self.public_key = (public_key or os.environ.get(PUBLIC_KEY_ENV, "")).strip()
        self.connection_id = connection_id or os.environ.get(CONNECTION_ID_ENV, "")
        self.api_base_url = api_base_url.rstrip("/")
        self.allow_unsigned = allow_unsigned
        self.api_timeout_s = api_timeout_s
        self.signature_tolerance_s = signature_tolerance_s
        self.hang_up_when_stream_ends = hang_up_when_stream_ends
        self._verify_key: Ed25519PublicKey | None = None
        self._signer = UrlSigner(secrets.token_bytes(32))
        self._rest: RestApi | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self.transferred: OrderedDict[str, str] = OrderedDict()  # call id → target
        if self.api_base_url:
            parts = urlsplit(self.api_base_url)
            secure = parts.scheme == "https" or (
                parts.scheme == "http" and _loopback(parts.hostname or "")
            )
            if not secure or not parts.netloc or parts.query or parts.fragment:
                raise ConfigError(
                    "Telnyx: api_base_url must be an https base URL without a query (plain http "
                    f"only on loopback, e.g. 'http://127.0.0.1:8080/v2'); got {api_base_url!r}"
                )
        if api_timeout_s <= 0 or signature_tolerance_s <= 0:
            raise ConfigError("Telnyx: api_timeout_s and signature_tolerance_s must be positive")

    def __repr__(self) -> str:  # never shows the API key
        return (
            f"Telnyx(connection_id={self.connection_id!r}, has_api_key={self.has_api_key}, "
            f"allow_unsigned={self.allow_unsigned!r})"
        )

    @property
    def has_api_key(self) -> bool:
        """Whether an API key is configured (the key itself is never exposed)."""
        return bool(self._api_key)

    def prepare(self, spec: CarrierSpec) -> None:
        """Check the configuration before serving; raise `ConfigError` saying what to set."""
        routes = {r.name for r in spec.routes}
        missing = {VOICE_ROUTE, STATUS_ROUTE, MEDIA_ROUTE} - routes
        if missing:
            raise ConfigError(f"Telnyx: carrier spec lacks the route(s) {sorted(missing)}")
        if not self._api_key:
            raise ConfigError(
                "Telnyx: no API key, so calls cannot be answered (Call Control answers with a "
                f"REST command); pass Telnyx(api_key=...) or set {API_KEY_ENV}"
            )
        if self.public_key:
            self._verify_key = signatures.load_public_key(self.public_key)
        elif not self.allow_unsigned:
            raise ConfigError(
                "Telnyx: no public key, so webhook signatures cannot be checked; pass "
                f"Telnyx(public_key=...) or set {PUBLIC_KEY_ENV} to the base64 Public Key from "
                "the Telnyx portal (Account Settings → Keys & Credentials). For local "
                "development only, Telnyx(allow_unsigned=True) turns the checks off."
            )
        if self.allow_unsigned:
            log.warning(
                "Telnyx: allow_unsigned=True, webhook signatures are NOT checked; anyone who "
                "finds this server can make it answer calls. Use this for local development only."
            )

    # ------------------------------------------------------------------ webhooks

    def signature_problem(
        self, body: bytes, signature: str | None, timestamp: str | None
    ) -> str | None:
        """Why a webhook's signature is refused, or ``None`` if it is accepted."""
        if self.allow_unsigned:
            return None
        if self._verify_key is None:
            if not self.public_key:
                return "no Telnyx public key is configured"
            self._verify_key = signatures.load_public_key(self.public_key)
        return signatures.problem(
            self._verify_key, body, signature, timestamp, tolerance_s=self.signature_tolerance_s
        )

    def seen_before(self, event_id: str) -> bool:
        """Whether this webhook event was already handled (Telnyx may deliver one twice)."""
        if not event_id:
            return False
        if event_id in self._seen:
            return True
        _remember(self._seen, event_id)
        return False

    def call_ended(self, call_id: str) -> None:
        """Note that Telnyx reported ``call_id`` over."""
        _remember(self._ended, call_id)

    async def handle_http(self, route_name: str, request: Request, ctx: CarrierContext) -> Response:
        """Verify and act on a Call Control webhook (both HTTP routes take every event)."""
        from . import webhooks

        return await webhooks.handle(self, route_name, request, ctx)

    def stream_url(self, call_id: str, ctx: CarrierContext) -> str:
        """Our public media URL with a signed query naming ``call_id``."""
        return f"{ctx.url_for(MEDIA_ROUTE)}?{self._signer.query(call_id)}"

    async def answer(self, call_id: str, token: str, ctx: CarrierContext) -> None:
        """Answer an incoming call, streaming to our media route with the call token."""
        api = await self._api()
        await api.answer(check_call_id(call_id), self.stream_url(call_id, ctx), token_state(token))

    async def stream(self, call_id: str, token: str, ctx: CarrierContext) -> None:
        """Start streaming an answered call (one we dialled) with the call token."""
        api = await self._api()
        url = self.stream_url(call_id, ctx)
        await api.start_streaming(check_call_id(call_id), url, token_state(token))

    async def reject(self, call_id: str) -> None:
        """Refuse an incoming call with a busy signal."""
        api = await self._api()
        await api.reject(check_call_id(call_id))

    async def stream_ended(self, call_id: str) -> None:
        """Hang up a call whose stream stopped, unless it ended or was transferred."""
        if not self.hang_up_when_stream_ends or call_id in self._ended:
            return
        if call_id in self.transferred:
            return
        try:
            await self.hang_up(call_id)
        except (TelnyxApiError, ConfigError) as exc:
            log.error("Telnyx: could not hang up call %s after its stream ended: %s", call_id, exc)

    async def authenticate_media(self, websocket: WebSocket, ctx: CarrierContext) -> str | None:
        """Check the stream URL's signed query (see `patter_telnyx.streamauth`)."""
        return self._signer.problem(websocket.url.query)

    # ------------------------------------------------------------------ call control

    async def dial(self, request: DialRequest) -> str:
        """Place an outbound call (``POST /calls``); its stream starts once it is answered."""
        if request.machine_detection:
            raise CapabilityError("Telnyx: answering-machine detection is not supported yet")
        check_e164(request.to, what="number to call")
        check_e164(request.from_, what="number to call from")
        if not self.connection_id:
            raise ConfigError(
                "Telnyx: dialling needs the Call Control application id; pass "
                f"Telnyx(connection_id=...) or set {CONNECTION_ID_ENV}"
            )
        api = await self._api()
        call_id = await api.dial(request, self.connection_id, encode_state(DIAL_MARKER))
        log.info("Telnyx call %s placed from %s to %s", call_id, request.from_, request.to)
        return call_id

    async def hang_up(self, call_id: str) -> None:
        """End a call (``hangup``); a call that already ended is not an error."""
        api = await self._api()
        try:
            await api.hang_up(check_call_id(call_id))
        except TelnyxApiError as exc:
            if not exc.call_has_ended:
                raise
        self.call_ended(call_id)

    async def transfer(self, call_id: str, to: str) -> None:
        """Transfer a call to the E.164 number ``to``; Telnyx bridges the caller to it."""
        check_call_id(call_id)
        check_e164(to, what="transfer target")
        api = await self._api()
        self.transferred[call_id] = to  # before the command: its stream may stop at once
        if len(self.transferred) > _REMEMBERED:
            self.transferred.popitem(last=False)
        try:
            await api.transfer(call_id, to)
        except TelnyxApiError:
            del self.transferred[call_id]
            raise

    async def aclose(self) -> None:
        """Close the REST client's HTTP connections (a new client is made if needed again)."""
        rest, self._rest = self._rest, None
        if rest is not None and rest.loop is asyncio.get_running_loop():
            await rest.aclose()

    async def _api(self) -> RestApi:
        """The REST client for the running event loop, made on first use."""
        from .rest import RestApi

        loop = asyncio.get_running_loop()
        if self._rest is not None and self._rest.loop is loop:
            return self._rest
        if not self._api_key:
            raise ConfigError(f"Telnyx: call control needs an API key; set {API_KEY_ENV}")
        # A client made under another event loop (an earlier asyncio.run) cannot be used here.
        self._rest = RestApi(
            self._api_key, base_url=self.api_base_url, timeout_s=self.api_timeout_s
        )
        return self._rest

    # The codec is stateless; plain functions avoid a method call per frame.
    decode = staticmethod(codec.decode)
    encode_audio = staticmethod(codec.encode_audio)
    encode_mark = staticmethod(codec.encode_mark)
    encode_clear = staticmethod(codec.encode_clear)
