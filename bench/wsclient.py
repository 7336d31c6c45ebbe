"""A lean WebSocket client on asyncio's Protocol API: the load generator's wire."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import Callable

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets' wheels ship the C speedup
    from websockets.utils import apply_mask

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

OnText = Callable[[bytes, float], None]


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (RFC 6455 §5.2), FIN set."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return header + mask + apply_mask(payload, mask)


class WsClient(asyncio.Protocol):
    """One client connection; text messages go to ``on_text(message, monotonic_time)``."""

    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._key = base64.b64encode(os.urandom(16))
        self._buf = bytearray()
        self._fragments = bytearray()
        self._open = False
        self._close_sent = False

    @classmethod
    async def connect(
        cls, host: str, port: int, path: str, headers: dict[str, str], on_text: OnText
    ) -> WsClient:
        """Open a TCP connection and complete the opening handshake."""
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(on_text), host, port)
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {proto._key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        assert proto.transport is not None
        proto.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await asyncio.wait_for(proto.opened, 10.0)
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    @property
    def is_open(self) -> bool:
        return self._open

    def send_text(self, message: bytes) -> None:
        """Queue one text message (no-op once the connection has closed)."""
        if self._open and self.transport is not None:
            self.transport.write(frame(OP_TEXT, message))

    def close(self, code: int = 1000) -> None:
        """Send a close frame; the server answers and closes the TCP connection."""
        if self.transport is None or self._close_sent:
            return
        self._close_sent = True
        if self._open:
            self.transport.write(frame(OP_CLOSE, code.to_bytes(2, "big")))
        else:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self._buf += data
        if not self._open and not self._handshake():
            return
        self._frames(now)

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()
        if " 101 " not in head[0] + " " or fields.get("sec-websocket-accept") != accept:
            self.opened.set_exception(ConnectionError(f"handshake refused: {head[0]}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self._open = True
        self.opened.set_result(None)
        return True

    def _frames(self, now: float) -> None:
        buf, pos, size = self._buf, 0, len(self._buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            mask = b""
            if b1 & 0x80:  # servers never mask, but tolerate it
                mask, head = bytes(buf[pos + head : pos + head + 4]), head + 4
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            if mask:
                payload = apply_mask(payload, mask)
            self._message(b0 & 0x80, b0 & 0x0F, payload, now)
        del buf[:pos]

    def _message(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            if not fin or self._fragments:
                self._fragments += payload
                if not fin:
                    return
                payload, self._fragments = bytes(self._fragments), bytearray()
            self.on_text(payload, now)
        elif opcode == OP_PING and self.transport is not None:
            self.transport.write(frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            if not self._close_sent and self.transport is not None:
                self._close_sent = True
                self.transport.write(frame(OP_CLOSE, payload[:2]))
            self._open = False
            if self.transport is not None:
                self.transport.close()
