"""What the fake server says: scripted replies, their parts, and audio to feed it.

A reply is a sequence of parts played in order inside one response: `Say` (an assistant
message spoken as audio), `CallTool` (a function call), `ServerError` (an ``error`` event)
and `Disconnect` (the socket drops mid-response).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping
from typing import Any, Literal

from attrs import field, frozen


@frozen
class Say:
    """An assistant message: ``text`` as transcript and audio (``ms_per_char`` of it per char)."""

    text: str
    ms_per_char: float | None = None


@frozen
class CallTool:
    """A function call; ``arguments`` as a string is sent verbatim (e.g. malformed JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = field(factory=dict)
    call_id: str = ""


@frozen
class ServerError:
    """An ``error`` event (a reply part, or the answer to ``session.update`` when rejecting)."""

    message: str
    code: str | None = None
    param: str | None = None
    type: str = "invalid_request_error"

    def event(self, event_id: str | None = None) -> dict[str, Any]:
        error = {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": event_id,
        }
        return {"type": "error", "error": error}


@frozen
class Disconnect:
    """End the connection now: abruptly (``code=None``, no close frame) or with a close code."""

    code: int | None = None
    reason: str = ""


Part = Say | CallTool | ServerError | Disconnect
ResponseStatus = Literal["completed", "incomplete", "failed"]


def _parts(value: Any) -> tuple[Part, ...]:
    return tuple(Say(p) if isinstance(p, str) else p for p in value)


@frozen
class Reply:
    """One scripted response; ``usage`` replaces the computed usage object verbatim."""

    parts: tuple[Part, ...] = field(converter=_parts)
    status: ResponseStatus = "completed"
    status_reason: str | None = None
    usage: Mapping[str, Any] | None = None


@frozen
class ResponseRequest:
    """What a reply callable sees: why the response was asked for and the context."""

    trigger: Literal["client", "turn_detection"]
    instructions: str | None
    user_text: str
    tool_outputs: Mapping[str, str]
    session: Mapping[str, Any]


Replier = Callable[[ResponseRequest], "Reply | Part | str"]
Scripted = Reply | Part | str | Replier


def as_reply(value: Reply | Part | str) -> Reply:
    return value if isinstance(value, Reply) else Reply((value,))


def resolve(scripted: Scripted, request: ResponseRequest) -> Reply:
    """The reply a scripted entry gives to ``request``."""
    if callable(scripted) and not isinstance(scripted, Reply | Say | CallTool):
        return as_reply(scripted(request))
    return as_reply(scripted)


# -- audio ----------------------------------------------------------------------------

TONE_HZ = 400  # a whole number of periods in 10 ms at both 8 and 24 kHz
TONE_AMPLITUDE = 8000
BYTES_PER_MS = {"audio/pcmu": 8, "audio/pcma": 8, "audio/pcm": 48}
_SILENCE_BYTE = {"audio/pcmu": b"\xff", "audio/pcma": b"\xd5"}


@functools.cache
def _tone_10ms(kind: str) -> bytes:
    """10 ms of a sine tone in ``kind`` (A-law falls back to silence: no encoder here)."""
    import numpy as np

    from patter_core.audio import ulaw_encode

    if kind == "audio/pcma":
        return _SILENCE_BYTE[kind] * 80
    rate = 24000 if kind == "audio/pcm" else 8000
    t = np.arange(rate // 100) / rate
    pcm = (TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2").tobytes()
    return pcm if kind == "audio/pcm" else ulaw_encode(pcm)


def audio_bytes(kind: str, ms: int, *, tone: bool = True) -> bytes:
    """``ms`` of tone (or silence) in wire format ``kind`` (``audio/pcmu``, ``audio/pcm``...)."""
    if not tone:
        return _SILENCE_BYTE.get(kind, b"\x00") * (BYTES_PER_MS[kind] * ms)
    whole, rest = divmod(ms, 10)
    chunk = _tone_10ms(kind)
    return chunk * whole + chunk[: rest * BYTES_PER_MS[kind]]


def mulaw_speech(ms: int) -> str:
    """Base64 μ-law 8 kHz tone the fake's VAD hears as speech (feed it to ``send_audio``)."""
    return base64.b64encode(audio_bytes("audio/pcmu", ms)).decode("ascii")


def mulaw_silence(ms: int) -> str:
    """Base64 μ-law 8 kHz silence."""
    return base64.b64encode(audio_bytes("audio/pcmu", ms, tone=False)).decode("ascii")
