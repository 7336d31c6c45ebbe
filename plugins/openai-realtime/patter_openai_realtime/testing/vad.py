"""A small energy VAD for the fake server: speech is any 10 ms frame louder than a threshold."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

FRAME_MS = 10
_SILENCE_FOR_EAGERNESS = {"low": 1200, "medium": 600, "auto": 600, "high": 300}


@frozen
class VadEvent:
    """``kind`` is ``started`` (at ``ms``, padding included) or ``stopped`` (speech end)."""

    kind: str
    ms: int
    speech_ms: int = 0


def decode(payload: str, kind: str) -> tuple[NDArray[np.int16], int] | None:
    """(samples, rate) of a base64 payload in wire format ``kind``; None when not decodable."""
    import numpy as np

    from patter_core.audio import ulaw_decode

    data = base64.b64decode(payload)
    if kind == "audio/pcmu":
        return np.frombuffer(ulaw_decode(data), dtype="<i2"), 8000
    if kind == "audio/pcm":
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2"), 24000
    return None  # A-law: no decoder in the core, so no VAD either


def silence_ms(turn_detection: dict[str, object]) -> int:
    """How much quiet ends a turn, for server or semantic VAD."""
    if turn_detection.get("type") == "semantic_vad":
        return _SILENCE_FOR_EAGERNESS.get(str(turn_detection.get("eagerness", "auto")), 600)
    value = turn_detection.get("silence_duration_ms")
    return value if isinstance(value, int) else 500


class EnergyVad:
    """Tracks the input clock and turns loud/quiet frames into started/stopped events."""

    def __init__(self, speech_rms: float) -> None:
        import numpy as np

        self.speech_rms = speech_rms
        self.clock_ms = 0
        self.in_speech = False
        self._start_ms = 0
        self._last_loud_end = 0
        self._quiet_ms = 0
        self._rest: NDArray[np.int16] = np.zeros(0, dtype=np.int16)

    def feed(
        self, samples: NDArray[np.int16], rate: int, *, silence_ms: int, prefix_ms: int
    ) -> list[VadEvent]:
        import numpy as np

        frame = rate * FRAME_MS // 1000
        buffered = np.concatenate([self._rest, samples])
        whole = len(buffered) // frame * frame
        self._rest = buffered[whole:]
        frames = buffered[:whole].astype(np.float64).reshape(-1, frame)
        loud = np.sqrt((frames**2).mean(axis=1)) > self.speech_rms if whole else []
        out: list[VadEvent] = []
        for is_loud in loud:
            if is_loud:
                if not self.in_speech:
                    self.in_speech, self._start_ms = True, self.clock_ms
                    out.append(VadEvent("started", max(0, self.clock_ms - prefix_ms)))
                self._quiet_ms, self._last_loud_end = 0, self.clock_ms + FRAME_MS
            elif self.in_speech:
                self._quiet_ms += FRAME_MS
                if self._quiet_ms >= silence_ms:
                    self.in_speech = False
                    speech = self._last_loud_end - self._start_ms
                    out.append(VadEvent("stopped", self._last_loud_end, speech))
            self.clock_ms += FRAME_MS
        return out
