"""`TemplateCarrier`: the configured carrier users hand to `Patter`."""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse, PlainTextResponse, Response

from patter_core.carrier import InboundCall
from patter_core.errors import ConfigError, PatterError
from patter_core.specs import CarrierSpec

from . import codec, signing
from .plugin import CARRIER_NAME

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.websockets import WebSocket

    from patter_core.carrier import CarrierContext

SECRET_ENV = "TEMPLATE_SIGNING_SECRET"
MAX_BODY_BYTES = 16 * 1024

log = logging.getLogger("patter_template")


class TemplateCarrier:
    """The template carrier; ``secret`` (default ``$TEMPLATE_SIGNING_SECRET``) signs requests."""

    carrier_name = CARRIER_NAME

    def __init__(self, secret: str = "") -> None:
        self._secret = secret or os.environ.get(SECRET_ENV, "")

    def __repr__(self) -> str:  # never shows the secret
        return "TemplateCarrier()"

    def prepare(self, spec: CarrierSpec) -> None:
        """Refuse to serve without a signing secret: unsigned requests would be accepted."""
        if not self._secret:
            raise ConfigError(
                f"template carrier: no signing secret; pass TemplateCarrier(secret=...) "
                f"or set {SECRET_ENV}"
            )

    async def handle_http(self, route_name: str, request: Request, ctx: CarrierContext) -> Response:
        """Answer the call webhook with where to stream, after checking its signature."""
        if route_name != "voice":
            return PlainTextResponse("unknown route", status_code=404)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("body too large", status_code=413)
        url = ctx.url_for("voice")  # the network signs the public URL it was given
        if not signing.is_valid(
            self._secret, url, body, request.headers.get(signing.SIGNATURE_HEADER)
        ):
            log.warning("template webhook refused: missing or invalid signature for %s", url)
            return PlainTextResponse("invalid signature", status_code=403)
        try:
            fields = json.loads(body)
            call = InboundCall(
                call_id=str(fields["call_id"]),
                caller=str(fields.get("from", "")),
                callee=str(fields.get("to", "")),
            )
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse("expected a JSON object with call_id", status_code=400)
        try:
            token = ctx.issue_call_token(call)
        except PatterError as exc:  # the server takes no new calls (shutting down...)
            log.warning("template call %s rejected: %s", call.call_id, exc)
            return JSONResponse({"reject": "busy"}, status_code=503)
        return JSONResponse({"stream": {"url": ctx.url_for("media"), "token": token}})

    async def authenticate_media(self, websocket: WebSocket, ctx: CarrierContext) -> str | None:
        """Check the upgrade's signature over the public media URL; the reason if refused."""
        url = ctx.url_for("media")
        signature = websocket.headers.get(signing.SIGNATURE_HEADER)
        if not signing.is_valid(self._secret, url, b"", signature):
            return f"the media upgrade is not signed for {url}"
        return None

    # The codec is stateless: plain functions, no per-frame method lookups.
    decode = staticmethod(codec.decode)
    encode_audio = staticmethod(codec.encode_audio)
    encode_mark = staticmethod(codec.encode_mark)
    encode_clear = staticmethod(codec.encode_clear)
