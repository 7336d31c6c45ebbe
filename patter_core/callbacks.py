"""Running user callbacks so that a raising callback never breaks a call."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("patter.callbacks")


async def fire(callback: Callable[..., Any] | None, *args: Any, what: str) -> Any:
    """Call a sync or async callback; log and swallow its exceptions, returning None then."""
    if callback is None:
        return None
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            result = await result
        return result
    except Exception:
        log.exception("%s callback %r raised; the call goes on", what, callback)
        return None
