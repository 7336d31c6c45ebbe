"""One simulated Telnyx media stream: the caller's 20 ms frame clock and Telnyx's playback.

The caller sends ``connected``, ``start``, then one ``media`` frame every 20 ms on an
absolute real-time schedule (a tone for speech, μ-law silence otherwise), ``dtmf`` for key
presses and ``stop`` when it hangs up. What the server sends "plays" in real time: a mark
is echoed once the audio queued before it has played (at once when nothing is queued),
and ``clear`` drops the queued audio and echoes every pending mark.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import secrets
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from attrs import frozen

from patter_core.simulation import CallerStep, Dtmf, Hangup, Silence, Speech, WaitForAgent

from .wire import TelnyxWire

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

FRAME_MS = 20
BYTES_PER_MS = 8  # μ-law at 8 kHz
QUIET_MS = 400  # WaitForAgent: the agent is done once nothing has played for this long


def _tone_frame() -> str:
    import numpy as np

    from patter_core.audio import ulaw_encode

    t = np.arange(FRAME_MS * BYTES_PER_MS) / 8000.0
    pcm = np.rint(16000 * np.sin(2 * math.pi * 440.0 * t)).astype("<i2")
    return base64.b64encode(ulaw_encode(pcm.tobytes())).decode("ascii")


SPEECH_FRAME = _tone_frame()
QUIET_FRAME = base64.b64encode(b"\xff" * FRAME_MS * BYTES_PER_MS).decode("ascii")


@frozen
class ClearRecord:
    """A ``clear``: when it came, how much had been heard then, how much it dropped."""

    at_ms: float
    heard_ms: float
    dropped_ms: float


class Playback:
    """Telnyx's playback queue on the caller's side, on the stream's clock (ms)."""

    def __init__(self) -> None:
        self.busy_until = 0.0
        self.queued_ms = 0.0
        self.received_ms = 0.0
        self.last_audio_at = -math.inf
        self.pending: deque[tuple[str, float]] = deque()
        self.clears: list[ClearRecord] = []
        self.echoed = 0

    def audio(self, now: float, ms: float) -> None:
        self.busy_until = max(now, self.busy_until) + ms
        self.queued_ms += ms
        self.received_ms += ms
        self.last_audio_at = now

    def mark(self, now: float, name: str) -> None:
        self.pending.append((name, max(now, self.busy_until)))

    def due(self, now: float) -> list[str]:
        """Marks whose audio has played by ``now``, oldest first."""
        names = []
        while self.pending and self.pending[0][1] <= now:
            names.append(self.pending.popleft()[0])
        self.echoed += len(names)
        return names

    def clear(self, now: float) -> list[str]:
        """Drop what has not played; every pending mark comes back at once."""
        dropped = max(0.0, self.busy_until - now)
        self.finish(now)
        self.clears.append(ClearRecord(now, self.queued_ms, dropped))
        names = [name for name, _ in self.pending]
        self.pending.clear()
        self.echoed += len(names)
        return names

    def finish(self, now: float) -> None:
        """Drop whatever has not played by ``now``."""
        self.queued_ms -= max(0.0, self.busy_until - now)
        self.busy_until = min(self.busy_until, now)

    def heard_ms(self, now: float) -> float:
        return self.queued_ms - max(0.0, self.busy_until - now)


@frozen
class StreamRecord:
    """What the caller experienced on one media stream."""

    stream_id: str
    ended_by: str
    heard_ms: float
    clears: tuple[ClearRecord, ...]
    marks_echoed: int
    received_audio_ms: float
    frames_sent: int
    dtmf_sent: tuple[str, ...]
    received_events: tuple[str, ...]
    protocol_errors: tuple[str, ...]


class MediaStreamClient:
    """Telnyx's side of one media stream, driven by a caller script."""

    def __init__(self, ws: ClientConnection, call_id: str, client_state: str, stop: asyncio.Event):
        self.ws, self.call_id, self.client_state, self.stop = ws, call_id, client_state, stop
        self.stream_id = secrets.token_hex(16)
        self.wire = TelnyxWire()
        self.loop = asyncio.get_running_loop()
        self.playback = Playback()
        self.outbox: list[str] = []
        self.errors: list[str] = []
        self.events: list[str] = []
        self.dtmf: list[str] = []
        self.closed = asyncio.Event()
        self.t0 = self.loop.time()
        self.frames = 0

    def now(self) -> float:
        return (self.loop.time() - self.t0) * 1000.0

    async def run(self, script: Sequence[CallerStep]) -> StreamRecord:
        """Stream ``script``, then send ``stop`` (unless the server closed first) and close."""
        from websockets.exceptions import ConnectionClosed

        reader = asyncio.create_task(self._read())
        ended = "error"
        try:
            await self.ws.send(self.wire.connected())
            await self.ws.send(
                self.wire.start(self.stream_id, self.call_id, "", client_state=self.client_state)
            )
            self.t0 = self.loop.time()
            ended = await self._play(script)
            if ended != "server_closed":
                await self.ws.send(self.wire.stop(self.stream_id, self.call_id))
        except ConnectionClosed:
            ended = "server_closed"
        finally:
            self.playback.finish(self.now())
            await self.ws.close()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        playback = self.playback
        return StreamRecord(
            stream_id=self.stream_id,
            ended_by=ended,
            heard_ms=playback.heard_ms(self.now()),
            clears=tuple(playback.clears),
            marks_echoed=playback.echoed,
            received_audio_ms=playback.received_ms,
            frames_sent=self.frames,
            dtmf_sent=tuple(self.dtmf),
            received_events=tuple(self.events),
            protocol_errors=tuple(self.errors),
        )

    def _ended(self) -> str | None:
        if self.closed.is_set():
            return "server_closed"
        if self.stop.is_set():
            return "api"  # Telnyx's REST API hung up or transferred the call
        return None

    async def _play(self, script: Sequence[CallerStep]) -> str:
        for step in script:
            if ended := self._ended():
                return ended
            if isinstance(step, Hangup):
                return "hangup"
            if isinstance(step, Dtmf):
                self.dtmf.append(step.digit)
                self.outbox.append(self.wire.dtmf(self.stream_id, step.digit))
            elif isinstance(step, WaitForAgent):
                began = self.now()
                for _ in range(step.timeout_ms // FRAME_MS):
                    playback = self.playback
                    spoke = max(playback.busy_until, playback.last_audio_at) > began
                    if spoke and self.now() - playback.busy_until >= QUIET_MS:
                        break
                    if not await self._frame(QUIET_FRAME):
                        return self._ended() or "server_closed"
            elif isinstance(step, Speech | Silence):
                payload = SPEECH_FRAME if isinstance(step, Speech) else QUIET_FRAME
                for _ in range(-(-step.ms // FRAME_MS)):
                    if not await self._frame(payload):
                        return self._ended() or "server_closed"
        return self._ended() or "script"

    async def _frame(self, payload: str) -> bool:
        """Wait for the next 20 ms slot, send due mark echoes and queued frames, then audio."""
        delay = self.t0 + self.frames * FRAME_MS / 1000.0 - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if self._ended():
            return False
        self.frames += 1
        echoes = [self.wire.mark_echo(self.stream_id, n) for n in self.playback.due(self.now())]
        outgoing, self.outbox = [*self.outbox, *echoes], []
        for frame in [*outgoing, self.wire.media(self.stream_id, payload)]:
            await self.ws.send(frame)
        return True

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.errors.append("binary frame (Telnyx reads JSON text frames)")
                    continue
                self._received(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def _received(self, message: str) -> None:
        sent, now = self.wire.read(message), self.now()
        self.events.append(sent.kind)
        if sent.kind == "other":
            self.errors.append(sent.detail)
        elif sent.stream_id and sent.stream_id != self.stream_id:
            self.errors.append(f"{sent.kind} frame for another stream {sent.stream_id!r}")
        elif sent.kind == "audio":
            try:
                size = len(binascii.a2b_base64(sent.payload, strict_mode=True))
            except (binascii.Error, ValueError):
                self.errors.append("media frame whose payload is not base64")
                return
            self.playback.audio(now, size / BYTES_PER_MS)
        elif sent.kind == "mark":
            self.playback.mark(now, sent.name)
        elif sent.kind == "clear":
            names = self.playback.clear(now)
            self.outbox += [self.wire.mark_echo(self.stream_id, name) for name in names]
