"""How the kit fails: one self-contained message saying what the plugin got wrong."""

from __future__ import annotations

from typing import Any, NoReturn

import attrs
import pytest


def fail(message: str) -> NoReturn:
    """Fail the current test with ``message`` alone (no kit-internal traceback)."""
    pytest.fail(message, pytrace=False)


def check(condition: object, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)


def shown(record: Any) -> str:
    """A one-line rendering of an attrs record (a caller report, a frame) for messages."""
    if attrs.has(type(record)):
        fields = ", ".join(f"{k}={v!r}" for k, v in attrs.asdict(record, recurse=False).items())
        return f"{type(record).__name__}({fields})"
    return repr(record)
