"""The turns scenario: what each caller says and when, and the latencies read from it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from .caller import Call
from .common import VAD_SILENCE_MS, percentiles

ANSWER_SPEECH_FRAMES = 40  # 800 ms: a question
BARGE_IN_FRAMES = 30  # 600 ms: the caller talks over the long answer
BARGE_IN_AFTER_S = 0.7  # how far into the long answer the caller barges in
QUIET_S = 0.3  # pause after the agent stops before the caller speaks again
ANSWER_WITHIN_S = 3.0  # audio later than this after the end of speech answers nothing
CYCLE_S = 6.0  # one question, long answer, barge-in, tool turn and its answer, with slack


async def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _speak(call: Call, frames: int) -> tuple[float, float]:
    """Say ``frames`` loud frames; (first, last) loud frame send times."""
    call.first_loud = 0.0
    call.speech_left = frames
    await _until(lambda: call.speech_left == 0, 5.0)
    return call.first_loud, call.last_loud


def _new_item_after(call: Call, t: float, seen: set[int]) -> tuple[float, float] | None:
    """(received, playback start) of the first chunk after ``t`` of an item not in ``seen``."""
    for received, item, _, _, start, _ in call.chunks:
        if received > t and item not in seen:
            return received, start
    return None


async def _turn(call: Call, frames: int) -> tuple[float, float, tuple[float, float] | None]:
    """Speak, then wait for a new agent item: (first, last loud frame, its first chunk)."""
    seen = {c[1] for c in call.chunks}
    first, end = await _speak(call, frames)
    await _until(lambda: _new_item_after(call, end, seen) is not None, 4.0)
    return first, end, _new_item_after(call, end, seen)


async def script(call: Call, deadline: float) -> dict[str, Any]:
    """Greeting, then cycles of question → long answer → barge-in → tool turn → answer."""
    ends: list[tuple[str, float]] = []
    barge_ins: list[float] = []
    quiet = lambda: time.monotonic() - call.busy_until >= QUIET_S  # noqa: E731
    await _until(lambda: bool(call.chunks), 3.0)  # the baseline never greets
    await _until(quiet, 10.0)
    while time.monotonic() + CYCLE_S < deadline:
        _, end, found = await _turn(call, ANSWER_SPEECH_FRAMES)
        ends.append(("answer", end))
        if found is None:
            continue
        await asyncio.sleep(max(0.0, found[1] + BARGE_IN_AFTER_S - time.monotonic()))
        first, end, _ = await _turn(call, BARGE_IN_FRAMES)
        barge_ins.append(first)
        ends.append(("tool", end))
        await _until(quiet, 8.0)
    return {"ends": ends, "barge_ins": barge_ins}


def summarize(
    records: list[Mapping[str, Any]], fake_log: Mapping[str, list[Mapping[str, Any]]]
) -> dict[str, Any]:
    """The turns figures, from the callers' records and the fake engine's event log."""
    greeting, greeting_added, forward = [], [], []
    turn: dict[str, list[float]] = {"answer": [], "tool": []}
    clear, truncate_error = [], []
    missing = {"greeting": 0, "answer": 0, "tool": 0, "clear": 0, "truncate": 0}
    for record in records:
        chunks = record["chunks"]
        events = fake_log.get(str(record["index"]), [])
        for received, _, sent, _, _, _ in chunks:
            forward.append((received - sent) * 1000.0)
        first_end = min((end for _, end in record["ends"]), default=float("inf"))
        if chunks and chunks[0][0] < first_end:
            greeting.append((chunks[0][0] - record["started_at"]) * 1000.0)
            greeting_added.append((chunks[0][0] - chunks[0][2]) * 1000.0)
        else:
            missing["greeting"] += 1
        for kind, end in record["ends"]:
            seen = {c[1] for c in chunks if c[0] <= end}
            first = next((c for c in chunks if c[0] > end and c[1] not in seen), None)
            if first is None or first[0] - end > ANSWER_WITHIN_S:
                missing[kind] += 1
            else:
                turn[kind].append((first[0] - end) * 1000.0 - VAD_SILENCE_MS)
        started = [e["t"] for e in events if e["kind"] == "input_audio_buffer.speech_started"]
        for t_clear, item, heard_ms in record["clears"]:
            before = [t for t in started if t <= t_clear]
            if before:
                clear.append((t_clear - before[-1]) * 1000.0)
            cut = [
                e
                for e in events
                if e["kind"] in ("conversation.item.truncate", "conversation.item.delete")
                and e.get("item") == item
            ]
            if not cut:
                missing["truncate"] += 1
                continue
            end_ms = cut[0].get("ms") or 0
            truncate_error.append(float(end_ms) - heard_ms)
        missing["clear"] += max(0, len(record["barge_ins"]) - len(record["clears"]))
    return {
        "greeting_ms": percentiles(greeting),
        "greeting_added_ms": percentiles(greeting_added),
        "agent_audio_forward_ms": percentiles(forward),
        "turn_ms": percentiles(turn["answer"]),
        "tool_turn_ms": percentiles(turn["tool"]),
        "clear_after_speech_started_ms": percentiles(clear),
        "truncate_minus_heard_ms": percentiles(truncate_error),
        "truncate_abs_error_max_ms": round(max((abs(x) for x in truncate_error), default=0.0), 1),
        "missing": missing,
        "vad_silence_ms": VAD_SILENCE_MS,
    }
