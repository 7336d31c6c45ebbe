"""What a simulated caller heard and when: the records a `CallRecording` is made of.

Times (``*_ms``) are milliseconds since the simulator sent ``start``, on the same clock as the
``timestamp`` of the media frames it sends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

from attrs import define, field, frozen

from .script import BYTES_PER_MS

EndReason = Literal[
    "script",  # the script ran to its end; the simulator sent stop and closed
    "hangup",  # a Hangup item: stop sent early
    "api",  # ended through Twilio's REST API (hang-up, transfer): stop sent
    "server_closed",  # the server closed the media stream (it ended the call)
    "webhook_rejected",  # the voice webhook did not answer 200
    "no_stream",  # the TwiML had no <Connect><Stream> (e.g. <Reject>)
    "media_rejected",  # the WebSocket upgrade was refused
    "error",  # anything else (network failure...); see CallRecording.error
]


@frozen
class Received:
    """One frame the server sent (``event`` is ``"<invalid>"`` when it could not be parsed)."""

    t_ms: float
    event: str
    message: Mapping[str, Any]


@frozen
class PlayedChunk:
    """One ``media`` message from the server and how much of it the caller heard."""

    received_ms: float
    start_ms: float
    end_ms: float  # when it stopped playing: its natural end, a clear, or the call's end
    size: int  # bytes of μ-law received
    played: int  # bytes of it actually played

    @property
    def played_ms(self) -> float:
        return self.played / BYTES_PER_MS


@frozen
class MarkEcho:
    """A mark from the server and its echo: after its audio played, or flushed by a clear."""

    name: str
    received_ms: float
    echoed_ms: float
    played_ms: float  # agent audio played on the stream so far, at the echo
    flushed: bool  # echoed by a clear (not played), as Twilio does


@frozen
class ClearRecord:
    """A ``clear`` from the server: what it dropped and the marks it flushed."""

    t_ms: float
    dropped_ms: float
    played_ms: float  # agent audio played on the stream so far, at the clear
    flushed_marks: tuple[str, ...]


@frozen
class CallRecording:
    """Everything one simulated call saw: webhook, TwiML, frames both ways, playback."""

    call_sid: str
    stream_sid: str
    caller: str
    callee: str
    ended_by: EndReason
    webhook_status: int
    twiml: str = ""
    stream_url: str = ""
    parameters: Mapping[str, str] = field(factory=dict)
    media_status: int | None = None  # HTTP status of a refused upgrade
    close_code: int | None = None
    close_reason: str = ""
    error: str = ""
    frames_sent: int = 0
    dtmf_sent: tuple[tuple[float, str], ...] = ()
    received: tuple[Received, ...] = ()
    chunks: tuple[PlayedChunk, ...] = ()
    marks: tuple[MarkEcho, ...] = ()
    clears: tuple[ClearRecord, ...] = ()
    heard_audio: bytes = field(default=b"", repr=lambda data: f"<{len(data)} bytes>")
    protocol_errors: tuple[str, ...] = ()  # frames from the server that Twilio would reject
    max_lag_ms: float = 0.0  # worst lateness of a caller frame against its schedule
    wait_timeouts: int = 0  # WaitForAgent items that ran out of time
    duration_ms: float = 0.0

    @property
    def sent_ms(self) -> int:
        """Milliseconds of caller audio sent."""
        return self.frames_sent * 20

    @property
    def heard_ms(self) -> float:
        """Milliseconds of agent audio the caller actually heard."""
        return len(self.heard_audio) / BYTES_PER_MS

    @property
    def received_audio_ms(self) -> float:
        """Milliseconds of agent audio the server sent, heard or not."""
        return sum(c.size for c in self.chunks) / BYTES_PER_MS

    def events(self, name: str) -> list[Received]:
        """The frames the server sent with ``event == name``, in order."""
        return [r for r in self.received if r.event == name]


@define
class _Chunk:
    received_ms: float
    start_ms: float
    end_ms: float
    offset: int
    size: int


@define
class _PendingMark:
    name: str
    received_ms: float
    due_ms: float


class Player:
    """Twilio's playback buffer, simulated: audio plays in order at 8 bytes per ms.

    Event driven, no per-millisecond work: each chunk's play window is known when it
    arrives, so marks get a due time and clears cut the windows.
    """

    def __init__(self) -> None:
        self.audio = bytearray()
        self.chunks: list[_Chunk] = []
        self.pending: deque[_PendingMark] = deque()
        self.marks: list[MarkEcho] = []
        self.clears: list[ClearRecord] = []
        self.busy_until = 0.0
        self.queued_ms = 0.0  # audio received and not dropped
        self.last_audio_ms = -1.0  # when agent audio last arrived

    def played_ms(self, now: float) -> float:
        """Agent audio played on the stream up to ``now``."""
        return self.queued_ms - max(0.0, self.busy_until - now)

    def add_audio(self, now: float, data: bytes) -> None:
        start = max(now, self.busy_until)
        duration = len(data) / BYTES_PER_MS
        self.chunks.append(_Chunk(now, start, start + duration, len(self.audio), len(data)))
        self.audio += data
        self.busy_until = start + duration
        self.queued_ms += duration
        self.last_audio_ms = now

    def add_mark(self, now: float, name: str) -> None:
        self.pending.append(_PendingMark(name, now, max(now, self.busy_until)))

    def next_due(self) -> float | None:
        return self.pending[0].due_ms if self.pending else None

    def echo_due(self, now: float) -> list[str]:
        """Marks whose audio has played by ``now``, in order."""
        names: list[str] = []
        while self.pending and self.pending[0].due_ms <= now:
            names.append(self._echo(self.pending.popleft(), now, flushed=False))
        return names

    def clear(self, now: float) -> list[str]:
        """Drop unplayed audio and flush every pending mark; returns the flushed names."""
        dropped = self._cut(now)
        played = self.played_ms(now)
        names = [self._echo(mark, now, flushed=True) for mark in self.pending]
        self.pending.clear()
        self.clears.append(ClearRecord(now, dropped, played, tuple(names)))
        return names

    def finish(self, now: float) -> None:
        """The call ended at ``now``: nothing after it was heard."""
        self._cut(now)

    def _cut(self, now: float) -> float:
        dropped = 0.0
        for chunk in reversed(self.chunks):
            if chunk.end_ms <= now:
                break  # chunks play in order: everything earlier has finished
            dropped += chunk.end_ms - max(chunk.start_ms, now)
            # A chunk that had not started yet never plays: it starts and ends at the cut.
            chunk.start_ms = min(chunk.start_ms, now)
            chunk.end_ms = now
        self.queued_ms -= dropped
        self.busy_until = min(self.busy_until, now)
        return dropped

    def _echo(self, mark: _PendingMark, now: float, *, flushed: bool) -> str:
        self.marks.append(MarkEcho(mark.name, mark.received_ms, now, self.played_ms(now), flushed))
        return mark.name

    def heard(self) -> tuple[tuple[PlayedChunk, ...], bytes]:
        """Per-chunk playback and the audio the caller heard, in order."""
        played: list[PlayedChunk] = []
        heard = bytearray()
        for c in self.chunks:
            size = min(c.size, max(0, round((c.end_ms - c.start_ms) * BYTES_PER_MS)))
            played.append(PlayedChunk(c.received_ms, c.start_ms, c.end_ms, c.size, size))
            heard += self.audio[c.offset : c.offset + size]
        return tuple(played), bytes(heard)
