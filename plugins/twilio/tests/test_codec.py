"""Decoding and encoding every media-stream message, with the exact shapes of PROTOCOLS B.2/B.3."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patter_twilio import Twilio
from patter_twilio.codec import MAX_FRAME_CHARS, MAX_PAYLOAD_CHARS

from patter_core.carrier import (
    DtmfReceived,
    MarkEchoed,
    MediaReceived,
    StreamStarted,
    StreamStopped,
)
from patter_core.errors import CarrierProtocolError
from patter_core.specs import PCMU_8K

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
CALL = "CA" + "c" * 32
ACCOUNT = "AC" + "a" * 32
FRAME_B64 = base64.b64encode(bytes(range(160))).decode()

carrier = Twilio(auth_token="t")
decode = carrier.decode


def frame(obj: Any) -> str:
    return json.dumps(obj)


START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": SID,
    "start": {
        "streamSid": SID,
        "accountSid": ACCOUNT,
        "callSid": CALL,
        "tracks": ["inbound"],
        "customParameters": {"call_token": "tok", "caller": "+15551230000", "callee": "+1555"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}
MEDIA = {
    "event": "media",
    "sequenceNumber": "3",
    "streamSid": SID,
    "media": {"track": "inbound", "chunk": "1", "timestamp": "160", "payload": FRAME_B64},
}


def test_connected_means_nothing() -> None:
    assert decode('{"event":"connected","protocol":"Call","version":"1.0.0"}') is None


def test_start() -> None:
    event = decode(frame(START))
    assert event == StreamStarted(
        stream_id=SID,
        call_id=CALL,
        call_token="tok",
        custom_parameters={"call_token": "tok", "caller": "+15551230000", "callee": "+1555"},
        audio_format=PCMU_8K,
    )


def test_start_without_parameters_has_no_token() -> None:
    start = {**START, "start": {**START["start"], "customParameters": {}}}  # type: ignore[dict-item]
    event = decode(frame(start))
    assert isinstance(event, StreamStarted)
    assert event.call_token == ""


@pytest.mark.parametrize(
    "media_format",
    [
        {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1},
        {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1},
        {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2},
        {},
    ],
)
def test_start_with_another_audio_format_is_refused_with_an_explanation(
    media_format: dict[str, Any],
) -> None:
    start = {**START, "start": {**START["start"], "mediaFormat": media_format}}  # type: ignore[dict-item]
    with pytest.raises(CarrierProtocolError, match="audio/x-mulaw, 8000 Hz, 1 channel"):
        decode(frame(start))


def test_media_payload_passes_through_untouched() -> None:
    event = decode(frame(MEDIA))
    assert event == MediaReceived(payload=FRAME_B64, timestamp_ms=160)
    assert isinstance(event, MediaReceived)
    assert event.payload is not None and base64.b64decode(event.payload) == bytes(range(160))


def test_media_timestamp_as_a_number_or_missing() -> None:
    media = {**MEDIA, "media": {"payload": FRAME_B64, "timestamp": 40}}
    assert decode(frame(media)) == MediaReceived(FRAME_B64, 40)
    assert decode(frame({**MEDIA, "media": {"payload": FRAME_B64}})) == MediaReceived(FRAME_B64)


def test_media_of_another_track_is_ignored() -> None:
    media = {**MEDIA, "media": {**MEDIA["media"], "track": "outbound"}}  # type: ignore[dict-item]
    assert decode(frame(media)) is None


def test_mark_dtmf_stop() -> None:
    mark = {"event": "mark", "sequenceNumber": "4", "streamSid": SID, "mark": {"name": "m7"}}
    assert decode(frame(mark)) == MarkEchoed("m7")
    dtmf = {
        "event": "dtmf",
        "streamSid": SID,
        "sequenceNumber": "5",
        "dtmf": {"track": "inbound_track", "digit": "#"},
    }
    assert decode(frame(dtmf)) == DtmfReceived("#")
    stop = {
        "event": "stop",
        "sequenceNumber": "5",
        "streamSid": SID,
        "stop": {"accountSid": ACCOUNT, "callSid": CALL},
    }
    event = decode(frame(stop))
    assert isinstance(event, StreamStopped)
    assert "stop" in event.reason


BAD_FRAMES: list[tuple[str, str]] = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('"media"', "must be a JSON object"),
    ("{}", "no 'event'"),
    ('{"event": "ping"}', "unknown event 'ping'"),
    ('{"event": 5}', "unknown event 5"),
    ('{"event": "media"}', "no 'media' object"),
    ('{"event": "media", "media": []}', "'media' must be an object"),
    ('{"event": "media", "media": {}}', "'payload' must be a base64 string"),
    ('{"event": "media", "media": {"payload": 12}}', "'payload' must be a base64 string"),
    ('{"event": "media", "media": {"payload": "abc"}}', "not valid base64"),
    ('{"event": "media", "media": {"payload": "@@@@"}}', "not valid base64"),
    ('{"event": "media", "media": {"payload": "", "timestamp": "1.5"}}', "whole number"),
    ('{"event": "media", "media": {"payload": "", "timestamp": true}}', "whole number"),
    ('{"event": "media", "media": {"payload": "", "track": 3}}', "'track' must be a string"),
    ('{"event": "mark", "mark": {}}', "'mark' has no 'name'"),
    ('{"event": "mark", "mark": {"name": 1}}', "'name' must be a string"),
    ('{"event": "dtmf", "dtmf": {"digit": "x"}}', "digit must be one of"),
    ('{"event": "dtmf", "dtmf": {"digit": "12"}}', "digit must be one of"),
    ('{"event": "stop", "stop": "now"}', "'stop' must be an object"),
    ('{"event": "start", "start": {"callSid": "CA1"}}', "no 'streamSid'"),
    ('{"event": "start", "streamSid": "MZ", "start": {}}', "no 'callSid'"),
    (
        '{"event": "start", "streamSid": "MZ", "start": {"callSid": "CA", "customParameters": []}}',
        "'customParameters' must be an object",
    ),
    (
        '{"event": "start", "streamSid": "MZ", "start": {"callSid": "CA", '
        '"customParameters": {"a": 1}}}',
        "custom parameter 'a' must be a string",
    ),
    ('{"event": "start", "streamSid": "MZ", "start": {"callSid": "CA"}}', "no 'mediaFormat'"),
    ("[" * 100_000, "exceeds"),
    ("[" * 50_000, "not valid JSON"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FRAMES)
def test_malformed_frames_raise_a_clear_protocol_error(text: str, message: str) -> None:
    with pytest.raises(CarrierProtocolError, match="Twilio media stream") as info:
        decode(text)
    assert message in str(info.value)


def test_oversized_payload_and_frame_are_refused() -> None:
    payload = "A" * (MAX_PAYLOAD_CHARS + 4)
    with pytest.raises(CarrierProtocolError, match="exceeds"):
        decode(frame({"event": "media", "media": {"payload": payload}}))
    just_fits = "A" * MAX_PAYLOAD_CHARS
    assert decode(frame({"event": "media", "media": {"payload": just_fits}})) is not None
    with pytest.raises(CarrierProtocolError, match=f"{MAX_FRAME_CHARS}-char limit"):
        decode(" " * (MAX_FRAME_CHARS + 1))


def test_error_messages_stay_short_for_huge_values() -> None:
    with pytest.raises(CarrierProtocolError) as info:
        decode(frame({"event": "x" * 10_000}))
    assert len(str(info.value)) < 200


def test_encode_exact_shapes() -> None:
    assert carrier.encode_audio(SID, FRAME_B64) == (
        '{"event":"media","streamSid":"' + SID + '","media":{"payload":"' + FRAME_B64 + '"}}'
    )
    assert carrier.encode_mark(SID, "m1") == (
        '{"event":"mark","streamSid":"' + SID + '","mark":{"name":"m1"}}'
    )
    assert carrier.encode_clear(SID) == '{"event":"clear","streamSid":"' + SID + '"}'


@given(st.text(), st.text())
def test_encode_equals_compact_json_dumps(stream_id: str, value: str) -> None:
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))

    assert carrier.encode_audio(stream_id, value) == dumps(
        {"event": "media", "streamSid": stream_id, "media": {"payload": value}}
    )
    assert carrier.encode_mark(stream_id, value) == dumps(
        {"event": "mark", "streamSid": stream_id, "mark": {"name": value}}
    )
    assert carrier.encode_clear(stream_id) == dumps({"event": "clear", "streamSid": stream_id})
    assert decode(carrier.encode_mark(stream_id, value)) == MarkEchoed(value)


# ---------------------------------------------------------------------------- fuzzing

EVENTS = st.sampled_from(["connected", "start", "media", "mark", "dtmf", "stop", "clear", "x"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
base64ish = st.one_of(
    st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet="ABCDabcd0123+/=\n -_", max_size=300),
    st.just("A" * (MAX_PAYLOAD_CHARS + 8)),
)


def _shaped_frame(event: str, body: dict[str, Any], payload: Any) -> dict[str, Any]:
    section = {**body, "payload": payload} if event == "media" else body
    return {"event": event, "streamSid": SID, "sequenceNumber": "2", event: section}


shaped = st.builds(
    _shaped_frame,
    EVENTS,
    st.dictionaries(
        st.sampled_from(
            [
                "payload",
                "timestamp",
                "track",
                "name",
                "digit",
                "callSid",
                "streamSid",
                "customParameters",
                "mediaFormat",
                "chunk",
            ]
        ),
        json_values,
        max_size=6,
    ),
    base64ish,
)
start_variants = st.builds(
    lambda key, value: {**START, "start": {**START["start"], key: value}},  # type: ignore[dict-item]
    st.sampled_from(["customParameters", "mediaFormat", "callSid", "streamSid", "tracks"]),
    json_values,
)


def _check(text: str) -> None:
    try:
        result = decode(text)
    except CarrierProtocolError:
        return
    assert result is None or isinstance(
        result, StreamStarted | MediaReceived | MarkEchoed | DtmfReceived | StreamStopped
    )


@settings(max_examples=400)
@given(st.text(max_size=500))
def test_fuzz_random_text(text: str) -> None:
    _check(text)


@settings(max_examples=400)
@given(json_values)
def test_fuzz_random_json(value: Any) -> None:
    _check(json.dumps(value))


@settings(max_examples=600)
@given(shaped | start_variants)
def test_fuzz_frames_shaped_like_twilio_with_wrong_types(value: dict[str, Any]) -> None:
    _check(json.dumps(value))


@settings(max_examples=200)
@given(base64ish, st.one_of(st.none(), json_values))
def test_fuzz_media_payloads_and_timestamps(payload: str, timestamp: Any) -> None:
    text = json.dumps({"event": "media", "media": {"payload": payload, "timestamp": timestamp}})
    _check(text)
