"""Test audio in any wire format the core knows: silence, an audible tone, and its loudness."""

from __future__ import annotations

import base64
import math
from functools import cache
from typing import TYPE_CHECKING

from ..audio import ulaw_decode, ulaw_encode
from ..specs import AudioFormat

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: RMS (of 16-bit samples) from which the kit's voice detector hears speech.
SPEECH_RMS = 1000.0
_SILENT_BYTE = {"pcmu": b"\xff", "pcma": b"\xd5"}


def bytes_per_ms(fmt: AudioFormat) -> int:
    """Bytes of ``fmt`` audio per millisecond (8 for 8 kHz G.711, 48 for 24 kHz PCM16)."""
    per_sample = 2 if fmt.encoding == "pcm16" else 1
    return per_sample * fmt.sample_rate // 1000


def silence(fmt: AudioFormat, ms: int) -> bytes:
    """``ms`` of digital silence in ``fmt``."""
    return _SILENT_BYTE.get(fmt.encoding, b"\x00") * (bytes_per_ms(fmt) * ms)


def tone(fmt: AudioFormat, ms: int, frequency_hz: float = 440.0) -> bytes:
    """``ms`` of a sine tone in ``fmt``, loud enough for any energy voice detector."""
    return _tone_cached(fmt, ms, frequency_hz)


@cache
def _tone_cached(fmt: AudioFormat, ms: int, frequency_hz: float) -> bytes:
    import numpy as np

    n = fmt.sample_rate * ms // 1000
    t = np.arange(n, dtype=np.float64) / fmt.sample_rate
    pcm = np.rint(16000.0 * np.sin(2.0 * math.pi * frequency_hz * t)).astype("<i2")
    return encode_pcm16(fmt, pcm.tobytes())


def encode_pcm16(fmt: AudioFormat, pcm: bytes) -> bytes:
    """16-bit little-endian PCM samples at ``fmt``'s rate, encoded as ``fmt``."""
    if fmt.encoding == "pcmu":
        return ulaw_encode(pcm)
    if fmt.encoding == "pcma":
        return _alaw_encode(pcm)
    return pcm


def decode_pcm16(fmt: AudioFormat, data: bytes) -> NDArray[np.int16]:
    """``fmt`` audio as 16-bit samples."""
    import numpy as np

    if fmt.encoding == "pcmu":
        return np.frombuffer(ulaw_decode(data), dtype="<i2")
    if fmt.encoding == "pcma":
        return _alaw_decode(data)
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")


def rms(fmt: AudioFormat, payload: str) -> float:
    """Root-mean-square level of a base64 ``fmt`` payload (0.0 for an empty one)."""
    import numpy as np

    samples = decode_pcm16(fmt, base64.b64decode(payload))
    if len(samples) == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def _alaw_encode(pcm: bytes) -> bytes:
    """G.711 A-law, vectorised (the core has no A-law path; tests may still declare it)."""
    import numpy as np

    x = np.frombuffer(pcm, dtype="<i2").astype(np.int32) >> 3  # 13-bit
    sign = np.where(x >= 0, 0x80, 0x00)
    mag = np.minimum(np.where(x >= 0, x, -x - 1), 0x0FFF)
    exponent = np.zeros_like(mag)
    for bit in range(1, 8):
        exponent = np.where(mag >= (0x20 << (bit - 1)), bit, exponent)
    mantissa = np.where(exponent == 0, mag >> 1, mag >> exponent) & 0x0F
    code = (sign | (exponent << 4) | mantissa) ^ 0x55
    encoded: bytes = code.astype(np.uint8).tobytes()
    return encoded


def _alaw_decode(data: bytes) -> NDArray[np.int16]:
    import numpy as np

    code = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    mag = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(code & 0x80, mag, -mag).astype("<i2")
