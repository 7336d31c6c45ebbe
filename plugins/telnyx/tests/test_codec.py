"""The media-stream codec: Telnyx's frames decode, ours encode, garbage never escapes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patter_telnyx import codec
from patter_telnyx.testing import TelnyxWire, token_client_state

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

WIRE = TelnyxWire()
AUDIO = base64.b64encode(b"\xff" * 160).decode()


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def test_start_carries_ids_token_parameters_and_format() -> None:
    start = json.loads(WIRE.start("stream-1", "v3:call-1", "tok-1"))
    start["start"]["custom_parameters"] = {"customer_id": "42"}
    event = codec.decode(json.dumps(start))
    assert event == StreamStarted(
        stream_id="stream-1",
        call_id="v3:call-1",
        call_token="tok-1",
        custom_parameters={"customer_id": "42"},
        audio_format=PCMU_8K,
    )


def test_a_start_without_our_client_state_has_no_token() -> None:
    start = json.loads(WIRE.start("s", "v3:c", "t"))
    del start["start"]["client_state"]
    assert isinstance(event := codec.decode(json.dumps(start)), StreamStarted)
    assert event.call_token == ""
    start["start"]["client_state"] = base64.b64encode(b"not ours").decode()
    assert codec.decode(json.dumps(start)).call_token == ""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "media_format",
    [
        {"encoding": "PCMA", "sample_rate": 8000, "channels": 1},
        {"encoding": "PCMU", "sample_rate": 16000, "channels": 1},
        {"encoding": "L16", "sample_rate": 8000, "channels": 1},
        {"encoding": "PCMU", "sample_rate": 8000, "channels": 2},
    ],
)
def test_a_stream_in_another_format_is_a_protocol_error(media_format: dict[str, Any]) -> None:
    start = json.loads(WIRE.start("s", "v3:c", "t"))
    start["start"]["media_format"] = media_format
    with pytest.raises(CarrierProtocolError, match="PCMU at 8000 Hz"):
        codec.decode(json.dumps(start))


def test_format_numbers_may_be_strings_and_encoding_any_case() -> None:
    start = json.loads(WIRE.start("s", "v3:c", "t"))
    start["start"]["media_format"] = {"encoding": "pcmu", "sample_rate": "8000"}
    assert isinstance(codec.decode(json.dumps(start)), StreamStarted)


def test_caller_audio_passes_untouched_and_other_tracks_are_ignored() -> None:
    assert codec.decode(WIRE.media("s", AUDIO)) == MediaReceived(payload=AUDIO)
    outbound = frame(event="media", media={"track": "outbound", "payload": AUDIO})
    assert codec.decode(outbound) is None
    assert codec.decode(frame(event="media", media={"payload": AUDIO})) == MediaReceived(AUDIO)


def test_marks_dtmf_stop_connected_and_errors() -> None:
    assert codec.decode(WIRE.mark_echo("s", "m7")) == MarkEchoed("m7")
    assert codec.decode(WIRE.dtmf("s", "#")) == DtmfReceived("#")
    assert isinstance(codec.decode(WIRE.stop("s", "v3:c")), StreamStopped)
    assert codec.decode(WIRE.connected()) is None
    error = frame(event="error", payload={"code": 100002, "title": "Unknown error"})
    assert codec.decode(error) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        frame(event="media", media={"payload": "not base64!"}),
        frame(event="media", media={"payload": "A" * (codec.MAX_PAYLOAD_CHARS + 4)}),
        frame(event="media", media={"payload": AUDIO, "track": 5}),
        frame(event="dtmf", dtmf={"digit": "x"}),
        frame(event="mark", mark={}),
        frame(event="start", start={"call_control_id": "c"}),
        frame(event="start", stream_id="s", start={"call_control_id": 5}),
        frame(event="nope"),
        " " * (codec.MAX_FRAME_CHARS + 1),
    ],
)
def test_malformed_frames_are_protocol_errors(text: str) -> None:
    with pytest.raises(CarrierProtocolError):
        codec.decode(text)


def test_our_frames_are_what_telnyx_reads() -> None:
    assert json.loads(codec.encode_audio("s\u00e9", AUDIO)) == {
        "event": "media",
        "stream_id": "s\u00e9",
        "media": {"payload": AUDIO},
    }
    assert json.loads(codec.encode_mark("s", 'm"1')) == {
        "event": "mark",
        "stream_id": "s",
        "mark": {"name": 'm"1'},
    }
    assert json.loads(codec.encode_clear("s")) == {"event": "clear", "stream_id": "s"}
    assert WIRE.read(codec.encode_clear("s")).kind == "clear"


def test_the_wire_builds_the_client_state_the_carrier_sets() -> None:
    from patter_telnyx.streamauth import token_state

    assert token_client_state("abc") == token_state("abc")


# ---------------------------------------------------------------------- fuzzing

EVENTS = ["media", "start", "mark", "dtmf", "stop", "connected", "error", "clear", None]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


def decodes_cleanly(text: str) -> None:
    try:
        event = codec.decode(text)
    except CarrierProtocolError:
        return
    assert event is None or isinstance(event, CarrierEvent)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_decodes_to_an_event_none_or_a_protocol_error(text: str) -> None:
    decodes_cleanly(text)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(EVENTS),
    st.dictionaries(
        st.sampled_from(["media", "start", "mark", "dtmf", "stop", "stream_id", "payload"]),
        JSON,
        max_size=4,
    ),
)
def test_frames_with_any_fields_decode_cleanly(event: str | None, fields: dict[str, Any]) -> None:
    decodes_cleanly(json.dumps({"event": event, **fields}))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    return found


VALID = [
    WIRE.start("s", "v3:c", "t"),
    WIRE.media("s", AUDIO),
    WIRE.mark_echo("s", "m1"),
    WIRE.dtmf("s", "5"),
    WIRE.stop("s", "v3:c"),
]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_valid_frames_with_one_field_replaced_decode_cleanly(
    text: str, data: st.DataObject
) -> None:
    message = json.loads(text)
    path = data.draw(st.sampled_from(_paths(message)[1:]))
    target = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(JSON)
    decodes_cleanly(json.dumps(message))
