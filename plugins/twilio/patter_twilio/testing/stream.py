"""One simulated media stream: the caller's frame clock, Twilio's playback buffer, the wire.

A writer task owns the socket's sending side (frames, mark echoes, DTMF, ``stop`` are queued
in order, so sequence numbers match the order on the wire); a reader task plays what the
server sends through a `Player`; mark echoes are fired by one loop timer for the oldest mark.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .recording import EndReason, Player, Received
from .script import FRAME_MS, SILENT_FRAME, Dtmf, Hangup, ScriptItem, WaitForAgent, render

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

FRAME_S = 0.02
_SILENT_B64 = base64.b64encode(SILENT_FRAME).decode("ascii")


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits (``CA…``, ``MZ…``, ``AC…``)."""
    return prefix + secrets.token_hex(16)


def _field(message: Mapping[str, Any], key: str, name: str) -> Any:
    inner = message.get(key)
    return inner.get(name) if isinstance(inner, dict) else None


class MediaStream:
    """One media stream: a writer, a reader and the caller's frame clock."""

    def __init__(
        self,
        *,
        account_sid: str,
        call_sid: str,
        params: Mapping[str, str],
        record_messages: bool = True,
        timeout_s: float = 10.0,
        stop: asyncio.Event | None = None,
        started: asyncio.Event | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.call_sid = call_sid
        self.stream_sid = new_sid("MZ")
        self.params = dict(params)
        self.record_messages = record_messages
        self.timeout_s = timeout_s
        self.stop = stop  # set from outside (Twilio's REST API) to end the stream
        self.started = started  # set once ``start`` is queued
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.seq = 0
        self.out: asyncio.Queue[str | None] = asyncio.Queue()
        self.player = Player()
        self.timer: asyncio.TimerHandle | None = None
        self.closed = asyncio.Event()
        self.received: list[Received] = []
        self.errors: list[str] = []
        self.frames = 0
        self.dtmf: list[tuple[float, str]] = []
        self.max_lag_ms = 0.0
        self.wait_timeouts = 0
        self.error = ""
        self._media_prefix = '{"event":"media","sequenceNumber":"'
        self._media_middle = f'","streamSid":"{self.stream_sid}","media":{{"track":"inbound",'

    def now_ms(self) -> float:
        return (self.loop.time() - self.t0) * 1000.0

    def _send(self, message: dict[str, Any]) -> None:
        self.seq += 1
        message["sequenceNumber"] = str(self.seq)
        self.out.put_nowait(json.dumps(message, separators=(",", ":")))

    async def run(self, ws: ClientConnection, script: Sequence[ScriptItem]) -> EndReason:
        """Stream ``script`` on the open socket ``ws``, then hang up (``stop``) and close it."""
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write(ws))
        ended_by: EndReason = "error"
        try:
            self.out.put_nowait('{"event":"connected","protocol":"Call","version":"1.0.0"}')
            self.t0 = self.loop.time()
            self._send_start()
            if self.started is not None:
                self.started.set()
            ended_by = await self._play(script)
            if ended_by != "server_closed":
                self._send({"event": "stop", "streamSid": self.stream_sid, "stop": self._ids()})
            self.out.put_nowait(None)
            await asyncio.wait_for(asyncio.shield(writer), self.timeout_s)
        except (TimeoutError, OSError) as exc:
            ended_by, self.error = "error", f"media stream failed: {exc!r}"
        finally:
            self.player.finish(self.now_ms())
            if self.timer is not None:
                self.timer.cancel()
            writer.cancel()
            await ws.close()
            await asyncio.gather(reader, writer, return_exceptions=True)
        return ended_by

    def results(self) -> dict[str, Any]:
        """The `CallRecording` fields this stream collected."""
        chunks, heard = self.player.heard()
        return {
            "stream_sid": self.stream_sid,
            "frames_sent": self.frames,
            "dtmf_sent": tuple(self.dtmf),
            "received": tuple(self.received),
            "chunks": chunks,
            "marks": tuple(self.player.marks),
            "clears": tuple(self.player.clears),
            "heard_audio": heard,
            "protocol_errors": tuple(self.errors),
            "max_lag_ms": self.max_lag_ms,
            "wait_timeouts": self.wait_timeouts,
            "error": self.error,
        }

    def _ids(self) -> dict[str, str]:
        return {"accountSid": self.account_sid, "callSid": self.call_sid}

    def _send_start(self) -> None:
        start = {
            "streamSid": self.stream_sid,
            **self._ids(),
            "tracks": ["inbound"],
            "customParameters": self.params,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        self._send({"event": "start", "streamSid": self.stream_sid, "start": start})

    # ------------------------------------------------------------------------ caller side

    def _ended(self) -> EndReason | None:
        """Why the stream must end now, if it must: the server closed it or the API stopped it."""
        if self.closed.is_set():
            return "server_closed"
        if self.stop is not None and self.stop.is_set():
            return "api"
        return None

    async def _play(self, script: Sequence[ScriptItem]) -> EndReason:
        for item in script:
            if ended := self._ended():
                return ended
            if isinstance(item, Dtmf):
                self.dtmf.append((self.now_ms(), item.digit))
                dtmf = {"track": "inbound_track", "digit": item.digit}
                self._send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": dtmf})
            elif isinstance(item, Hangup):
                return "hangup"
            elif isinstance(item, WaitForAgent):
                if not await self._wait_for_agent(item):
                    return self._ended() or "server_closed"
            else:
                for frame in render(item):
                    if not await self._send_frame(frame):
                        return self._ended() or "server_closed"
        return self._ended() or "script"

    async def _until_next_slot(self) -> bool:
        """Sleep until the next frame's slot on the absolute 20 ms schedule; False if ended."""
        due = self.t0 + self.frames * FRAME_S
        delay = due - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag_ms = (self.loop.time() - due) * 1000.0
        if lag_ms > self.max_lag_ms:
            self.max_lag_ms = lag_ms
        return self._ended() is None

    def _emit(self, frame: bytes) -> None:
        index = self.frames
        self.frames += 1
        self.seq += 1
        payload = _SILENT_B64 if frame is SILENT_FRAME else base64.b64encode(frame).decode()
        self.out.put_nowait(
            f'{self._media_prefix}{self.seq}{self._media_middle}"chunk":"{index + 1}",'
            f'"timestamp":"{index * 20}","payload":"{payload}"}}}}'
        )

    async def _send_frame(self, frame: bytes) -> bool:
        if not await self._until_next_slot():
            return False
        self._emit(frame)
        return True

    async def _wait_for_agent(self, item: WaitForAgent) -> bool:
        # Measured on the frame clock, so a wait sends exactly timeout_ms of silence at most.
        first = self.frames
        began = first * FRAME_MS
        player = self.player
        while (self.frames - first) * FRAME_MS < item.timeout_ms:
            if not await self._until_next_slot():
                return False
            now = self.now_ms()
            # The agent counts as having spoken if any of its audio played during the wait.
            spoke = player.busy_until > began or player.last_audio_ms >= began
            if spoke and now - max(player.busy_until, player.last_audio_ms) >= item.quiet_ms:
                return True
            self._emit(SILENT_FRAME)
        self.wait_timeouts += 1
        return True

    async def _write(self, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        while (text := await self.out.get()) is not None:
            try:
                await ws.send(text)
            except ConnectionClosed:
                self.closed.set()
                return

    # ------------------------------------------------------------------------ server side

    async def _read(self, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in ws:
                self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def _on_frame(self, frame: str | bytes) -> None:
        now = self.now_ms()
        if isinstance(frame, bytes):
            self._bad(now, "binary frame (Twilio accepts JSON text only)", {"bytes": len(frame)})
            return
        try:
            message = json.loads(frame)
        except ValueError:
            self._bad(now, "frame is not JSON", {"text": frame[:200]})
            return
        if not isinstance(message, dict):
            self._bad(now, "frame is not a JSON object", {"text": frame[:200]})
            return
        event = message.get("event")
        event = event if isinstance(event, str) else "<invalid>"
        if self.record_messages or event not in ("media", "mark"):
            self.received.append(Received(now, event, message))
        if message.get("streamSid") != self.stream_sid:
            self.errors.append(f"{event!r} at {now:.0f} ms has the wrong or no streamSid")
        if event == "media":
            self._on_media(now, message)
        elif event == "mark":
            name = _field(message, "mark", "name")
            if not isinstance(name, str):
                self.errors.append(f"'mark' at {now:.0f} ms without a string name")
                return
            self.player.add_mark(now, name)
            self._schedule_marks()
        elif event == "clear":
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            for name in self.player.clear(now):
                self._echo(name)
        else:
            self.errors.append(f"unknown event {event!r} at {now:.0f} ms")

    def _bad(self, now: float, why: str, detail: Mapping[str, Any]) -> None:
        self.errors.append(f"{why} at {now:.0f} ms")
        self.received.append(Received(now, "<invalid>", detail))

    def _on_media(self, now: float, message: Mapping[str, Any]) -> None:
        payload = _field(message, "media", "payload")
        try:
            audio = binascii.a2b_base64(payload, strict_mode=True)
        except (TypeError, ValueError):
            self.errors.append(f"'media' at {now:.0f} ms without a valid base64 payload")
            return
        self.player.add_audio(now, audio)

    def _schedule_marks(self) -> None:
        # Marks fall due in arrival order, so one timer for the oldest pending mark suffices.
        due = self.player.next_due()
        if self.timer is None and due is not None:
            self.timer = self.loop.call_at(self.t0 + due / 1000.0, self._fire_marks)

    def _fire_marks(self) -> None:
        self.timer = None
        for name in self.player.echo_due(self.now_ms()):
            self._echo(name)
        self._schedule_marks()

    def _echo(self, name: str) -> None:
        self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})
