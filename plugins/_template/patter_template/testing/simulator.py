"""A tiny loopback of the template network: it calls a Patter server the way the carrier would.

A call is a signed JSON webhook, then a signed WebSocket to the stream URL in the answer:
``start``, 20 ms audio frames on a real clock, key presses, ``hangup``. Agent audio "plays"
in real time; a mark is echoed once the audio before it has played, and ``flush`` drops
what is queued and echoes the pending marks at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import secrets
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from patter_core.simulation import (
    Auth,
    CallerReport,
    CallerStep,
    Dtmf,
    Hangup,
    Silence,
    Speech,
    WaitForAgent,
)

from ..signing import SIGNATURE_HEADER, sign
from .wire import TemplateWire

if TYPE_CHECKING:
    import httpx
    from websockets.asyncio.client import ClientConnection

FRAME_MS = 20
BYTES_PER_MS = 8  # μ-law at 8 kHz
QUIET_MS = 400  # WaitForAgent: the agent is done once it has been quiet this long
VOICE_PATH = "/template/voice"


def _tone_frame() -> bytes:
    import numpy as np

    from patter_core.audio import ulaw_encode

    t = np.arange(FRAME_MS * 8) / 8000.0
    pcm = np.rint(16000 * np.sin(2 * math.pi * 440.0 * t)).astype("<i2")
    return ulaw_encode(pcm.tobytes())


SPEECH = base64.b64encode(_tone_frame()).decode("ascii")
QUIET = base64.b64encode(b"\xff" * FRAME_MS * BYTES_PER_MS).decode("ascii")


class Playback:
    """The network's playback queue: audio plays in order, marks fall due behind it."""

    def __init__(self) -> None:
        self.busy_until = 0.0
        self.queued_ms = 0.0
        self.received_ms = 0.0
        self.last_audio_at = -math.inf
        self.pending: deque[tuple[str, float]] = deque()
        self.clears = 0
        self.echoed = 0

    def audio(self, now: float, ms: float) -> None:
        self.busy_until = max(now, self.busy_until) + ms
        self.queued_ms += ms
        self.received_ms += ms
        self.last_audio_at = now

    def mark(self, now: float, name: str) -> None:
        self.pending.append((name, max(now, self.busy_until)))

    def due(self, now: float) -> list[str]:
        names = []
        while self.pending and self.pending[0][1] <= now:
            names.append(self.pending.popleft()[0])
        self.echoed += len(names)
        return names

    def flush(self, now: float) -> list[str]:
        self.finish(now)
        self.clears += 1
        names = [name for name, _ in self.pending]
        self.pending.clear()
        return names

    def finish(self, now: float) -> None:
        """Drop whatever has not played by ``now``."""
        self.queued_ms -= max(0.0, self.busy_until - now)
        self.busy_until = min(self.busy_until, now)

    def heard_ms(self, now: float) -> float:
        return self.queued_ms - max(0.0, self.busy_until - now)


class _Stream:
    """One media stream: the caller's frame clock sends, a reader task plays what arrives."""

    def __init__(self, ws: ClientConnection, wire: TemplateWire, call_id: str, token: str):
        self.ws, self.wire, self.call_id, self.token = ws, wire, call_id, token
        self.stream_id = "stream-" + secrets.token_hex(8)
        self.loop = asyncio.get_running_loop()
        self.playback = Playback()
        self.outbox: list[str] = []
        self.errors: list[str] = []
        self.closed = asyncio.Event()
        self.t0 = self.frames = 0.0

    def now(self) -> float:
        return self.loop.time() * 1000.0

    async def run(self, script: Sequence[CallerStep]) -> str:
        from websockets.exceptions import ConnectionClosed

        reader = asyncio.create_task(self._read())
        ended = "error"
        try:
            await self.ws.send(self.wire.start(self.stream_id, self.call_id, self.token))
            self.t0 = self.loop.time()
            ended = await self._play(script)
            if ended != "server_closed":
                with contextlib.suppress(ConnectionClosed):
                    await self.ws.send(self.wire.stop(self.stream_id))
        except ConnectionClosed:
            ended = "server_closed"
        finally:
            self.playback.finish(self.now())
            await self.ws.close()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        return ended

    async def _play(self, script: Sequence[CallerStep]) -> str:
        for step in script:
            if isinstance(step, Hangup):
                return "hangup"
            if isinstance(step, Dtmf):
                self.outbox.append(self.wire.dtmf(self.stream_id, step.digit))
            elif isinstance(step, WaitForAgent):
                began = self.now()
                for _ in range(step.timeout_ms // FRAME_MS):
                    playback = self.playback
                    spoke = max(playback.busy_until, playback.last_audio_at) > began
                    if spoke and self.now() - playback.busy_until >= QUIET_MS:
                        break
                    if not await self._frame(QUIET):
                        return "server_closed"
            elif isinstance(step, Speech | Silence):
                payload = SPEECH if isinstance(step, Speech) else QUIET
                for _ in range(-(-step.ms // FRAME_MS)):
                    if not await self._frame(payload):
                        return "server_closed"
        return "script"

    async def _frame(self, payload: str) -> bool:
        """Wait for the next 20 ms slot, echo due marks, send one audio frame."""
        delay = self.t0 + self.frames * FRAME_MS / 1000.0 - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.closed.is_set():
            return False
        self.frames += 1
        outgoing = self.outbox + [
            self.wire.mark_echo(self.stream_id, name) for name in self.playback.due(self.now())
        ]
        self.outbox = []
        for frame in [*outgoing, self.wire.media(self.stream_id, payload)]:
            await self.ws.send(frame)
        return True

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.ws:
                self._received(message if isinstance(message, str) else "<binary>")
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def _received(self, message: str) -> None:
        sent, now = self.wire.read(message), self.now()
        if sent.kind == "other" or sent.stream_id != self.stream_id:
            self.errors.append(f"unreadable or misaddressed frame: {message[:80]!r}")
        elif sent.kind == "audio":
            self.playback.audio(now, len(base64.b64decode(sent.payload)) / BYTES_PER_MS)
        elif sent.kind == "mark":
            self.playback.mark(now, sent.name)
        elif sent.kind == "clear":
            names = self.playback.flush(now)
            self.outbox += [self.wire.mark_echo(self.stream_id, name) for name in names]


class TemplateCaller:
    """Places simulated calls on the server at ``base_url``, known publicly as ``public_url``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, public_url: str, secret: str):
        self.http, self.secret = http, secret
        self.base_url, self.public_url = base_url.rstrip("/"), public_url.rstrip("/")
        self.wire = TemplateWire()

    def _signed(self, auth: Auth, url: str, body: bytes) -> dict[str, str]:
        if auth == "missing":
            return {}
        secret = self.secret if auth == "valid" else "forged-" + self.secret
        return {SIGNATURE_HEADER: sign(secret, url, body)}

    async def call(
        self,
        script: Sequence[CallerStep],
        *,
        webhook_auth: Auth = "valid",
        media_auth: Auth = "valid",
    ) -> CallerReport:
        """Place one call and run ``script``; what the caller heard and how the call ended."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        call_id = "call-" + secrets.token_hex(8)
        body = json.dumps({"call_id": call_id, "from": "+15551230000", "to": "+15555550100"})
        headers = {"content-type": "application/json"}
        headers |= self._signed(webhook_auth, self.public_url + VOICE_PATH, body.encode())
        answer = await self.http.post(self.base_url + VOICE_PATH, content=body, headers=headers)
        status = answer.status_code
        if status != 200:
            return _unconnected("webhook_rejected", call_id, status)
        try:
            stream_url, token = answer.json()["stream"]["url"], answer.json()["stream"]["token"]
        except (ValueError, KeyError, TypeError):
            return _unconnected("no_stream", call_id, status)
        public, local = urlsplit(stream_url), urlsplit(self.base_url)
        target = urlunsplit(("ws", local.netloc, public.path, public.query, ""))
        signed = self._signed(media_auth, stream_url, b"")
        try:
            ws = await connect(target, additional_headers=signed, proxy=None)
        except InvalidStatus:
            return _unconnected("media_rejected", call_id, status, stream_url)
        stream = _Stream(ws, self.wire, call_id, token)
        ended_by = await stream.run(script)
        playback = stream.playback
        return CallerReport(
            heard_ms=playback.heard_ms(stream.now()),
            clears=playback.clears,
            ended_by=ended_by,
            call_id=call_id,
            webhook_status=status,
            stream_url=stream_url,
            marks_echoed=playback.echoed,
            received_audio_ms=playback.received_ms,
            protocol_errors=tuple(stream.errors),
        )


def _unconnected(ended_by: str, call_id: str, status: int, stream_url: str = "") -> CallerReport:
    """The report of a call that never got a media stream going."""
    return CallerReport(
        0.0, 0, ended_by, call_id=call_id, webhook_status=status, stream_url=stream_url
    )
