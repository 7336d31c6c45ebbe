"""Audio conversion between carrier and engine formats, in compiled code (numpy).

The normal path needs none of this: when the engine speaks the carrier's format, base64
payloads pass through untouched. Conversion keeps filter state across chunks, so 20 ms
frames convert without clicks at their edges.

>>> conv = converter_for(PCMU_8K, PCM16_24K)
>>> out = conv.convert(bytes([0xFF]) * 160)          # 20 ms of μ-law silence
>>> len(out)                                         # 480 samples of int16
960
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Protocol

from .errors import CompatibilityError
from .specs import PCM16_24K, PCMU_8K, AudioFormat

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

CONVERSIONS: frozenset[tuple[AudioFormat, AudioFormat]] = frozenset(
    {(PCMU_8K, PCM16_24K), (PCM16_24K, PCMU_8K)}
)


def can_convert(source: AudioFormat, target: AudioFormat) -> bool:
    return source == target or (source, target) in CONVERSIONS


class Converter(Protocol):
    def convert(self, data: bytes) -> bytes: ...


_tables: dict[str, NDArray[np.generic]] = {}


def _ulaw_tables() -> tuple[NDArray[np.int16], NDArray[np.uint8]]:
    """G.711 μ-law decode (256 entries) and encode (65,536 entries) lookup tables."""
    import numpy as np

    if "decode" not in _tables:
        codes = ~np.arange(256, dtype=np.int32) & 0xFF
        sign = codes & 0x80
        exponent = (codes >> 4) & 0x07
        mantissa = codes & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        _tables["decode"] = np.where(sign != 0, -magnitude, magnitude).astype(np.int16)
        pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2  # 14-bit, before taking |x|
        negative = pcm < 0
        mag = np.minimum(np.where(negative, -pcm, pcm), 8158) + 33
        exp = np.zeros_like(mag)
        for bit in range(1, 8):
            exp = np.where(mag >= (1 << (bit + 5)), bit, exp)
        mant = (mag >> (exp + 1)) & 0x0F
        code = ~((exp << 4) | mant) & 0x7F
        code = np.where(negative, code, code | 0x80).astype(np.uint8)
        # Indexed by the int16 sample's bit pattern read as uint16.
        _tables["encode"] = np.roll(code, -32768)
    return _tables["decode"], _tables["encode"]  # type: ignore[return-value]


def ulaw_decode(data: bytes) -> bytes:
    """μ-law bytes → little-endian int16 PCM bytes."""
    import numpy as np

    decode, _ = _ulaw_tables()
    return decode[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def ulaw_encode(data: bytes) -> bytes:
    """Little-endian int16 PCM bytes → μ-law bytes."""
    import numpy as np

    _, encode = _ulaw_tables()
    return encode[np.frombuffer(data, dtype="<i2").view(np.uint16)].tobytes()


def _lowpass(taps: int, cutoff: float) -> NDArray[np.float64]:
    """A windowed-sinc low-pass filter; ``cutoff`` is a fraction of the sample rate."""
    import numpy as np

    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff * n) * np.blackman(taps)
    return h / h.sum()  # type: ignore[no-any-return]


class _Resampler:
    """Integer-ratio resampler (×3 up or ÷3 down) with a 3.6 kHz anti-alias filter."""

    def __init__(self, up: int, down: int) -> None:
        import numpy as np

        self.up, self.down = up, down
        self.h = _lowpass(63, 3600 / 24000) * up
        self.history = np.zeros(len(self.h) - 1)
        self.phase = 0

    def process(self, samples: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        if len(samples) == 0:  # np.convolve would swap its operands and invent samples
            return samples
        if self.up > 1:
            stuffed = np.zeros(len(samples) * self.up)
            stuffed[:: self.up] = samples
            samples = stuffed
        extended = np.concatenate([self.history, samples])
        filtered = np.convolve(extended, self.h, mode="valid")
        self.history = extended[len(extended) - (len(self.h) - 1) :]
        if self.down > 1:
            out = filtered[self.phase :: self.down]
            self.phase = (self.phase - len(filtered)) % self.down
            return out
        return filtered


class _UlawToPcm24k:
    def __init__(self) -> None:
        self.resampler = _Resampler(up=3, down=1)

    def convert(self, data: bytes) -> bytes:
        import numpy as np

        decode, _ = _ulaw_tables()
        samples = decode[np.frombuffer(data, dtype=np.uint8)].astype(np.float64)
        out = self.resampler.process(samples)
        return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()


class _Pcm24kToUlaw:
    def __init__(self) -> None:
        self.resampler = _Resampler(up=1, down=3)

    def convert(self, data: bytes) -> bytes:
        import numpy as np

        _, encode = _ulaw_tables()
        samples = np.frombuffer(data, dtype="<i2").astype(np.float64)
        out = np.clip(np.rint(self.resampler.process(samples)), -32768, 32767).astype(np.int16)
        return encode[out.view(np.uint16)].tobytes()


class _Passthrough:
    def convert(self, data: bytes) -> bytes:
        return data


def converter_for(source: AudioFormat, target: AudioFormat) -> Converter:
    """A stateful converter for one direction of one call."""
    if source == target:
        return _Passthrough()
    if (source, target) == (PCMU_8K, PCM16_24K):
        return _UlawToPcm24k()
    if (source, target) == (PCM16_24K, PCMU_8K):
        return _Pcm24kToUlaw()
    raise CompatibilityError(f"no conversion from {source} to {target}; supported: {_pairs()}")


def _pairs() -> str:
    return ", ".join(sorted(f"{a}→{b}" for a, b in CONVERSIONS))


class Base64Converter:
    """Converts base64 payloads, for engines whose wire format differs from the carrier's."""

    def __init__(self, source: AudioFormat, target: AudioFormat) -> None:
        self._conv = converter_for(source, target)

    def __call__(self, payload: str) -> str:
        return base64.b64encode(self._conv.convert(base64.b64decode(payload))).decode("ascii")


def decoded_length(payload: str) -> int:
    """Bytes encoded by a base64 string, without decoding it."""
    return len(payload) // 4 * 3 - payload.count("=", -2)


def duration_ms(payload: str, fmt: AudioFormat) -> float:
    """Milliseconds of audio in a base64 payload of format ``fmt``, without decoding it."""
    bytes_per_sample = 2 if fmt.encoding == "pcm16" else 1
    return decoded_length(payload) * 1000 / (fmt.sample_rate * bytes_per_sample)
