"""The network's end of the media stream, written from the protocol, not from our codec.

Keep this independent of ``patter_template.codec``: the kit checks one against the other,
so a mistake copied into both would go unnoticed.
"""

from __future__ import annotations

import json

from patter_core.simulation import SentFrame
from patter_core.specs import PCMU_8K, AudioFormat


def _frame(**fields: str) -> str:
    return json.dumps(fields)


class TemplateWire:
    """Builds the frames the network sends and reads the ones it receives."""

    @property
    def audio_format(self) -> AudioFormat:
        return PCMU_8K

    def start(self, stream_id: str, call_id: str, call_token: str) -> str:
        return _frame(
            type="start", stream=stream_id, call=call_id, token=call_token, format="pcmu/8000"
        )

    def media(self, stream_id: str, payload: str) -> str:
        return _frame(type="audio", stream=stream_id, audio=payload)

    def mark_echo(self, stream_id: str, name: str) -> str:
        return _frame(type="played", stream=stream_id, mark=name)

    def dtmf(self, stream_id: str, digit: str) -> str:
        return _frame(type="key", stream=stream_id, key=digit)

    def stop(self, stream_id: str) -> str:
        return _frame(type="hangup", stream=stream_id)

    def read(self, frame: str) -> SentFrame:
        try:
            message = json.loads(frame)
        except ValueError:
            return SentFrame("other", detail=f"not JSON: {frame[:80]!r}")
        if not isinstance(message, dict):
            return SentFrame("other", detail=f"not an object: {frame[:80]!r}")
        stream, kind = str(message.get("stream", "")), message.get("type")
        if kind == "play" and isinstance(message.get("audio"), str):
            return SentFrame("audio", stream, payload=message["audio"])
        if kind == "mark" and isinstance(message.get("mark"), str):
            return SentFrame("mark", stream, name=message["mark"])
        if kind == "flush":
            return SentFrame("clear", stream)
        return SentFrame("other", stream, detail=f"unknown frame {frame[:80]!r}")
