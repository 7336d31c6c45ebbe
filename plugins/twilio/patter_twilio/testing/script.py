"""What the simulated caller does: speak, stay silent, press keys, play a file, hang up.

Audio items are rendered to 8 kHz μ-law and sent as 20 ms frames; a duration that is not a
multiple of 20 ms is padded with silence to the next frame.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache
from pathlib import Path

from attrs import field, frozen, validators

from patter_twilio.codec import DTMF_DIGITS

FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law: 8 bytes per ms
BYTES_PER_MS = 8
ULAW_SILENCE = 0xFF  # μ-law code of a zero sample

_positive = [validators.instance_of(int), validators.ge(0)]


@frozen
class Speech:
    """The caller talking: a tone loud enough for an energy-based voice detector."""

    ms: int = field(validator=_positive)
    frequency_hz: float = 440.0
    level: float = field(default=0.5, validator=[validators.gt(0.0), validators.le(1.0)])


@frozen
class Silence:
    """The caller saying nothing (μ-law silence frames keep flowing, as on a real line)."""

    ms: int = field(validator=_positive)


@frozen
class Audio:
    """Caller audio given as raw 8 kHz μ-law bytes (see `Audio.from_wav`)."""

    ulaw: bytes = field(repr=lambda data: f"<{len(data)} bytes>")

    @classmethod
    def from_wav(cls, path: str | Path) -> Audio:
        """Load a WAV file: 8 kHz μ-law, or 16-bit PCM at any rate (resampled to 8 kHz)."""
        return cls(read_wav_ulaw(path))

    @property
    def ms(self) -> int:
        return len(self.ulaw) // BYTES_PER_MS


@frozen
class Dtmf:
    """The caller pressing a key; sent between audio frames, as Twilio reports it."""

    digit: str = field(validator=validators.in_(sorted(DTMF_DIGITS)))


@frozen
class WaitForAgent:
    """Send silence until the agent has spoken and then stayed quiet, or until the timeout.

    "Quiet" means everything the agent sent has finished playing ``quiet_ms`` ago.
    """

    timeout_ms: int = field(default=10_000, validator=_positive)
    quiet_ms: int = field(default=400, validator=_positive)


@frozen
class Hangup:
    """The caller hangs up now: Twilio sends ``stop`` and closes the stream."""


ScriptItem = Speech | Silence | Audio | Dtmf | WaitForAgent | Hangup


def frames_of(ulaw: bytes) -> list[bytes]:
    """Split μ-law audio into 160-byte frames, padding the last one with silence."""
    if len(ulaw) % FRAME_BYTES:
        ulaw += bytes([ULAW_SILENCE]) * (FRAME_BYTES - len(ulaw) % FRAME_BYTES)
    return [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]


def _frame_count(ms: int) -> int:
    return -(-ms // FRAME_MS)


@lru_cache(maxsize=64)
def tone(ms: int, frequency_hz: float = 440.0, level: float = 0.5) -> bytes:
    """``ms`` of a sine tone as μ-law (cached: concurrent simulated calls share one copy)."""
    import numpy as np

    from patter_core.audio import ulaw_encode

    n = _frame_count(ms) * FRAME_BYTES
    t = np.arange(n, dtype=np.float64) / 8000.0
    pcm = np.rint(level * 32767.0 * np.sin(2.0 * math.pi * frequency_hz * t)).astype("<i2")
    return ulaw_encode(pcm.tobytes())


def render(item: Speech | Silence | Audio) -> list[bytes]:
    """The 20 ms frames one audio item sends."""
    if isinstance(item, Speech):
        return frames_of(tone(item.ms, item.frequency_hz, item.level))
    if isinstance(item, Silence):
        return [SILENT_FRAME] * _frame_count(item.ms)
    return frames_of(item.ulaw)


SILENT_FRAME = bytes([ULAW_SILENCE]) * FRAME_BYTES


# ------------------------------------------------------------------------------------ WAV


def read_wav_ulaw(path: str | Path) -> bytes:
    """The audio of a WAV file as 8 kHz mono μ-law.

    Accepts μ-law at 8 kHz (passed through) and 16-bit PCM at any rate and channel count
    (mixed to mono, resampled). Anything else raises `ValueError` saying what to convert to.
    """
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int] | None = None
    samples: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in GUID
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            samples = body
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    if fmt is None or samples is None:
        raise ValueError(f"{path}: WAV file without a 'fmt ' or 'data' chunk")
    tag, channels, rate, bits = fmt
    if tag == 7 and (channels, rate, bits) == (1, 8000, 8):
        return samples
    if tag == 1 and bits == 16 and channels >= 1 and rate > 0:
        return _pcm16_to_ulaw(samples, channels, rate)
    raise ValueError(
        f"{path}: unsupported WAV format (format tag {tag}, {bits}-bit, {rate} Hz, "
        f"{channels} channel(s)); use 8 kHz mono μ-law or 16-bit PCM"
    )


def _pcm16_to_ulaw(samples: bytes, channels: int, rate: int) -> bytes:
    import numpy as np

    from patter_core.audio import ulaw_encode

    usable = len(samples) - len(samples) % (2 * channels)
    pcm = np.frombuffer(samples[:usable], dtype="<i2").astype(np.float64)
    pcm = pcm.reshape(-1, channels).mean(axis=1)
    if rate != 8000 and len(pcm):
        # One-shot band-limited resampling in the frequency domain: test audio is loaded
        # once, so an FFT over the whole file is simpler than a streaming filter.
        n_out = max(1, round(len(pcm) * 8000 / rate))
        spectrum = np.fft.rfft(pcm)
        keep = n_out // 2 + 1
        spectrum = (
            spectrum[:keep]
            if len(spectrum) >= keep
            else np.pad(spectrum, (0, keep - len(spectrum)))
        )
        pcm = np.fft.irfft(spectrum, n_out) * (n_out / len(pcm))
    out = np.clip(np.rint(pcm), -32768, 32767).astype("<i2")
    return ulaw_encode(out.tobytes())
