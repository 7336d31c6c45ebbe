"""One call's carrier media stream: decoded events in, encoded frames out.

Malformed frames are dropped and logged, so one bad message never ends a call; a stream that
sends nothing but garbage is ended after `MAX_CONSECUTIVE_BAD_FRAMES`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from .carrier import Carrier, CarrierEvent
from .errors import CarrierProtocolError

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

log = logging.getLogger("patter.call")

MAX_FRAME_CHARS = 256 * 1024
MAX_CONSECUTIVE_BAD_FRAMES = 50


class CallEnded(Exception):
    """Ends the call; its message is the call's end reason."""


class MediaStream:
    """The carrier's media WebSocket for one call, speaking the carrier's codec."""

    def __init__(self, websocket: WebSocket, carrier: Carrier) -> None:
        self.ws = websocket
        self.carrier = carrier
        self.stream_id = ""
        self.closed = False
        self._bad_frames = 0

    async def receive(self) -> CarrierEvent | None:
        """The next event (``None`` for frames without meaning or dropped as malformed)."""
        from starlette.websockets import WebSocketDisconnect

        try:
            message = await self.ws.receive()
        except WebSocketDisconnect:
            self.closed = True
            raise CallEnded("carrier disconnected") from None
        if message["type"] == "websocket.disconnect":
            self.closed = True
            raise CallEnded("carrier disconnected")
        text = message.get("text")
        if text is None:
            self._bad_frame("binary frame (the media stream is JSON text)")
            return None
        if len(text) > MAX_FRAME_CHARS:
            self._bad_frame(f"frame of {len(text)} characters exceeds {MAX_FRAME_CHARS}")
            return None
        try:
            event = self.carrier.decode(text)
        except CarrierProtocolError as exc:
            self._bad_frame(str(exc))
            return None
        self._bad_frames = 0
        return event

    def _bad_frame(self, why: str) -> None:
        self._bad_frames += 1
        log.warning("dropping a malformed carrier frame: %s", why)
        if self._bad_frames >= MAX_CONSECUTIVE_BAD_FRAMES:
            raise CallEnded(f"{self._bad_frames} malformed carrier frames in a row")

    async def send_audio(self, payload: str) -> None:
        await self._send(self.carrier.encode_audio(self.stream_id, payload))

    async def send_mark(self, name: str) -> None:
        await self._send(self.carrier.encode_mark(self.stream_id, name))

    async def send_clear(self) -> None:
        await self._send(self.carrier.encode_clear(self.stream_id))

    async def _send(self, frame: str) -> None:
        if self.closed:
            return
        try:
            await self.ws.send_text(frame)
        except Exception:
            self.closed = True
            raise CallEnded("carrier disconnected") from None

    async def close(self) -> None:
        """Close the socket; for a carrier like Twilio this ends the phone call."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # already gone: the caller hung up first
            await self.ws.close()
