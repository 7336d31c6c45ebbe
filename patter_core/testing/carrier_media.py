"""Required carrier groups, part two: the media codec, marks and clears, and stop."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ..carrier import MarkEchoed, MediaReceived, StreamStarted, StreamStopped
from ..errors import CarrierProtocolError
from ..simulation import CarrierWire, Hangup, Silence, Speech, WaitForAgent
from ..specs import AudioFormat, CarrierSpec
from .audio import silence, tone
from .base import ConformanceGroup
from .carrier_required import got_through
from .fixtures import CarrierLive
from .kit_engine import AGENT_ITEM
from .live import guarded
from .report import check, fail, shown

STREAM, CALL, TOKEN = "kit-stream-1", "kit-call-1", "kit-token-1"
#: How far the core's idea of what was heard may sit from what the caller heard: one kit
#: chunk (100 ms) plus delivery. It compares two playback accounts, not wall-clock times.
HEARD_TOLERANCE_MS = 150
GARBAGE = ("", "not json", "{}", "[]", "null", '{"event": 42}', "\x00\x01", "{" * 64)


def payloads(fmt: AudioFormat) -> list[str]:
    """Base64 payloads of several sizes and contents in ``fmt``."""
    raw = [silence(fmt, 20), tone(fmt, 20), tone(fmt, 1000), bytes(range(256)) * 2]
    return [base64.b64encode(data).decode("ascii") for data in raw]


def decoded(carrier: Any, frame: str, what: str) -> Any:
    """``carrier.decode(frame)``, failing with the frame when it raises."""
    try:
        return carrier.decode(frame)
    except Exception as exc:
        fail(f"decode() raised {type(exc).__name__}: {exc} on the network's {what} frame {frame!r}")


def encoded(carrier: Any, wire: CarrierWire, method: str, *args: str) -> Any:
    """What the network reads from ``carrier.<method>(*args)``."""
    frame = getattr(carrier, method)(*args)
    check(isinstance(frame, str), f"{method}() returned {type(frame).__name__}, not a text frame")
    return wire.read(frame), frame


class MediaCodec(ConformanceGroup):
    """The carrier's codec and the network's own simulator understand each other."""

    def test_stream_start_carries_ids_and_the_call_token(
        self, carrier: object, carrier_wire: CarrierWire
    ) -> None:
        event = decoded(carrier, carrier_wire.start(STREAM, CALL, TOKEN), "start")
        check(
            isinstance(event, StreamStarted)
            and (event.stream_id, event.call_id, event.call_token) == (STREAM, CALL, TOKEN),
            f"decode(start) gave {shown(event)}; expected StreamStarted with stream_id={STREAM!r}"
            f", call_id={CALL!r}, call_token={TOKEN!r}: the token must come back exactly as "
            "the webhook answer handed it out",
        )

    def test_declared_audio_format_is_what_the_network_streams(
        self, carrier: object, carrier_wire: CarrierWire, carrier_spec: CarrierSpec
    ) -> None:
        declared, streamed = carrier_spec.audio_format, carrier_wire.audio_format
        check(
            streamed == declared,
            f"carrier {carrier_spec.name!r} declares audio_format={declared} but its network "
            f"streams {streamed}: the core would hand the engine audio in the wrong format. "
            f"Declare AudioFormat({streamed.encoding!r}, {streamed.sample_rate}) in the spec.",
        )
        event = decoded(carrier, carrier_wire.start(STREAM, CALL, TOKEN), "start")
        reported = getattr(event, "audio_format", None)
        check(
            reported is None or reported == declared,
            f"decode(start) reports the stream as {reported} but the spec declares {declared}",
        )

    def test_caller_audio_decodes_untouched(
        self, carrier: object, carrier_wire: CarrierWire
    ) -> None:
        for payload in payloads(carrier_wire.audio_format):
            event = decoded(carrier, carrier_wire.media(STREAM, payload), "media")
            check(
                isinstance(event, MediaReceived) and event.payload == payload,
                f"decode(media) gave {shown(event)!s:.200}; expected MediaReceived with the "
                "network's base64 payload untouched",
            )

    def test_agent_audio_encodes_for_the_network(
        self, carrier: object, carrier_wire: CarrierWire
    ) -> None:
        for payload in payloads(carrier_wire.audio_format):
            sent, frame = encoded(carrier, carrier_wire, "encode_audio", STREAM, payload)
            check(
                sent.kind == "audio" and sent.payload == payload and sent.stream_id == STREAM,
                f"the network read encode_audio({STREAM!r}, ...) as {shown(sent)!s:.200}; "
                f"expected audio on stream {STREAM!r} with the payload untouched "
                f"(frame {frame!s:.120})",
            )

    def test_malformed_frames_are_protocol_errors(self, carrier: object) -> None:
        for frame in GARBAGE:
            try:
                carrier.decode(frame)  # type: ignore[attr-defined]
            except CarrierProtocolError:
                continue
            except Exception as exc:
                fail(
                    f"decode({frame!r}) raised {type(exc).__name__}: {exc}; malformed frames "
                    "must raise patter_core.errors.CarrierProtocolError (or return None for "
                    "frames with no meaning), or one bad frame ends the call"
                )


class MarkAndClear(ConformanceGroup):
    """Marks come back once their audio has played; clear drops what is still queued."""

    def test_mark_encodes_and_its_echo_decodes(
        self, carrier: object, carrier_wire: CarrierWire
    ) -> None:
        sent, frame = encoded(carrier, carrier_wire, "encode_mark", STREAM, "m7")
        check(
            sent.kind == "mark" and sent.name == "m7" and sent.stream_id == STREAM,
            f"the network read encode_mark({STREAM!r}, 'm7') as {shown(sent)} (frame {frame})",
        )
        event = decoded(carrier, carrier_wire.mark_echo(STREAM, "m7"), "mark echo")
        check(event == MarkEchoed("m7"), f"decode(mark echo) gave {shown(event)}")

    def test_clear_encodes_for_the_network(
        self, carrier: object, carrier_wire: CarrierWire
    ) -> None:
        sent, frame = encoded(carrier, carrier_wire, "encode_clear", STREAM)
        check(
            sent.kind == "clear" and sent.stream_id == STREAM,
            f"the network read encode_clear({STREAM!r}) as {shown(sent)} (frame {frame}): "
            "it must be the frame that drops the audio still queued for the caller",
        )

    @pytest.mark.asyncio
    async def test_marks_are_echoed_after_their_audio_played(
        self, carrier_live: CarrierLive
    ) -> None:
        script = (WaitForAgent(), Speech(300), Silence(400), Hangup())
        async with carrier_live(speak_ms=400) as rig:
            report = await guarded(rig.caller.call(script), "the simulated call")
            got_through(report)
            await rig.call_ended(report.call_id)
            session = rig.engine.session_for(report.call_id)
        assert session is not None
        check(report.marks_echoed > 0, f"the network echoed no mark: {shown(report)}")
        check(
            report.heard_ms >= 400 - 20,
            f"the caller heard {report.heard_ms:.0f} of the 400 ms of agent audio sent",
        )
        check(
            session.speech_starts > 0,
            "the kit engine never heard the caller's Speech step; the simulator must send it "
            "as audible audio in the carrier's format",
        )
        check(
            not session.truncations and report.clears == 0,
            "the caller spoke after hearing all 400 ms of agent audio, yet the core still "
            f"thought audio was playing (clears={report.clears}, truncations="
            f"{session.truncations}): mark echoes are not reaching it; check encode_mark and "
            "the decoding of the network's mark echo",
        )

    @pytest.mark.asyncio
    async def test_clear_stops_playback_where_the_engine_is_truncated(
        self, carrier_live: CarrierLive
    ) -> None:
        total = 5000
        script = (Silence(600), Speech(300), Silence(300), Hangup())
        async with carrier_live(speak_ms=total) as rig:
            report = await guarded(rig.caller.call(script), "the simulated call")
            got_through(report)
            await rig.call_ended(report.call_id)
            session = rig.engine.session_for(report.call_id)
        assert session is not None
        check(session.speech_starts > 0, "the kit engine never heard the caller's Speech step")
        check(
            session.truncations,
            f"the caller talked over {total} ms of agent audio but the core thought nothing was "
            "playing: the network echoed marks before their audio played (echo a mark only "
            f"once everything before it has played) {shown(report)}",
        )
        check(len(session.truncations) == 1, f"one barge-in, truncations {session.truncations}")
        [(item, heard)] = session.truncations
        check(item == AGENT_ITEM, f"the core truncated item {item!r}, not {AGENT_ITEM!r}")
        check(
            report.clears > 0,
            "the core sent a clear when the caller talked over the agent, but the network never "
            "cleared playback: encode_clear must produce the frame that drops queued audio",
        )
        check(
            report.heard_ms < total - 1000,
            f"the caller heard {report.heard_ms:.0f} of {total} ms despite the clear",
        )
        check(
            abs(heard - report.heard_ms) <= HEARD_TOLERANCE_MS,
            f"the core told the engine the caller heard {heard} ms, but the caller heard "
            f"{report.heard_ms:.0f} ms: mark echoes must come when their audio has played",
        )


class StreamStop(ConformanceGroup):
    """The network's stop frame ends the call and closes the engine session."""

    def test_stop_decodes(self, carrier: object, carrier_wire: CarrierWire) -> None:
        event = decoded(carrier, carrier_wire.stop(STREAM), "stop")
        check(isinstance(event, StreamStopped), f"decode(stop) gave {shown(event)}")

    @pytest.mark.asyncio
    async def test_stop_ends_the_call(self, carrier_live: CarrierLive) -> None:
        async with carrier_live() as rig:
            report = await guarded(rig.caller.call((Silence(300), Hangup())), "the call")
            got_through(report)
            result = await rig.call_ended(report.call_id)
            session = rig.engine.session_for(report.call_id)
        check(
            result.end_reason == "caller hung up",
            f"the call ended with {result.end_reason!r}, not 'caller hung up': decode must turn "
            "the network's stop frame into StreamStopped",
        )
        check(session is not None and session.closed, "the engine session was left open")
