"""Media-stream frames ⇄ the core's normalised carrier events.

The network sends ``start``, ``audio``, ``played`` (a mark echo), ``key`` and ``hangup``;
we send ``play``, ``mark`` and ``flush``. Every frame is a JSON object with a ``type``.
"""

from __future__ import annotations

import json
from typing import Any

from patter_core.carrier import (
    CarrierEvent,
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    StreamStarted,
    StreamStopped,
)
from patter_core.errors import CarrierProtocolError
from patter_core.specs import PCMU_8K

KEYS = frozenset("0123456789*#")


def _text(frame: dict[str, Any], key: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str):
        raise CarrierProtocolError(f"template frame {frame.get('type')!r} needs a string {key!r}")
    return value


def decode(message: str) -> CarrierEvent | None:
    """One frame from the network as an event; `CarrierProtocolError` when malformed."""
    try:
        frame = json.loads(message)
    except (ValueError, RecursionError):
        raise CarrierProtocolError("template frame is not JSON") from None
    if not isinstance(frame, dict):
        raise CarrierProtocolError("template frame is not a JSON object")
    kind = frame.get("type")
    if kind == "audio":
        return MediaReceived(payload=_text(frame, "audio"))
    if kind == "played":
        return MarkEchoed(name=_text(frame, "mark"))
    if kind == "start":
        if frame.get("format") != "pcmu/8000":
            raise CarrierProtocolError(f"unsupported template format {frame.get('format')!r}")
        return StreamStarted(
            stream_id=_text(frame, "stream"),
            call_id=_text(frame, "call"),
            call_token=_text(frame, "token"),
            audio_format=PCMU_8K,
        )
    if kind == "key":
        key = _text(frame, "key")
        if key not in KEYS:
            raise CarrierProtocolError(f"template key {key!r} is not a phone key")
        return DtmfReceived(digit=key)
    if kind == "hangup":
        return StreamStopped(reason="the caller hung up")
    raise CarrierProtocolError(f"unknown template frame type {kind!r}")


def _frame(**fields: str) -> str:
    return json.dumps(fields, separators=(",", ":"))


def encode_audio(stream_id: str, payload: str) -> str:
    """A frame that plays ``payload`` to the caller."""
    return _frame(type="play", stream=stream_id, audio=payload)


def encode_mark(stream_id: str, name: str) -> str:
    """A frame the network echoes (as ``played``) once everything before it has played."""
    return _frame(type="mark", stream=stream_id, mark=name)


def encode_clear(stream_id: str) -> str:
    """A frame that drops whatever audio is still queued."""
    return _frame(type="flush", stream=stream_id)
