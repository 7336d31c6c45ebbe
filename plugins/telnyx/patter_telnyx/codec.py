"""Telnyx media-streaming frames ⇄ Patter's normalised carrier events.

Telnyx sends ``connected``, ``start``, ``media``, ``dtmf``, ``mark`` (the echo of ours),
``error`` and ``stop``; we send ``media``, ``mark`` and ``clear``. The caller's base64
audio is checked for validity and passed on untouched.
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Mapping
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

from .streamauth import token_from_state

log = logging.getLogger("patter_telnyx")

#: Largest base64 payload accepted in one ``media`` frame (about 6 s of μ-law).
MAX_PAYLOAD_CHARS = 64 * 1024
#: Largest frame decoded at all; checked before parsing so huge frames cost nothing.
MAX_FRAME_CHARS = MAX_PAYLOAD_CHARS + 16 * 1024
MAX_CUSTOM_PARAMETERS = 64
DTMF_DIGITS = frozenset("0123456789*#ABCD")

_quote = json.encoder.encode_basestring_ascii  # C-accelerated; output equals json.dumps
_b64check = binascii.a2b_base64


def _fail(message: str) -> CarrierProtocolError:
    return CarrierProtocolError(f"Telnyx media stream: {message}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(frame: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = frame.get(key)
    if type(value) is not dict:
        raise _fail(f"{where} needs a {key!r} object, got {_show(value)}")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if type(value) is str:
        return value
    if value is None and not required:
        return ""
    raise _fail(f"{where} needs a string {key!r}, got {_show(value)}")


def _whole(value: object) -> int | None:
    """An integer sent as a JSON number or a string of digits; ``None`` otherwise."""
    if type(value) is int:
        return value
    if type(value) is str and 0 < len(value) <= 18 and value.isascii() and value.isdigit():
        return int(value)
    return None


def _decode_media(frame: Mapping[str, Any]) -> MediaReceived | None:
    media = _object(frame, "media", "'media'")
    payload = media.get("payload")
    if type(payload) is not str:
        raise _fail(f"'media' needs a base64 string 'payload', got {_show(payload)}")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise _fail(f"'media' payload of {len(payload)} chars exceeds {MAX_PAYLOAD_CHARS}")
    try:
        _b64check(payload, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _fail("'media' payload is not valid base64") from None
    track = media.get("track")
    if track is not None and track != "inbound":
        if type(track) is not str:
            raise _fail(f"'media' needs a string 'track', got {_show(track)}")
        return None  # we ask for inbound_track only; anything else is not the caller
    # media.timestamp's unit is not documented, so it is not passed on as milliseconds.
    return MediaReceived(payload=payload)


def _decode_start(frame: Mapping[str, Any]) -> StreamStarted:
    start = _object(frame, "start", "'start'")
    stream_id = _string(frame, "stream_id", "'start'", required=False) or _string(
        start, "stream_id", "'start'"
    )
    call_id = _string(start, "call_control_id", "'start'")
    state = _string(start, "client_state", "'start'", required=False)
    raw = start.get("custom_parameters")
    params: dict[str, str] = {}
    if raw is not None:
        if type(raw) is not dict or len(raw) > MAX_CUSTOM_PARAMETERS:
            raise _fail(f"'start' custom_parameters must be a small object, got {_show(raw)}")
        for name, value in raw.items():
            if type(value) is not str:
                raise _fail(f"'start' custom parameter {name!r} must be a string")
            params[name] = value
    fmt = _object(start, "media_format", "'start'")
    encoding = fmt.get("encoding")
    rate, channels = _whole(fmt.get("sample_rate")), fmt.get("channels", 1)
    if (
        type(encoding) is not str
        or encoding.upper() != "PCMU"
        or rate != 8000
        or _whole(channels) != 1
    ):
        raise _fail(
            f"unsupported media format {_show(encoding)} at {_show(fmt.get('sample_rate'))} Hz "
            f"with {_show(channels)} channel(s); Patter's Telnyx carrier asks for PCMU at "
            "8000 Hz, mono (stream_codec=PCMU in the answer command)"
        )
    return StreamStarted(
        stream_id=stream_id,
        call_id=call_id,
        call_token=token_from_state(state) if state else "",
        custom_parameters=params,
        audio_format=PCMU_8K,
    )


def _decode_dtmf(frame: Mapping[str, Any]) -> DtmfReceived:
    digit = _string(_object(frame, "dtmf", "'dtmf'"), "digit", "'dtmf'")
    if digit not in DTMF_DIGITS:
        raise _fail(f"'dtmf' digit must be one of 0-9, *, #, A-D; got {_show(digit)}")
    return DtmfReceived(digit=digit)


def _decode_error(frame: Mapping[str, Any]) -> None:
    # The error frame's fields are not documented in what we could read: log what it holds.
    detail = frame.get("payload", frame.get("error"))
    log.warning("Telnyx media stream reported an error: %s", _show(detail))


def decode(message: str) -> CarrierEvent | None:
    """Decode one Telnyx text frame; ``None`` for frames with no meaning to the core."""
    if len(message) > MAX_FRAME_CHARS:
        raise _fail(f"frame of {len(message)} chars exceeds the {MAX_FRAME_CHARS}-char limit")
    try:
        frame = json.loads(message)
    except (ValueError, RecursionError) as exc:
        raise _fail(f"frame is not valid JSON ({type(exc).__name__})") from None
    if type(frame) is not dict:
        raise _fail(f"frame must be a JSON object, got {type(frame).__name__}")
    event = frame.get("event")
    if event == "media":  # most frames are media: test for it first
        return _decode_media(frame)
    if event == "mark":
        return MarkEchoed(name=_string(_object(frame, "mark", "'mark'"), "name", "'mark'"))
    if event == "start":
        return _decode_start(frame)
    if event == "dtmf":
        return _decode_dtmf(frame)
    if event == "stop":
        return StreamStopped(reason="telnyx sent stop (the call ended or streaming stopped)")
    if event == "connected":
        return None
    if event == "error":
        _decode_error(frame)
        return None
    if event is None:
        raise _fail("frame has no 'event'")
    raise _fail(f"unknown event {_show(event)}")


def encode_audio(stream_id: str, payload: str) -> str:
    """``{"event":"media","stream_id":…,"media":{"payload":…}}`` in compact JSON."""
    return (
        '{"event":"media","stream_id":'
        + _quote(stream_id)
        + ',"media":{"payload":'
        + _quote(payload)
        + "}}"
    )


def encode_mark(stream_id: str, name: str) -> str:
    """``{"event":"mark","stream_id":…,"mark":{"name":…}}`` in compact JSON."""
    return (
        '{"event":"mark","stream_id":'
        + _quote(stream_id)
        + ',"mark":{"name":'
        + _quote(name)
        + "}}"
    )


def encode_clear(stream_id: str) -> str:
    """``{"event":"clear","stream_id":…}`` in compact JSON."""
    return '{"event":"clear","stream_id":' + _quote(stream_id) + "}"
