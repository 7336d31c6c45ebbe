"""The WebSocket transport to OpenAI: connecting, reading frames, and logging without secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from patter_core.errors import CallSetupError

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from .adapter import OpenAIRealtimeAdapter

log = logging.getLogger("patter.openai_realtime")


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets logs every handshake header at DEBUG; this one replaces bearer tokens."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        args = tuple(
            "Bearer [redacted]" if isinstance(a, str) and a.startswith("Bearer ") else a
            for a in args
        )
        super().log(level, msg, *args, **kwargs)


def redacting_logger(name: str) -> RedactingLogger:
    """The logger ``name`` wrapped so that bearer tokens are never printed."""
    return RedactingLogger(logging.getLogger(name), {})


def parse(message: str | bytes) -> Mapping[str, Any] | None:
    """A server event as a dict; None (logged) for binary or unreadable frames."""
    if isinstance(message, bytes):
        log.debug("ignoring a binary frame from OpenAI Realtime")
        return None
    try:
        event = json.loads(message)
    except ValueError:
        log.warning("ignoring an unreadable message from OpenAI Realtime: %.80r", message)
        return None
    return event if isinstance(event, dict) else None


def refusal(event: Mapping[str, Any], stage: str) -> str:
    """A set-up error message quoting the server's message, code and field."""
    error = event.get("error") or {}
    message = error.get("message") or "no message"
    return (
        f"OpenAI Realtime refused the session ({stage}): {message} "
        f"(code: {error.get('code') or 'none'}, param: {error.get('param') or 'none'})"
    )


_LOGGER = redacting_logger("websockets.client")


async def connect(adapter: OpenAIRealtimeAdapter) -> ClientConnection:
    """Open the WebSocket with the adapter's key and timeouts; `CallSetupError` if refused."""
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    url = adapter.url
    try:
        return await ws_connect(
            url,
            additional_headers={"Authorization": f"Bearer {adapter.api_key}"},
            max_size=None,  # audio deltas can exceed websockets' 1 MiB default
            compression=None,  # base64 audio does not compress; deflate only costs CPU
            open_timeout=adapter.connect_timeout_s,
            logger=_LOGGER,  # at DEBUG, websockets logs every header, Authorization too
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        hint = " (check the API key)" if status in (401, 403) else ""
        raise CallSetupError(
            f"OpenAI Realtime refused the connection to {url}: HTTP {status}{hint}"
        ) from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise CallSetupError(
            f"could not connect to OpenAI Realtime at {url}: {type(exc).__name__}: {exc}"
        ) from None
