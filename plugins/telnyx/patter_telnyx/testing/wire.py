"""Telnyx's end of a media stream: the frames it sends and how it reads ours.

Written from Telnyx's media-streaming message formats, not from `patter_telnyx.codec`:
the conformance kit checks one against the other, so a mistake copied into both would go
unnoticed. The one convention of ours it knows is the ``client_state`` the answer command
sets (``base64("patter1:token:" + token)``), which Telnyx repeats in ``start``.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from typing import Any

from patter_core.simulation import SentFrame
from patter_core.specs import PCMU_8K, AudioFormat

USER_ID = "3e6f995f-85f7-4705-9741-53b116d28237"


def token_client_state(call_token: str) -> str:
    """The ``client_state`` a Patter answer command sets for ``call_token``."""
    return base64.b64encode(f"patter1:token:{call_token}".encode()).decode("ascii")


class TelnyxWire:
    """Builds the frames Telnyx sends and reads the ones it receives."""

    def __init__(self) -> None:
        self._sequence = itertools.count(1)
        self.chunk = 0

    @property
    def audio_format(self) -> AudioFormat:
        return PCMU_8K

    def _frame(self, event: str, stream_id: str | None, **body: Any) -> str:
        frame: dict[str, Any] = {"event": event, "sequence_number": str(next(self._sequence))}
        if stream_id is not None:
            frame["stream_id"] = stream_id
        return json.dumps({**frame, **body}, separators=(",", ":"))

    def connected(self) -> str:
        return json.dumps({"event": "connected", "version": "1.0.0"})

    def start(
        self,
        stream_id: str,
        call_id: str,
        call_token: str,
        *,
        client_state: str | None = None,
        caller: str = "+15551230000",
        callee: str = "+15555550100",
    ) -> str:
        start = {
            "user_id": USER_ID,
            "call_control_id": call_id,
            "call_session_id": "0f5a1b2c-6f5d-11ef-9692-02420aeffb1f",
            "from": caller,
            "to": callee,
            "client_state": token_client_state(call_token)
            if client_state is None
            else client_state,
            "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
        }
        return self._frame("start", stream_id, start=start)

    def media(self, stream_id: str, payload: str) -> str:
        self.chunk += 1
        media = {
            "track": "inbound",
            "chunk": str(self.chunk),
            "timestamp": str((self.chunk - 1) * 20),
            "payload": payload,
        }
        return self._frame("media", stream_id, media=media)

    def mark_echo(self, stream_id: str, name: str) -> str:
        return self._frame("mark", stream_id, mark={"name": name})

    def dtmf(self, stream_id: str, digit: str) -> str:
        now = dt.datetime.now(dt.UTC).isoformat()
        return self._frame("dtmf", stream_id, occurred_at=now, dtmf={"digit": digit})

    def stop(self, stream_id: str, call_id: str = "") -> str:
        return self._frame("stop", stream_id, stop={"user_id": USER_ID, "call_control_id": call_id})

    def read(self, frame: str) -> SentFrame:
        try:
            message = json.loads(frame)
        except ValueError:
            return SentFrame("other", detail=f"not JSON: {frame[:80]!r}")
        if not isinstance(message, dict):
            return SentFrame("other", detail=f"not a JSON object: {frame[:80]!r}")
        event, stream = message.get("event"), message.get("stream_id", "")
        stream = stream if isinstance(stream, str) else ""
        inner = message.get(event) if isinstance(event, str) else None
        if event == "media" and isinstance(inner, dict) and isinstance(inner.get("payload"), str):
            return SentFrame("audio", stream, payload=inner["payload"])
        if event == "mark" and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return SentFrame("mark", stream, name=inner["name"])
        if event == "clear":
            return SentFrame("clear", stream)
        return SentFrame("other", stream, detail=f"Telnyx would not act on {frame[:80]!r}")
