"""Constants, frame tags and /proc readers shared by every bench process."""

from __future__ import annotations

import base64
import binascii
import os
import struct
from pathlib import Path

AUTH_TOKEN = "bench-auth-token"
ACCOUNT_SID = "AC" + "0" * 32
API_KEY = "sk-bench"
PUBLIC_URL = "https://bench.example.test"
VOICE_PATH = "/twilio/voice"
MEDIA_PATH = "/twilio/media"

FRAME_S = 0.02
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
VAD_SILENCE_MS = 500  # the fake engine's scripted delay before it answers a turn

GREETING = "Hello there, thanks for calling the bench. How can I help?"  # 58 chars
LONG_ANSWER = (
    "We open at nine in the morning and close at five in the evening on every weekday, "
    "and on weekends we open at ten."
)
TOOL_ANSWER = "It is sunny in Paris, twenty degrees."
TOOL_NAME = "weather"

WARMUP_INDEX = 0xFFFF  # the call index of the warm-up call, ignored by every report

# -- caller frame tags ---------------------------------------------------------------------
# The first 12 bytes of every caller frame carry (call index, frame number) as nibbles in
# quiet μ-law codes (0xF0-0xFF are within ±120 of zero), so tagged silence stays silence
# for the fake engine's VAD. 12 bytes are 16 base64 characters with no padding.

CALLER_TAG_BYTES = 12
CALLER_TAG_CHARS = 16


def caller_tag(index: int, k: int) -> str:
    """Base64 of the 12-byte tag for frame ``k`` of call ``index``."""
    digits = f"{index:04x}{k:08x}"
    raw = bytes(0xF0 | int(d, 16) for d in digits)
    return base64.b64encode(raw).decode("ascii")


def read_caller_tag(b64: bytes | str) -> tuple[int, int] | None:
    """(call index, frame number) from the first 16 base64 characters of a payload."""
    try:
        raw = binascii.a2b_base64(b64[:CALLER_TAG_CHARS])
    except (binascii.Error, ValueError):
        return None
    if len(raw) != CALLER_TAG_BYTES or any(b & 0xF0 != 0xF0 for b in raw):
        return None
    digits = raw.hex()[1::2]
    return int(digits[:4], 16), int(digits[4:], 16)


def frame_rest(tone: bool) -> str:
    """Base64 of the 148 bytes after the tag: a loud 400 Hz tone or μ-law silence."""
    if tone:
        from patter_openai_realtime.testing.script import audio_bytes

        audio = audio_bytes("audio/pcmu", 20)
    else:
        audio = b"\xff" * FRAME_BYTES
    return base64.b64encode(audio[CALLER_TAG_BYTES:]).decode("ascii")


# -- agent audio tags ----------------------------------------------------------------------
# The bench's fake engine overwrites the first 18 bytes of every audio delta it sends with
# (magic, item number, send time, offset in the item), so the caller can time each chunk.

AGENT_TAG = struct.Struct("<2sIdI")
AGENT_MAGIC = b"BT"
AGENT_TAG_CHARS = 24


def read_agent_tag(b64: bytes) -> tuple[int, float, int] | None:
    """(item number, engine send time, offset ms in the item) of a tagged agent chunk."""
    try:
        raw = binascii.a2b_base64(b64[:AGENT_TAG_CHARS])
    except (binascii.Error, ValueError):
        return None
    if len(raw) < AGENT_TAG.size or raw[:2] != AGENT_MAGIC:
        return None
    _, item, sent, offset = AGENT_TAG.unpack_from(raw)
    return item, sent, offset


# -- /proc -----------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far: on-CPU nanoseconds of its live threads, else utime+stime."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with open(task / "schedstat") as handle:
                total += int(handle.read().split()[0])
        return total / 1e9
    except (OSError, ValueError):
        pass
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def core_busy_seconds() -> dict[int, float]:
    """Busy seconds of every CPU so far (everything but idle and iowait), from /proc/stat."""
    out: dict[int, float] = {}
    with open("/proc/stat") as handle:
        for line in handle:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                ticks = [int(f) for f in fields]
                out[int(name[3:])] = (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK
    return out


def rss_kb(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max (and count) of a list, nearest-rank; zeros when empty."""
    if not values:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(n - 1, max(0, int(p * n + 0.999999) - 1))]

    return {
        "n": n,
        "p50": round(rank(0.50), 3),
        "p95": round(rank(0.95), 3),
        "p99": round(rank(0.99), 3),
        "max": round(ordered[-1], 3),
    }
