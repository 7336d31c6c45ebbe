"""A call's transcript as it forms: lines in conversation order, barge-ins marked."""

from __future__ import annotations

import time

import attrs

from .records import TranscriptEntry


class Transcript:
    """Collects transcript lines; ``order`` is when each item's turn began, not when it was typed.

    The caller's words are usually transcribed after the agent has started answering, so
    lines are ordered by the first sign of their item (speech start, first audio).
    """

    def __init__(self) -> None:
        self.entries: list[TranscriptEntry] = []
        self._began: dict[str, float] = {}
        self._interrupted: set[str] = set()

    def began(self, item_id: str, at: float) -> None:
        """Note when an item started (the first call for an item wins)."""
        if item_id and item_id not in self._began:
            self._began[item_id] = at

    def line(self, role: str, item_id: str, text: str, *, final: bool = True) -> TranscriptEntry:
        """A line for ``item_id``; final lines are kept, partials only returned."""
        entry = TranscriptEntry(
            role,
            text,
            item_id,
            self._began.get(item_id, time.monotonic()),
            final=final,
            interrupted=item_id in self._interrupted,
        )
        if final:
            self.entries.append(entry)
        return entry

    def interrupted(self, item_id: str) -> list[TranscriptEntry]:
        """Mark ``item_id`` as cut off by the caller; returns the lines that changed."""
        self._interrupted.add(item_id)
        changed = []
        for i, entry in enumerate(self.entries):
            if entry.item_id == item_id and not entry.interrupted:
                self.entries[i] = attrs.evolve(entry, interrupted=True)
                changed.append(self.entries[i])
        return changed

    def was_interrupted(self, item_id: str) -> bool:
        return item_id in self._interrupted

    def in_order(self) -> tuple[TranscriptEntry, ...]:
        return tuple(sorted(self.entries, key=lambda e: e.order))
