"""Playback accounting: how much of each agent item the caller has actually heard.

Agent audio reaches the carrier much faster than it plays, so "sent" says nothing about
"heard". Marks follow the audio (every ~100 ms of it, and at the end of each burst); the
carrier echoes a mark once the audio before it has played. Between echoes the playhead
advances in real time, capped at the end of the oldest marked chunk whose mark has not
come back — playback cannot have passed it.
"""

from __future__ import annotations

import itertools
from collections import deque

import attrs
from attrs import frozen


@frozen
class Chunk:
    """One sent chunk: its mark ("" if none), its item, and where it sits on both clocks."""

    mark: str
    item_id: str
    item_start_ms: float
    item_end_ms: float
    stream_start_ms: float
    stream_end_ms: float


@frozen
class Interruption:
    """What to tell the engine after a barge-in: per item, the ms the caller heard."""

    heard: tuple[tuple[str, int], ...]


class PlaybackTracker:
    """Tracks chunks queued at the carrier and the caller's playhead, for one call."""

    def __init__(self) -> None:
        self._pending: deque[Chunk] = deque()
        self._item_sent_ms: dict[str, float] = {}
        self._stream_ms = 0.0
        self._anchor_stream_ms = 0.0
        self._anchor_time = 0.0
        self._counter = itertools.count(1)
        self._unmarked_ms = 0.0

    @property
    def playing(self) -> bool:
        """True while audio sent to the carrier has not been confirmed played."""
        return bool(self._pending)

    @property
    def unmarked_ms(self) -> float:
        """Audio queued at the carrier since the last mark."""
        return self._unmarked_ms

    @property
    def last_item(self) -> str | None:
        """The item of the newest queued chunk, if any."""
        return self._pending[-1].item_id if self._pending else None

    def sent(self, item_id: str, duration_ms: float, now: float, *, mark: bool = True) -> str:
        """Record a chunk handed to the carrier; returns the mark to send after it ("" if none)."""
        if self.playhead_ms(now) >= self._stream_ms:
            # The carrier's queue is empty, or has played out by the estimate while the engine
            # was slower than real time, so this chunk starts playing right away.
            self._anchor_stream_ms = self._stream_ms
            self._anchor_time = now
        start = self._item_sent_ms.get(item_id, 0.0)
        self._item_sent_ms[item_id] = start + duration_ms
        name = f"m{next(self._counter)}" if mark else ""
        self._unmarked_ms = 0.0 if mark else self._unmarked_ms + duration_ms
        self._pending.append(
            Chunk(
                name,
                item_id,
                start,
                start + duration_ms,
                self._stream_ms,
                self._stream_ms + duration_ms,
            )
        )
        self._stream_ms += duration_ms
        return name

    def mark_last(self) -> str:
        """Mark the newest chunk if it has no mark yet (the end of a burst); returns the name."""
        if not self._pending or self._pending[-1].mark:
            return ""
        name = f"m{next(self._counter)}"
        self._pending[-1] = attrs.evolve(self._pending[-1], mark=name)
        self._unmarked_ms = 0.0
        return name

    def echoed(self, mark: str, now: float) -> bool:
        """Record a mark echo; returns False for marks that are unknown or were flushed."""
        if not mark or not any(c.mark == mark for c in self._pending):
            return False
        while self._pending:
            chunk = self._pending.popleft()
            if chunk.mark == mark:
                self._anchor_stream_ms = chunk.stream_end_ms
                self._anchor_time = now
                return True
        return True

    def playhead_ms(self, now: float) -> float:
        """Estimated position of playback on the stream clock."""
        if not self._pending:
            return self._stream_ms
        moving = self._anchor_stream_ms + max(0.0, now - self._anchor_time) * 1000.0
        cap = next((c.stream_end_ms for c in self._pending if c.mark), self._stream_ms)
        return min(moving, cap)

    def heard_ms(self, item_id: str, now: float) -> float:
        """Milliseconds of ``item_id`` the caller has heard so far."""
        head = self.playhead_ms(now)
        heard = self._item_sent_ms.get(item_id, 0.0)
        for chunk in self._pending:
            if chunk.item_id == item_id:
                if head <= chunk.stream_start_ms:
                    return chunk.item_start_ms
                if head < chunk.stream_end_ms:
                    return chunk.item_start_ms + (head - chunk.stream_start_ms)
        return heard

    def interrupt(self, now: float) -> Interruption:
        """Drop everything queued (after a carrier clear) and say how much of each item was heard.

        Only items with unplayed audio are listed; items heard to the end need no truncation.
        """
        items: list[str] = []
        for chunk in self._pending:
            if chunk.item_id not in items:
                items.append(chunk.item_id)
        heard = tuple((item, int(self.heard_ms(item, now))) for item in items)
        self._pending.clear()
        self._unmarked_ms = 0.0
        return Interruption(heard)

    def sent_ms(self, item_id: str) -> float:
        return self._item_sent_ms.get(item_id, 0.0)
