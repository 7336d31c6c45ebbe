"""`FakeTelnyx`: a local Telnyx network that calls a Patter server the way Telnyx does.

An incoming call is a signed ``call.initiated`` webhook; once the server answers through
the fake REST API (`CallControlApi`), the fake posts ``call.answered``, opens the media
stream at the ``stream_url`` the answer named and plays the caller's script over it
(`MediaStreamClient`). When the stream ends it posts ``call.hangup`` and
``streaming.stopped`` as Telnyx would. A call the server dials gets ``call.initiated``
and ``call.answered`` webhooks, then streams once the server sends ``streaming_start``.

The API's socket is bound when the object is made, so `base_url` is known before
anything runs; `start` serves it. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import socket
import uuid
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from attrs import evolve, frozen

from patter_core.simulation import Auth, CallerReport, CallerStep

from ..streamauth import SIG_PARAM
from .fake_api import CallControlApi, FakeCall, new_call_id
from .signing import TestKeys
from .stream import MediaStreamClient, StreamRecord

Leg = Literal["webhook", "media"]


@frozen
class TelnyxCall:
    """How one simulated call went, seen from Telnyx's side."""

    call_id: str
    ended_by: str
    webhook_status: int | None
    stream_url: str = ""
    media_status: int | None = None
    stream: StreamRecord | None = None
    error: str = ""

    def caller_report(self) -> CallerReport:
        """This call as the core's vendor-neutral `CallerReport`."""
        s = self.stream
        return CallerReport(
            heard_ms=s.heard_ms if s else 0.0,
            clears=len(s.clears) if s else 0,
            ended_by=self.ended_by,
            call_id=self.call_id,
            webhook_status=self.webhook_status,
            stream_url=self.stream_url,
            marks_echoed=s.marks_echoed if s else 0,
            received_audio_ms=s.received_audio_ms if s else 0.0,
            protocol_errors=s.protocol_errors if s else (),
        )


class _Uvicorn:
    """uvicorn on a pre-bound socket that leaves the host's signal handlers alone."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.server = Quiet(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.sock = sock
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("the fake Telnyx API stopped before it started")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


class FakeTelnyx:
    """The fake network; use as ``async with``. Point the carrier at `carrier_options`."""

    def __init__(
        self,
        *,
        keys: TestKeys | None = None,
        api_key: str = "",
        webhook_path: str = "/telnyx/webhook",
        answer_timeout_s: float = 5.0,
    ) -> None:
        self.keys = keys or TestKeys()
        self.api = CallControlApi(api_key or "KEY" + secrets.token_hex(16))
        self.api.on_dial = self._dialled
        self.webhook_path = webhook_path
        self.answer_timeout_s = answer_timeout_s
        self.server_url = ""
        self.webhooks: list[tuple[str, str, int | None]] = []  # (call id, event, status)
        self.plans: dict[str, Sequence[CallerStep]] = {}
        self._tasks: dict[str, asyncio.Task[TelnyxCall]] = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))  # tests only: never listen beyond this machine
        self._sock.listen(128)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v2"
        self._server: _Uvicorn | None = None
        self._http: httpx.AsyncClient | None = None
        self.closed = False

    def __repr__(self) -> str:  # never shows the API key
        return f"FakeTelnyx(base_url={self.base_url!r}, server_url={self.server_url!r})"

    @property
    def serving(self) -> bool:
        return self._server is not None

    def carrier_options(self) -> dict[str, Any]:
        """`Telnyx(...)` options that point the carrier at this fake and trust its key."""
        return {
            "api_key": self.api.api_key,
            "public_key": self.keys.public_key,
            "connection_id": "1234567890123456789",
            "api_base_url": self.base_url,
        }

    def attach(self, server_url: str) -> None:
        """Deliver webhooks and media to the Patter server at ``server_url`` (local address)."""
        self.server_url = server_url.rstrip("/")

    async def start(self) -> Self:
        self._http = httpx.AsyncClient(timeout=10.0, trust_env=False)
        self._server = _Uvicorn(self.api.app, self._sock)
        await self._server.start()
        return self

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._server is not None:
            await self._server.stop()
        if self._http is not None:
            await self._http.aclose()
        self.close()

    def close(self) -> None:
        """Release the socket (also when the fake never served)."""
        self.closed = True
        self._sock.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ placing calls

    async def call(
        self,
        script: Sequence[CallerStep],
        *,
        webhook_auth: Auth = "valid",
        media_auth: Auth = "valid",
        caller: str = "+15551230000",
        callee: str = "+15555550100",
    ) -> TelnyxCall:
        """Place one incoming call and run ``script``; how it went."""
        call = FakeCall(new_call_id(), "incoming", caller, callee, script, self.webhook_path)
        self.api.calls[call.call_id] = call
        return await self._inbound(call, webhook_auth, media_auth)

    async def ring(self, script: Sequence[CallerStep]) -> str:
        """Start an incoming call in the background; its ``call_control_id``."""
        number = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
        call = FakeCall(new_call_id(), "incoming", number, "+15555550100", script)
        call.webhook_path = self.webhook_path
        self.api.calls[call.call_id] = call
        self._tasks[call.call_id] = asyncio.create_task(self._inbound(call, "valid", "valid"))
        return call.call_id

    def answer_with(self, number: str, script: Sequence[CallerStep]) -> None:
        """What the party at ``number`` does when the server dials it (else: no answer)."""
        self.plans[number] = script

    async def finished(self, call_id: str) -> tuple[FakeCall, TelnyxCall]:
        """Wait until a background call (rung or dialled) is over."""
        return self.api.calls[call_id], await self._tasks[call_id]

    def _dialled(self, call: FakeCall) -> None:
        call.script = self.plans.get(call.callee, ())
        self._tasks[call.call_id] = asyncio.create_task(self._outbound(call))

    async def _inbound(self, call: FakeCall, webhook_auth: Auth, media_auth: Auth) -> TelnyxCall:
        status = await self.post_event(call, "call.initiated", auth=webhook_auth)
        if status is None or not 200 <= status < 300:
            why = "error" if status is None else "webhook_rejected"
            return self._done(call, TelnyxCall(call.call_id, why, status))
        try:
            await asyncio.wait_for(call.streamed.wait(), self.answer_timeout_s)
        except TimeoutError:
            return self._done(call, TelnyxCall(call.call_id, "no_stream", status))
        if call.rejected or not call.stream_url:
            return self._done(call, TelnyxCall(call.call_id, "no_stream", status))
        await self.post_event(call, "call.answered")
        return self._done(call, await self.stream_call(call, status, media_auth))

    async def _outbound(self, call: FakeCall) -> TelnyxCall:
        status = await self.post_event(call, "call.initiated")
        if not call.script:
            call.state = "ended"
            await self._hangup_event(call, "timeout", "callee")
            return self._done(call, TelnyxCall(call.call_id, "no_answer", status))
        call.state = "answered"
        await self.post_event(call, "call.answered")
        try:
            await asyncio.wait_for(call.streamed.wait(), self.answer_timeout_s)
        except TimeoutError:
            return self._done(call, TelnyxCall(call.call_id, "no_stream", status))
        return self._done(call, await self.stream_call(call, status, "valid"))

    def _done(self, call: FakeCall, result: TelnyxCall) -> TelnyxCall:
        call.done.set()
        return result

    # ------------------------------------------------------------------ media

    def media_target(self, stream_url: str, auth: Auth) -> str:
        """The local ws:// URL for ``stream_url``, with its credentials as ``auth`` says."""
        public, local = urlsplit(stream_url), urlsplit(self.server_url)
        query = public.query
        if auth == "missing":
            query = ""
        elif auth == "forged":
            params = dict(parse_qsl(query))
            params[SIG_PARAM] = secrets.token_urlsafe(32)
            query = urlencode(params)
        return urlunsplit(("ws", local.netloc, public.path, query, ""))

    async def stream_call(self, call: FakeCall, status: int | None, auth: Auth) -> TelnyxCall:
        """Open ``call``'s media stream (credentials as ``auth`` says) and run its script."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        base = TelnyxCall(call.call_id, "error", status, call.stream_url)
        try:
            ws = await connect(
                self.media_target(call.stream_url, auth),
                proxy=None,
                compression=None,
                open_timeout=10,
                max_size=4 * 1024 * 1024,
            )
        except InvalidStatus as exc:
            call.media_status = exc.response.status_code
            await self.post_event(call, "streaming.failed", failure_reason="connection refused")
            await self._hangup_event(call, "normal_clearing", "callee")
            return evolve(base, ended_by="media_rejected", media_status=call.media_status)
        except (OSError, TimeoutError, WebSocketException) as exc:
            return evolve(base, error=f"media stream failed: {exc!r}")
        call.media_status = 101
        await self.post_event(call, "streaming.started")
        record = await MediaStreamClient(ws, call.call_id, call.client_state, call.stop).run(
            call.script
        )
        if call.transferred_to:
            await self.post_event(call, "streaming.stopped")  # the caller stays, bridged
        elif record.ended_by == "server_closed":
            await self.post_event(call, "streaming.stopped")  # the server may hang up now
            await self._hangup_event(call, "normal_clearing", "callee")
        else:
            source = "callee" if call.hung_up_by_api else "caller"
            await self._hangup_event(call, "normal_clearing", source)
            await self.post_event(call, "streaming.stopped")
        return evolve(base, ended_by=record.ended_by, media_status=101, stream=record)

    # ------------------------------------------------------------------ webhooks

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST raw bytes to the server (for tests of malformed or replayed webhooks)."""
        assert self._http is not None, "use FakeTelnyx as 'async with FakeTelnyx()'"
        return await self._http.post(self.server_url + path, content=body, headers=headers)

    async def _hangup_event(self, call: FakeCall, cause: str, source: str) -> None:
        if call.hangup_posted:
            return
        call.hangup_posted, call.state = True, "ended"
        await self.post_event(call, "call.hangup", hangup_cause=cause, hangup_source=source)

    def envelope(self, call: FakeCall, event_type: str, **extra: Any) -> bytes:
        """A Call Control webhook body, as Telnyx sends it."""
        now = dt.datetime.now(dt.UTC).isoformat()
        payload = {**call.payload(), "start_time": now, **extra}
        if event_type == "call.hangup":
            payload["end_time"] = now
        data = {
            "record_type": "event",
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": now,
            "payload": payload,
        }
        meta = {"attempt": 1, "delivered_to": self.server_url + call.webhook_path}
        return json.dumps({"data": data, "meta": meta}).encode()

    async def post_event(
        self, call: FakeCall, event_type: str, *, auth: Auth = "valid", **extra: Any
    ) -> int | None:
        """POST one signed webhook to the server; its HTTP status (``None`` if unreachable)."""
        body = self.envelope(call, event_type, **extra)
        headers = {"content-type": "application/json"}
        if auth == "valid":
            headers |= self.keys.headers(body)
        elif auth == "forged":
            headers |= TestKeys().headers(body)  # a key Telnyx never had
        assert self._http is not None, "use FakeTelnyx as 'async with FakeTelnyx()'"
        try:
            response = await self._http.post(
                self.server_url + call.webhook_path, content=body, headers=headers
            )
            status: int | None = response.status_code
        except httpx.HTTPError:
            status = None
        self.webhooks.append((call.call_id, event_type, status))
        return status
