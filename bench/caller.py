"""One simulated Twilio media stream of the load generator: frames out, playback, marks back."""

from __future__ import annotations

import asyncio
import secrets
import time
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

from .common import (
    AGENT_TAG_CHARS,
    caller_tag,
    read_agent_tag,
    read_caller_tag,
)
from .wsclient import WsClient

PROBE_K = 0xFFFFFFF0  # frame numbers at and above this are probes, never counted


class Call:
    """A caller: sends tagged 20 ms frames, plays what comes back, echoes marks as Twilio does."""

    def __init__(
        self,
        index: int,
        frames: int,
        rests: tuple[str, str],
        schedule_mark: Callable[[float, Call], None],
        *,
        agent_tags: bool,
    ) -> None:
        self.index = index
        self.frames = frames
        self.silence_rest, self.tone_rest = rests
        self.schedule_mark = schedule_mark
        self.agent_tags = agent_tags
        self.call_sid = "CA" + secrets.token_hex(16)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.ws: WsClient | None = None
        self.seq = 0
        self.chunk = 0
        self.k = 0
        self.started_at = 0.0
        self.sent_t = array("d", bytes(8 * frames))
        self.counts = bytearray(frames)
        self.last_k = -1
        self.rtt_ms: list[float] = []
        self.rtt_at: list[float] = []  # when each round trip ended, for --trace
        self.lateness_ms: list[float] = []
        self.duplicated = self.reordered = self.misrouted = self.other = 0
        self.busy_until = 0.0
        self.marks: deque[tuple[float, bytes]] = deque()
        self.marks_echoed = 0
        self.probe = asyncio.Event()
        # turns scenario: what the caller says and hears
        self.speech_left = 0
        self.last_loud = 0.0
        self.first_loud = 0.0
        self.chunks: list[tuple[float, int, float, int, float, float]] = []
        self.queue: list[tuple[float, int, float, int, float, float]] = []
        self.clears: list[tuple[float, int, float]] = []

    # -- sending ---------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        if self.ws is not None:
            self.ws.send_text(text.encode())

    def send_connected_and_start(self, parameters: dict[str, str]) -> None:
        """The first two messages Twilio sends on a media stream."""
        import json

        self._send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        self.seq += 1
        start = {
            "event": "start",
            "sequenceNumber": str(self.seq),
            "streamSid": self.stream_sid,
            "start": {
                "streamSid": self.stream_sid,
                "accountSid": "AC" + "0" * 32,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        self._send(json.dumps(start, separators=(",", ":")))
        self.started_at = time.monotonic()

    def send_media(self, k: int, loud: bool = False) -> None:
        """One 20 ms media frame tagged with (call index, ``k``)."""
        self.seq += 1
        self.chunk += 1
        payload = caller_tag(self.index, k) + (self.tone_rest if loud else self.silence_rest)
        self._send(
            f'{{"event":"media","sequenceNumber":"{self.seq}","streamSid":"{self.stream_sid}",'
            f'"media":{{"track":"inbound","chunk":"{self.chunk}",'
            f'"timestamp":"{(self.chunk - 1) * 20}","payload":"{payload}"}}}}'
        )

    def send_frame(self, due: float) -> bool:
        """Send the next scheduled frame; False once all ``frames`` have gone."""
        k = self.k
        loud = self.speech_left > 0
        if loud:
            self.speech_left -= 1
        self.send_media(k, loud)
        now = time.monotonic()
        if loud:
            self.first_loud = self.first_loud or now
            self.last_loud = now
        self.sent_t[k] = now
        self.lateness_ms.append((now - due) * 1000.0)
        self.k = k + 1
        return self.k < self.frames

    def send_stop(self) -> None:
        self.seq += 1
        self._send(
            f'{{"event":"stop","sequenceNumber":"{self.seq}","streamSid":"{self.stream_sid}",'
            f'"stop":{{"accountSid":"AC{"0" * 32}","callSid":"{self.call_sid}"}}}}'
        )

    def _echo(self, name: bytes) -> None:
        self.seq += 1
        self.marks_echoed += 1
        self._send(
            f'{{"event":"mark","sequenceNumber":"{self.seq}","streamSid":"{self.stream_sid}",'
            f'"mark":{{"name":"{name.decode()}"}}}}'
        )

    def echo_due(self, now: float) -> None:
        """Echo every mark whose audio has finished playing."""
        marks = self.marks
        while marks and marks[0][0] <= now:
            self._echo(marks.popleft()[1])

    # -- receiving ---------------------------------------------------------------------------

    def on_text(self, message: bytes, now: float) -> None:
        head = message[:24]
        if b"media" in head:
            self._media(message, now)
        elif b"mark" in head:
            self._mark(message, now)
        elif b"clear" in head:
            self._clear(now)
        else:
            self.other += 1

    def _media(self, message: bytes, now: float) -> None:
        i = message.find(b'"payload"')
        j = message.index(b'"', i + 9) + 1
        e = message.index(b'"', j)
        b64 = message[j:e]
        size = (e - j) // 4 * 3 - b64[-2:].count(b"=")
        start = now if now > self.busy_until else self.busy_until
        self.busy_until = start + size / 8000.0
        if self.agent_tags:
            tag = read_agent_tag(b64[:AGENT_TAG_CHARS])
            if tag is not None:
                item, sent, offset = tag
                chunk = (now, item, sent, offset, start, self.busy_until)
                self.chunks.append(chunk)
                self.queue.append(chunk)
            return
        ids = read_caller_tag(b64)
        if ids is None or ids[0] != self.index:
            self.misrouted += 1
            return
        k = ids[1]
        if k >= PROBE_K:
            self.probe.set()
            return
        if k >= self.frames:
            self.misrouted += 1
            return
        seen = self.counts[k]
        self.counts[k] = min(255, seen + 1)
        if seen:
            self.duplicated += 1
            return
        self.rtt_ms.append((now - self.sent_t[k]) * 1000.0)
        self.rtt_at.append(now)
        if k < self.last_k:
            self.reordered += 1
        else:
            self.last_k = k

    def _mark(self, message: bytes, now: float) -> None:
        i = message.find(b'"name"')
        j = message.index(b'"', i + 6) + 1
        name = message[j : message.index(b'"', j)]
        due = self.busy_until
        if due <= now and not self.marks:
            self._echo(name)
            return
        self.marks.append((due, name))
        self.schedule_mark(due, self)

    def _clear(self, now: float) -> None:
        # Twilio drops what is queued and echoes every pending mark at once.
        while self.marks:
            self._echo(self.marks.popleft()[1])
        heard_item, heard_ms = 0, 0.0
        for _, item, _, offset, start, end in reversed(self.queue):
            if start <= now:
                heard_item = item
                heard_ms = offset + (min(now, end) - start) * 1000.0
                break
        self.clears.append((now, heard_item, heard_ms))
        self.queue = [c for c in self.queue if c[4] <= now]
        self.busy_until = now

    # -- results -----------------------------------------------------------------------------

    def playing(self, now: float) -> bool:
        return self.busy_until > now

    def loss(self) -> dict[str, int]:
        received = sum(1 for c in self.counts[: self.k] if c)
        return {
            "sent": self.k,
            "received": received,
            "lost": self.k - received,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "misrouted": self.misrouted,
        }

    def turns_record(self) -> dict[str, Any]:
        """What the turns report needs from this caller."""
        return {
            "index": self.index,
            "started_at": self.started_at,
            "chunks": self.chunks,
            "clears": self.clears,
            "marks_echoed": self.marks_echoed,
        }
