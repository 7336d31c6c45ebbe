"""The ASGI server: the carrier's routes, ``GET /health``, and the live calls.

`build_app` returns a Starlette app that can run alone (``phone.serve``) or be mounted in
a user's own Starlette/FastAPI app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from .call import CallSession, Claim
from .callcontrol import check_e164
from .capabilities import require
from .carrier import CallControl, Carrier, DialRequest, InboundCall, StreamStarted
from .errors import CallSetupError, ConfigError
from .outbound import FINAL_STATUSES, OutboundCall
from .records import CallResult
from .specs import CarrierSpec

if TYPE_CHECKING:
    from .app import Agent, Patter

log = logging.getLogger("patter.server")

PUBLIC_URL_ENV = "PATTER_PUBLIC_URL"
CALL_TOKEN_TTL_S = 300.0
RECENT_CALLS = 1000


class CallDirectory:
    """Per-call tokens issued at the webhook and claimed once by the media stream."""

    def __init__(self, ttl_s: float = CALL_TOKEN_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._pending: dict[str, tuple[InboundCall, float]] = {}
        self.statuses: dict[str, list[tuple[str, dict[str, str]]]] = {}

    def record_status(self, call_id: str, status: str, details: Mapping[str, str]) -> None:
        """Keep the status callbacks of the most recent calls (oldest calls are forgotten)."""
        self.statuses.setdefault(call_id, []).append((status, dict(details)))
        while len(self.statuses) > RECENT_CALLS:
            del self.statuses[next(iter(self.statuses))]

    def issue(self, call: InboundCall) -> str:
        self._expire()
        token = secrets.token_urlsafe(24)
        self._pending[token] = (call, time.monotonic() + self._ttl_s)
        return token

    def claim(self, started: StreamStarted) -> InboundCall | None:
        """The call a token was issued for, if the token is live and the call ids agree."""
        self._expire()
        entry = self._pending.get(started.call_token)
        if entry is None or (started.call_id and started.call_id != entry[0].call_id):
            log.warning(
                "refusing media stream %s: unknown or mismatched call token", started.stream_id
            )
            return None
        del self._pending[started.call_token]
        return entry[0]

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, expiry) in self._pending.items() if expiry < now]:
            del self._pending[token]


class PatterServer:
    """Serves one agent on one carrier: routes, call tokens, live calls, graceful drain."""

    def __init__(self, phone: Patter, agent: Agent, *, public_url: str = "") -> None:
        if phone.carrier is None:
            raise ConfigError("Patter(carrier=...) is required to serve calls")
        self.phone = phone
        self.agent = agent
        self.carrier: Carrier = phone.carrier
        self.spec: CarrierSpec = phone.registry.carrier(self.carrier.carrier_name).item
        self.public_url = (
            public_url
            or str(getattr(self.carrier, "webhook_url", "") or "")
            or os.environ.get(PUBLIC_URL_ENV, "")
        ).rstrip("/")
        if not self.public_url.startswith(("https://", "http://")):
            raise ConfigError(
                f"the server's public URL {self.public_url!r} is not set or not http(s); pass "
                f"public_url= to serve() or set {PUBLIC_URL_ENV} (e.g. https://agent.example.com): "
                "the carrier signs its requests over it and must reach the server there"
            )
        self.carrier.prepare(self.spec)
        self.directory = CallDirectory()
        self.calls: set[CallSession] = set()
        # Bounded: a server runs for months; the call log keeps the full history.
        self.results: deque[CallResult] = deque(maxlen=RECENT_CALLS)
        self.accepting = True
        self.outbound: dict[str, OutboundCall] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.app = Starlette(routes=self._routes())
        self.app.state.patter = self
        phone._servers.append(self)

    # CarrierContext

    def url_for(self, route_name: str) -> str:
        route = next((r for r in self.spec.routes if r.name == route_name), None)
        if route is None:
            known = ", ".join(r.name for r in self.spec.routes)
            raise ConfigError(
                f"carrier {self.spec.name!r} has no route {route_name!r}; routes: {known}"
            )
        base = self.public_url
        if route.kind == "websocket":
            base = (
                "wss://" + base.split("://", 1)[-1]
                if base.startswith("https")
                else "ws://" + base.split("://", 1)[-1]
            )
        return base + route.path

    def issue_call_token(self, call: InboundCall) -> str:
        if not self.accepting:
            # The carrier turns this into a busy signal rather than an error message.
            raise CallSetupError("the server is shutting down and takes no new calls")
        return self.directory.issue(call)

    def report_status(self, call_id: str, status: str, details: Mapping[str, str]) -> None:
        log.info("call %s status %s", call_id, status)
        self.directory.record_status(call_id, status, details)
        outbound = self.outbound.get(call_id)
        if outbound is not None:
            if status in FINAL_STATUSES:
                del self.outbound[call_id]  # the caller of phone.call() holds it from here
            task = asyncio.get_running_loop().create_task(outbound.report(status, details))
            self._background.add(task)
            task.add_done_callback(self._report_done)

    def _report_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling a status callback failed", exc_info=task.exception())

    def claim(self, started: StreamStarted) -> Claim | None:
        """Redeem a media stream's token; outbound calls bring their own agent."""
        call = self.directory.claim(started)
        if call is None:
            return None
        return Claim(call, self.outbound.get(call.call_id))

    async def place_call(
        self,
        to: str,
        agent: Agent,
        *,
        from_: str,
        first_message: str | None = None,
        machine_detection: bool = False,
        ring_timeout_s: int = 30,
        time_limit_s: int | None = None,
        voicemail_message: str | None = None,
        on_machine: Callable[..., Any] | None = None,
    ) -> OutboundCall:
        """Dial ``to`` through the carrier; the answered call runs ``agent``."""
        check_e164(to, what="number to call")
        check_e164(from_, what="number to call from")
        require(self.spec, "outbound")
        if machine_detection:
            require(self.spec, "answering_machine_detection")
        request = DialRequest(
            to=to,
            from_=from_,
            answer_url=self.url_for("voice"),
            status_url=self.url_for("status"),
            ring_timeout_s=ring_timeout_s,
            machine_detection=machine_detection,
            time_limit_s=time_limit_s,
        )
        call_id = await cast(CallControl, self.carrier).dial(request)
        outbound = OutboundCall(
            call_id,
            to,
            agent,
            first_message=first_message,
            voicemail_message=voicemail_message,
            on_machine=on_machine,
        )
        self.outbound[call_id] = outbound
        return outbound

    # routes

    def _routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [Route("/health", self._health, methods=["GET"])]
        for spec in self.spec.routes:
            if spec.kind == "websocket":
                routes.append(WebSocketRoute(spec.path, self._media))
            else:
                routes.append(
                    Route(spec.path, self._http_endpoint(spec.name), methods=list(spec.methods))
                )
        return routes

    def _http_endpoint(self, route_name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await self.carrier.handle_http(route_name, request, self)
            except Exception:
                log.exception("carrier %s failed on route %s", self.spec.name, route_name)
                return PlainTextResponse("internal error", status_code=500)

        endpoint.__name__ = f"{self.spec.name}_{route_name}"
        return endpoint

    async def _health(self, request: Request) -> Response:
        return JSONResponse(
            {"status": "ok" if self.accepting else "draining", "calls": len(self.calls)}
        )

    async def _media(self, websocket: WebSocket) -> None:
        reason = await self.carrier.authenticate_media(websocket, self)
        if reason is not None:
            log.warning("refusing a media stream: %s", reason)
            await websocket.close(code=1008)
            return
        await websocket.accept()
        session = CallSession(
            websocket,
            self.carrier,
            self.agent,
            self.phone.pricing,
            self.claim,
            call_log=self.phone.call_log,
        )
        self.calls.add(session)
        try:
            self.results.append(await session.run())
        finally:
            self.calls.discard(session)

    # shutdown

    async def drain(self, grace_s: float) -> None:
        """Stop taking calls, let live ones finish for ``grace_s``, then end the rest cleanly."""
        self.accepting = False
        deadline = time.monotonic() + grace_s
        while self.calls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.calls):
            await session.hang_up("server shutting down")
        while self.calls:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Release what the carrier holds (e.g. its REST client's connections), if anything."""
        if self in self.phone._servers:
            self.phone._servers.remove(self)
        close = getattr(self.carrier, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                log.exception("closing carrier %s failed", self.spec.name)


class RunningServer:
    """A server running in the background of the current event loop (see `running`)."""

    def __init__(self, server: PatterServer, base_url: str) -> None:
        self.server = server
        self.base_url = base_url

    @property
    def results(self) -> list[CallResult]:
        """Results of the calls that have ended, oldest first."""
        return list(self.server.results)


@contextlib.asynccontextmanager
async def running(
    phone: Patter,
    agent: Agent,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    public_url: str = "",
    grace_s: float = 5.0,
) -> AsyncIterator[RunningServer]:
    """Run the server inside this event loop (port 0 picks a free port), e.g. for tests.

    On exit, live calls get ``grace_s`` to finish, then are ended cleanly.
    """
    import uvicorn

    server = PatterServer(phone, agent, public_url=public_url)

    class _QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # leave the host's signal handlers alone
            yield

    config = uvicorn.Config(server.app, host=host, port=port, log_level="warning", lifespan="off")
    uv = _QuietServer(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()  # re-raise a start-up failure (port in use...)
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.01)
    bound_port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(server, f"http://{host}:{bound_port}")
    finally:
        await server.drain(grace_s)
        uv.should_exit = True
        await task
        await server.close()


def build_app(phone: Patter, agent: Agent, *, public_url: str = "") -> Starlette:
    """The ASGI app serving ``agent`` on ``phone``'s carrier; ``app.state.patter`` is the server."""
    return PatterServer(phone, agent, public_url=public_url).app


async def serve(
    phone: Patter,
    agent: Agent,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    public_url: str = "",
    grace_s: float = 30.0,
    log_level: str = "info",
) -> None:
    """Run the server with uvicorn until SIGINT/SIGTERM, then drain live calls for ``grace_s``."""
    import uvicorn

    server = PatterServer(phone, agent, public_url=public_url)
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    class _DrainingServer(uvicorn.Server):
        draining = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.draining:  # a second signal: stop now
                super().handle_exit(sig, frame)
                return
            self.draining = True
            log.info(
                "signal %s: draining %d live call(s) for up to %.0f s",
                sig,
                len(server.calls),
                grace_s,
            )
            loop.call_soon_threadsafe(lambda: tasks.add(loop.create_task(drain_then_exit())))

    async def drain_then_exit() -> None:
        await server.drain(grace_s)
        uv.should_exit = True

    config = uvicorn.Config(server.app, host=host, port=port, log_level=log_level, lifespan="off")
    uv = _DrainingServer(config)
    # What exists now (modules, the app, the registry) lives as long as the process. Frozen out
    # of the cycle collector's reach, it no longer lengthens the full collections that call
    # set-ups trigger, and each of those pauses every live call's audio.
    gc.collect()
    gc.freeze()
    try:
        await uv.serve()
    finally:
        gc.unfreeze()
        await server.close()
