"""A small real server for the Twilio carrier's tests: Starlette routes run by uvicorn.

It stands in for Patter's server (not for the wire): the carrier answers the webhooks and
vets the media upgrade exactly as in production, and the media handler records what it
decoded and plays audio back with marks, so the simulator is exercised over real sockets.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from patter_twilio import Twilio
from patter_twilio.plugin import CARRIER_SPEC
from patter_twilio.testing import serve_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from patter_core.carrier import (
    CarrierEvent,
    DtmfReceived,
    InboundCall,
    MarkEchoed,
    MediaReceived,
    StreamStarted,
    StreamStopped,
)
from patter_core.errors import CarrierProtocolError

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://example.test"


class Context:
    """A stand-in for the core's CarrierContext: tokens, statuses and public URLs."""

    def __init__(self, public_url: str = PUBLIC_URL) -> None:
        self.public_url = public_url
        self.tokens: dict[str, InboundCall] = {}
        self.issued: list[InboundCall] = []  # every call a token was issued for, in order
        self.statuses: list[tuple[str, str, dict[str, str]]] = []

    def url_for(self, route_name: str) -> str:
        route = next(r for r in CARRIER_SPEC.routes if r.name == route_name)
        base = self.public_url
        if route.kind == "websocket":
            base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
        return base + route.path

    def issue_call_token(self, call: InboundCall) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = call
        self.issued.append(call)
        return token

    def report_status(self, call_id: str, status: str, details: Mapping[str, str]) -> None:
        self.statuses.append((call_id, status, dict(details)))


class StreamLog:
    """What the server saw on one media stream."""

    def __init__(self) -> None:
        self.events: list[CarrierEvent] = []
        self.raw: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.sent_at: dict[str, tuple[float, float]] = {}  # mark → (sent, audio ms before it)
        self.echoed_at: dict[str, float] = {}
        self.refused = ""

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


Behaviour = Callable[["MediaHandler", CarrierEvent], Any]


class MediaHandler:
    """Runs one accepted media stream; ``behaviour`` decides what to send back."""

    def __init__(self, ws: WebSocket, carrier: Twilio, log: StreamLog) -> None:
        self.ws, self.carrier, self.log = ws, carrier, log
        self.stream_id = ""
        self.queued_ms = 0.0
        self.first_sent = 0.0
        self.marks = 0

    async def play(self, audio: bytes, chunk_ms: int = 200) -> None:
        """Send ``audio`` at once in ``chunk_ms`` pieces, each followed by a mark."""
        step = chunk_ms * 8
        if not self.first_sent:
            self.first_sent = time.monotonic()
        for i in range(0, len(audio), step):
            piece = audio[i : i + step]
            await self.ws.send_text(
                self.carrier.encode_audio(self.stream_id, base64.b64encode(piece).decode())
            )
            self.queued_ms += len(piece) / 8
            self.marks += 1
            name = f"m{self.marks}"
            self.log.sent_at[name] = (time.monotonic(), self.queued_ms)
            await self.ws.send_text(self.carrier.encode_mark(self.stream_id, name))

    async def clear(self) -> None:
        await self.ws.send_text(self.carrier.encode_clear(self.stream_id))


def make_app(
    carrier: Twilio,
    ctx: Context,
    behaviour: Behaviour | None = None,
) -> tuple[Starlette, list[StreamLog]]:
    """The app and the list every media stream's `StreamLog` is appended to."""
    logs: list[StreamLog] = []

    async def voice(request: Request) -> Response:
        return await carrier.handle_http("voice", request, ctx)

    async def status(request: Request) -> Response:
        return await carrier.handle_http("status", request, ctx)

    async def media(ws: WebSocket) -> None:
        log = StreamLog()
        logs.append(log)
        reason = await carrier.authenticate_media(ws, ctx)
        if reason is not None:
            log.refused = reason
            await ws.close(code=1008)
            return
        await ws.accept()
        handler = MediaHandler(ws, carrier, log)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                text = await ws.receive_text()
                log.raw.append(json.loads(text))
                try:
                    event = carrier.decode(text)
                except CarrierProtocolError as exc:
                    log.errors.append(str(exc))
                    continue
                if event is None:
                    continue
                log.events.append(event)
                if isinstance(event, StreamStarted):
                    call = ctx.tokens.pop(event.call_token, None)
                    if call is None or call.call_id != event.call_id:
                        log.refused = "bad call token"
                        await ws.close(code=1008, reason="bad call token")
                        return
                    handler.stream_id = event.stream_id
                elif isinstance(event, MarkEchoed):
                    log.echoed_at[event.name] = time.monotonic()
                if behaviour is not None and await behaviour(handler, event) is False:
                    await ws.close(code=1000, reason="call ended by the server")
                    return
                if isinstance(event, StreamStopped):
                    return

    app = Starlette(
        routes=[
            Route("/twilio/voice", voice, methods=["POST"]),
            Route("/twilio/status", status, methods=["POST"]),
            WebSocketRoute("/twilio/media", media),
        ]
    )
    return app, logs


async def echo(handler: MediaHandler, event: CarrierEvent) -> None:
    """Play every caller frame straight back, each followed by a mark."""
    if isinstance(event, MediaReceived):
        await handler.play(base64.b64decode(event.payload), chunk_ms=20)


def on_dtmf(digit: str, action: Callable[[MediaHandler], Any]) -> Behaviour:
    async def behaviour(handler: MediaHandler, event: CarrierEvent) -> Any:
        if isinstance(event, DtmfReceived) and event.digit == digit:
            return await action(handler)
        return None

    return behaviour


def running(app: Starlette) -> contextlib.AbstractAsyncContextManager[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) with the helper the plugin ships to users."""
    return serve_app(app)
