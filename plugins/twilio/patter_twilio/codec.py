"""Twilio Media Streams frames ⇄ Patter's normalised carrier events.

Decoding runs about fifty times a second per call, so it is plain ``json.loads`` and dict
lookups; the caller's base64 audio is checked for validity but passed on untouched.
"""

from __future__ import annotations

import binascii
import json
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

#: Largest base64 audio payload accepted in one ``media`` frame (about 6 s of μ-law).
MAX_PAYLOAD_CHARS = 64 * 1024
#: Largest text frame decoded at all; checked before parsing so huge frames cost nothing.
MAX_FRAME_CHARS = MAX_PAYLOAD_CHARS + 16 * 1024
#: Twilio's custom parameters are under 500 characters each; more than this is not Twilio.
MAX_CUSTOM_PARAMETERS = 64

DTMF_DIGITS = frozenset("0123456789*#ABCD")

_quote = json.encoder.encode_basestring_ascii  # C-accelerated; output equals json.dumps
_b64check = binascii.a2b_base64


def _fail(message: str) -> CarrierProtocolError:
    return CarrierProtocolError(f"Twilio media stream: {message}")


def _show(value: object) -> str:
    """A short, safe rendering of an offending value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(frame: Mapping[str, Any], key: str, event: str) -> Mapping[str, Any]:
    value = frame.get(key)
    if type(value) is not dict:
        if value is None:
            raise _fail(f"{event!r} frame has no {key!r} object")
        raise _fail(f"{event!r} frame: {key!r} must be an object, got {type(value).__name__}")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if type(value) is str:
        return value
    if value is None and not required:
        return ""
    if value is None:
        raise _fail(f"{where} has no {key!r}")
    raise _fail(f"{where}: {key!r} must be a string, got {type(value).__name__} {_show(value)}")


def _number(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    """An integer Twilio may send as a JSON number or as a string of digits."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is int:
        return value
    # isascii() keeps out digits int() would accept (e.g. '٣'); the length cap keeps int() cheap.
    if type(value) is str and 0 < len(value) <= 18 and value.isascii() and value.isdigit():
        return int(value)
    raise _fail(f"{where}: {key!r} must be a whole number, got {_show(value)}")


def _decode_media(frame: Mapping[str, Any]) -> MediaReceived | None:
    media = _object(frame, "media", "media")
    payload = media.get("payload")
    if type(payload) is not str:
        raise _fail(f"'media' frame: 'payload' must be a base64 string, got {_show(payload)}")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise _fail(f"'media' payload of {len(payload)} chars exceeds {MAX_PAYLOAD_CHARS}")
    try:
        _b64check(payload, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _fail("'media' payload is not valid base64") from None
    track = media.get("track")
    if track is not None and track != "inbound":
        if type(track) is not str:
            raise _fail(f"'media' frame: 'track' must be a string, got {_show(track)}")
        return None  # a bidirectional stream only carries the caller; ignore anything else
    return MediaReceived(payload=payload, timestamp_ms=_number(media, "timestamp", "'media'"))


def _decode_start(frame: Mapping[str, Any]) -> StreamStarted:
    start = _object(frame, "start", "start")
    stream_id = _string(start, "streamSid", "'start'", required=False) or _string(
        frame, "streamSid", "'start' frame"
    )
    call_id = _string(start, "callSid", "'start'")
    raw = start.get("customParameters")
    params: dict[str, str] = {}
    if raw is not None:
        if type(raw) is not dict:
            raise _fail(f"'start': 'customParameters' must be an object, got {_show(raw)}")
        if len(raw) > MAX_CUSTOM_PARAMETERS:
            raise _fail(f"'start': more than {MAX_CUSTOM_PARAMETERS} custom parameters")
        for name, value in raw.items():
            if type(value) is not str:
                raise _fail(f"'start': custom parameter {name!r} must be a string")
            params[name] = value
    fmt = _object(start, "mediaFormat", "'start'")
    encoding = fmt.get("encoding")
    rate = _number(fmt, "sampleRate", "'start' mediaFormat")
    channels = _number(fmt, "channels", "'start' mediaFormat")
    if (encoding, rate, channels) != ("audio/x-mulaw", 8000, 1):
        raise _fail(
            f"unsupported media format {_show(encoding)} at {rate} Hz with {channels} channel(s); "
            "Patter's Twilio carrier expects audio/x-mulaw, 8000 Hz, 1 channel, which is what "
            "a <Connect><Stream> without audio_format/sample_rate attributes delivers"
        )
    return StreamStarted(
        stream_id=stream_id,
        call_id=call_id,
        call_token=params.get("call_token", ""),
        custom_parameters=params,
        audio_format=PCMU_8K,
    )


def _decode_mark(frame: Mapping[str, Any]) -> MarkEchoed:
    return MarkEchoed(name=_string(_object(frame, "mark", "mark"), "name", "'mark'"))


def _decode_dtmf(frame: Mapping[str, Any]) -> DtmfReceived:
    digit = _string(_object(frame, "dtmf", "dtmf"), "digit", "'dtmf'")
    if digit not in DTMF_DIGITS:
        raise _fail(f"'dtmf' digit must be one of 0-9, *, #, A-D; got {_show(digit)}")
    return DtmfReceived(digit=digit)


def _decode_stop(frame: Mapping[str, Any]) -> StreamStopped:
    stop = frame.get("stop")
    if stop is not None and type(stop) is not dict:
        raise _fail(f"'stop' frame: 'stop' must be an object, got {type(stop).__name__}")
    return StreamStopped(reason="twilio sent stop (the call ended or the stream was stopped)")


def decode(message: str) -> CarrierEvent | None:
    """Decode one Twilio text frame; ``None`` for ``connected``, `CarrierProtocolError` if bad."""
    if len(message) > MAX_FRAME_CHARS:
        raise _fail(f"frame of {len(message)} chars exceeds the {MAX_FRAME_CHARS}-char limit")
    try:
        frame = json.loads(message)
    except (ValueError, RecursionError) as exc:
        raise _fail(f"frame is not valid JSON ({type(exc).__name__})") from None
    if type(frame) is not dict:
        raise _fail(f"frame must be a JSON object, got {type(frame).__name__}")
    event = frame.get("event")
    # Most frames are media: test for it first.
    if event == "media":
        return _decode_media(frame)
    if event == "mark":
        return _decode_mark(frame)
    if event == "start":
        return _decode_start(frame)
    if event == "dtmf":
        return _decode_dtmf(frame)
    if event == "stop":
        return _decode_stop(frame)
    if event == "connected":
        return None
    if event is None:
        raise _fail("frame has no 'event'")
    raise _fail(f"unknown event {_show(event)}")


def encode_audio(stream_id: str, payload: str) -> str:
    """``{"event":"media","streamSid":…,"media":{"payload":…}}`` in compact JSON."""
    return (
        '{"event":"media","streamSid":'
        + _quote(stream_id)
        + ',"media":{"payload":'
        + _quote(payload)
        + "}}"
    )


def encode_mark(stream_id: str, name: str) -> str:
    """``{"event":"mark","streamSid":…,"mark":{"name":…}}`` in compact JSON."""
    return (
        '{"event":"mark","streamSid":'
        + _quote(stream_id)
        + ',"mark":{"name":'
        + _quote(name)
        + "}}"
    )


def encode_clear(stream_id: str) -> str:
    """``{"event":"clear","streamSid":…}`` in compact JSON."""
    return '{"event":"clear","streamSid":' + _quote(stream_id) + "}"
