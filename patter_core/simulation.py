"""Simulated calls without any vendor: the vocabulary plugins' local test kits speak.

An engine plugin can offer a *double* (a local fake of its service); a carrier plugin a
*simulator* (a fake caller speaking its media protocol). They declare where with
``EngineSpec.test_kit`` / ``CarrierSpec.test_kit`` (``"module:attribute"``), so the core
finds them without importing any plugin by name. `patter demo` and the conformance kit
use them; so can your own tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from attrs import field, frozen

from .errors import PluginError

# What the simulated caller does, in order.


@frozen
class Speech:
    """The caller talks for ``ms`` (a tone any voice-activity detector hears as speech)."""

    ms: int


@frozen
class Silence:
    ms: int


@frozen
class Dtmf:
    digit: str


@frozen
class WaitForAgent:
    """Stay silent until the agent has spoken and everything it said has played."""

    timeout_ms: int = 10_000


@frozen
class Hangup:
    """The caller hangs up."""


CallerStep = Speech | Silence | Dtmf | WaitForAgent | Hangup

# What the engine double answers, one reply per response.


@frozen
class Say:
    """The agent speaks ``text``."""

    text: str


@frozen
class CallTool:
    """The agent calls a tool; the next reply follows once the tool's result is back."""

    name: str
    arguments: Mapping[str, Any] = field(factory=dict)


ReplyPart = Say | CallTool


@frozen
class CallerReport:
    """What the simulated caller experienced."""

    heard_ms: float
    clears: int
    ended_by: str


@runtime_checkable
class EngineDouble(Protocol):
    """A running local stand-in for an engine's service."""

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for the engine's factory that point it at this double."""
        ...

    def reply(self, *parts: ReplyPart) -> None:
        """Queue the agent's next response."""
        ...

    def caller_says(self, *texts: str) -> None:
        """Queue what the caller's next turns will be transcribed as."""
        ...


@runtime_checkable
class CallerSimulator(Protocol):
    """A fake caller that dials the server through the carrier's real protocol."""

    async def call(self, script: Sequence[CallerStep]) -> CallerReport: ...


@runtime_checkable
class EngineTestKit(Protocol):
    def double(self) -> AbstractAsyncContextManager[EngineDouble]: ...


@runtime_checkable
class CarrierTestKit(Protocol):
    def carrier_options(self) -> dict[str, Any]:
        """Keyword arguments for the carrier's factory that the simulator can satisfy."""
        ...

    def simulator(
        self, base_url: str, public_url: str
    ) -> AbstractAsyncContextManager[CallerSimulator]: ...


def load_test_kit(path: str, *, owner: str) -> Any:
    """Import ``"module:attribute"``; errors name the ``owner`` that declared the path."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise PluginError(f"{owner} declares test_kit={path!r}; expected 'module:attribute'")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PluginError(
            f"{owner} declares test_kit={path!r}, which could not be loaded: {exc}. "
            "Is the plugin installed with its [testing] extra?"
        ) from exc
