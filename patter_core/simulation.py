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
from typing import Any, Literal, Protocol, runtime_checkable

from attrs import field, frozen

from .errors import PluginError
from .specs import AudioFormat

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
    """What the simulated caller experienced.

    ``ended_by`` is one of ``script``, ``hangup``, ``api`` (ended through the carrier's
    call-control API), ``server_closed``, ``webhook_rejected``, ``no_stream`` (the webhook
    answer started no stream), ``media_rejected`` (the stream's upgrade was refused) or
    ``error``. The fields after ``ended_by`` are optional for demo-only simulators; the
    conformance kit needs them.
    """

    heard_ms: float
    clears: int
    ended_by: str
    call_id: str = ""
    webhook_status: int | None = None
    stream_url: str = ""
    marks_echoed: int = 0
    received_audio_ms: float = 0.0
    protocol_errors: tuple[str, ...] = ()


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


# What the conformance kit (patter_core.testing) needs beyond a demo: the far end of the
# carrier's wire, callers that can forge credentials, a fake call-control API, and engine
# doubles that say what they received.

Auth = Literal["valid", "missing", "forged"]


@frozen
class SentFrame:
    """What the carrier network made of one frame the server sent it.

    ``kind`` is ``audio`` (``payload`` is base64 audio), ``mark`` (``name``), ``clear``,
    or ``other`` for anything the network would not act on (``detail`` says what it saw).
    """

    kind: Literal["audio", "mark", "clear", "other"]
    stream_id: str = ""
    payload: str = ""
    name: str = ""
    detail: str = ""


@runtime_checkable
class CarrierWire(Protocol):
    """The network's end of a carrier's media stream: frames it sends, frames it reads."""

    @property
    def audio_format(self) -> AudioFormat:
        """The audio format the network really streams."""
        ...

    def start(self, stream_id: str, call_id: str, call_token: str) -> str:
        """The frame that opens a stream carrying the core's call token."""
        ...

    def media(self, stream_id: str, payload: str) -> str:
        """A frame of caller audio (base64 in the network's format)."""
        ...

    def mark_echo(self, stream_id: str, name: str) -> str:
        """The frame saying the audio before mark ``name`` has played."""
        ...

    def dtmf(self, stream_id: str, digit: str) -> str:
        """The frame reporting a key press (used only when DTMF is declared)."""
        ...

    def stop(self, stream_id: str) -> str:
        """The frame that ends the stream (the caller hung up)."""
        ...

    def read(self, frame: str) -> SentFrame:
        """What the network makes of a frame the server sent."""
        ...


@runtime_checkable
class ConformanceCaller(Protocol):
    """A simulated caller that can also present missing or forged credentials."""

    async def call(
        self,
        script: Sequence[CallerStep],
        *,
        webhook_auth: Auth = "valid",
        media_auth: Auth = "valid",
    ) -> CallerReport:
        """Place one call: the webhook, then the media stream, each signed as ``*_auth`` says."""
        ...


@frozen
class NetworkCall:
    """How a call went on the carrier's network, as its local fake saw it."""

    call_id: str
    status: str
    answered: bool = False
    transferred_to: str = ""
    recordings: int = 0
    machine_detection: bool = False


@runtime_checkable
class CarrierNetwork(Protocol):
    """A local fake of a carrier's call-control API that rings the server under test."""

    def carrier_options(self) -> dict[str, Any]:
        """Keyword arguments that point the carrier's call control at this fake."""
        ...

    def attach(self, base_url: str) -> None:
        """Deliver the calls the network places to the server at ``base_url``."""
        ...

    async def ring(self, script: Sequence[CallerStep]) -> str:
        """Start a call to the server that the network controls; returns its call id."""
        ...

    def answer_with(self, number: str, script: Sequence[CallerStep]) -> None:
        """What the party at ``number`` does once it answers a call the server dials."""
        ...

    async def ended(self, call_id: str) -> NetworkCall:
        """Wait until the call has ended on the network; how it went."""
        ...


@runtime_checkable
class CarrierHarness(Protocol):
    """Everything the conformance kit needs from a carrier plugin's test kit."""

    @property
    def wire(self) -> CarrierWire: ...

    def carrier_options(self) -> dict[str, Any]:
        """Keyword arguments for the carrier's factory that the simulator can satisfy."""
        ...

    def simulator(
        self, base_url: str, public_url: str
    ) -> AbstractAsyncContextManager[ConformanceCaller]: ...


@runtime_checkable
class NetworkHarness(Protocol):
    """A carrier test kit with a fake call-control API (needed for call-control groups)."""

    def network(self, public_url: str) -> AbstractAsyncContextManager[CarrierNetwork]:
        """Start the fake API for a server known to the network as ``public_url``."""
        ...


@frozen
class Truncated:
    """The engine double was told the caller heard only ``heard_ms`` of ``item_id``."""

    item_id: str
    heard_ms: int


@frozen
class ToolOutput:
    """The engine double received a tool's output."""

    call_id: str
    output: str


@frozen
class UserText:
    """The engine double received text from the caller (DTMF digits, typed input)."""

    text: str


@frozen
class ResponseRequested:
    """The engine double was asked to respond (with one-off ``instructions`` if any)."""

    instructions: str | None = None


DoubleInput = Truncated | ToolOutput | UserText | ResponseRequested


@runtime_checkable
class RecordingEngineDouble(EngineDouble, Protocol):
    """An engine double that can say what the engine sent it, in the core's terms."""

    def received(self) -> Sequence[DoubleInput]:
        """Everything received so far that has a `DoubleInput` meaning, oldest first."""
        ...


@runtime_checkable
class EngineHarness(Protocol):
    """Everything the conformance kit needs from an engine plugin's test kit."""

    def double(self) -> AbstractAsyncContextManager[RecordingEngineDouble]: ...


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
