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


OVERRIDES = ("instructions", "first_message", "variables")


async def call_start_overrides(callback: Callable[..., Any] | None, call: Any) -> dict[str, Any]:
    """Run ``on_call_start`` and keep the overrides it may return (unknown keys are logged)."""
    result = await fire(callback, call, what="on_call_start")
    if result is None:
        return {}
    if not isinstance(result, dict):
        log.error("on_call_start returned %r; expected a dict of overrides or None", result)
        return {}
    unknown = sorted(set(result) - set(OVERRIDES))
    if unknown:
        log.error("on_call_start returned unknown override(s) %s; allowed: %s", unknown, OVERRIDES)
    return {k: v for k, v in result.items() if k in OVERRIDES}


def fill_placeholders(template: str, variables: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders from ``variables``, leaving unknown ones as they are."""

    class _Keep(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return template.format_map(_Keep(variables))
    except (ValueError, IndexError):
        return template
