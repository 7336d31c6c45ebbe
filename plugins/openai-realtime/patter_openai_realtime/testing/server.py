"""`FakeRealtimeServer`: a local WebSocket server that speaks the OpenAI Realtime GA protocol."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..transport import redacting_logger
from .connection import FakeConnection
from .script import Part, Reply, ResponseRequest, Scripted, ServerError, resolve
from .validation import ProtocolViolation, validate_client_event

if TYPE_CHECKING:
    from types import TracebackType

    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response

log = logging.getLogger("patter.openai_realtime.testing")

Json = dict[str, Any]


class FakeRealtimeServer:
    """A fake OpenAI Realtime service on 127.0.0.1 for tests (async context manager).

    Point an adapter at it with ``base_url=server.url``. Script the model with `reply`,
    the caller's words with `caller_says`; read what the client sent in `events` and
    `wait_for`. ``validate=True`` checks every client event against the ``openai``
    package's types and records violations in `failures` (see `assert_clean`).
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        validate: bool = False,
        echo: bool = False,
        default_reply: Scripted = "OK.",
        ms_per_char: float = 40.0,
        chunk_ms: int = 100,
        delta_interval_s: float = 0.0,
        tone: bool = True,
        speech_rms: float = 500.0,
        cached_details: bool = True,
        send_session_updated: bool = True,
        session_updated_delay_s: float = 0.0,
        ignore_formats: bool = False,
        reject_session_update: ServerError | None = None,
    ) -> None:
        self.api_key = api_key
        self.validate = validate
        self.echo = echo
        self.default_reply = default_reply
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.delta_interval_s = delta_interval_s
        self.tone = tone
        self.speech_rms = speech_rms
        self.cached_details = cached_details
        self.send_session_updated = send_session_updated
        self.session_updated_delay_s = session_updated_delay_s
        self.ignore_formats = ignore_formats
        self.reject_session_update = reject_session_update
        self.events: list[Json] = []
        self.sent: list[Json] = []
        self.failures: list[str] = []
        self.requests: list[ResponseRequest] = []
        self.connections: list[FakeConnection] = []
        self._replies: deque[Scripted] = deque()
        self._user_texts: deque[str] = deque()
        self._ids: dict[str, itertools.count[int]] = {}
        self._changed = asyncio.Event()
        self._server: Server | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> FakeRealtimeServer:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._check_request,
            logger=redacting_logger("websockets.server"),
            max_size=None,
            compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeRealtimeServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """An HTTP API base to pass as ``base_url`` / ``OPENAI_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path != "/v1/realtime":
            return connection.respond(HTTPStatus.NOT_FOUND, f"no Realtime endpoint at {path}\n")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Incorrect API key provided.\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        model = query.get("model", ["gpt-realtime"])[0]
        connection = FakeConnection(self, ws, model)
        self.connections.append(connection)
        await connection.serve()

    # -- scripting -------------------------------------------------------------------

    def reply(self, *parts: Part | str, **options: Any) -> None:
        """Queue the next response: parts (a str is `Say`), options as `Reply` fields."""
        self._replies.append(Reply(parts, **options))

    def reply_with(self, replier: Callable[[ResponseRequest], Reply | Part | str]) -> None:
        """Queue a callable that builds the next response from its `ResponseRequest`."""
        self._replies.append(replier)

    def caller_says(self, *texts: str) -> None:
        """Queue the transcripts of the caller's next turns (one per turn)."""
        self._user_texts.extend(texts)

    def next_reply(self, request: ResponseRequest) -> Reply:
        self.requests.append(request)
        scripted = self._replies.popleft() if self._replies else self.default_reply
        return resolve(scripted, request)

    def next_user_text(self) -> str:
        return self._user_texts.popleft() if self._user_texts else "hello"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids.setdefault(prefix, itertools.count(1)))}"

    # -- injection -------------------------------------------------------------------

    async def send_event(self, event: Json) -> None:
        """Send a raw server event on every open connection."""
        for connection in self._open():
            await connection.send(dict(event))

    async def send_error(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        """Send an ``error`` event now on every open connection."""
        await self.send_event(ServerError(message, code, param, type).event())

    async def disconnect(self, code: int | None = None, reason: str = "") -> None:
        """Drop every open connection (abruptly when ``code`` is None)."""
        for connection in self._open():
            await connection.drop(code, reason)

    def _open(self) -> list[FakeConnection]:
        return [c for c in self.connections if not c.closed]

    # -- what the client sent --------------------------------------------------------

    def record(self, event: Json, wire: str) -> None:
        self.events.append(event)
        if self.validate:
            try:
                validate_client_event(wire)
            except ProtocolViolation as exc:
                self.failures.append(str(exc))
        # Wake every waiter, then arm a fresh event for the next arrival.
        self._changed.set()
        self._changed = asyncio.Event()

    def of_type(self, kind: str) -> list[Json]:
        """The client events of one type, in the order received."""
        return [e for e in self.events if e.get("type") == kind]

    async def wait_for(
        self,
        kind: str,
        *,
        count: int = 1,
        where: Callable[[Json], bool] | None = None,
        timeout: float = 5.0,
    ) -> Json:
        """The ``count``-th client event of type ``kind`` (matching ``where``), once received."""

        def found() -> list[Json]:
            return [e for e in self.of_type(kind) if where is None or where(e)]

        async with asyncio.timeout(timeout):
            while len(found()) < count:
                await self._changed.wait()
        return found()[count - 1]

    def assert_clean(self) -> None:
        """Raise AssertionError listing every protocol problem seen (validation, ordering)."""
        if self.failures:
            raise AssertionError("fake Realtime server saw problems:\n" + "\n".join(self.failures))
