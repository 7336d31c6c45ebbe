"""The engine seam: what a speech-to-speech engine session gives the call loop.

Audio crosses this seam as base64 text in the carrier's wire format, so a pass-through
engine never decodes a frame on the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from attrs import frozen

from .specs import AudioFormat, ModelSpec


@frozen
class TokenUsage:
    """Tokens a single engine response consumed, by kind (cached is a subset of input)."""

    input_text: int = 0
    input_audio: int = 0
    input_image: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    cached_image: int = 0
    output_text: int = 0
    output_audio: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(*(getattr(self, f) + getattr(other, f) for f in _USAGE_FIELDS))


_USAGE_FIELDS = (
    "input_text",
    "input_audio",
    "input_image",
    "cached_text",
    "cached_audio",
    "cached_image",
    "output_text",
    "output_audio",
)


@frozen
class ToolSchema:
    """A function the model may call: name, description and JSON-Schema parameters."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@frozen
class SessionConfig:
    """Everything an engine needs to open one call's session."""

    instructions: str
    audio_format: AudioFormat
    tools: tuple[ToolSchema, ...] = ()
    model: ModelSpec | None = None
    call_id: str = ""


# Normalised events an engine session yields.


@frozen
class AgentAudio:
    """A chunk of agent speech, base64 in the carrier's format, for one output item."""

    item_id: str
    payload: str
    content_index: int = 0
    response_id: str = ""


@frozen
class AgentTranscriptDelta:
    item_id: str
    text: str
    response_id: str = ""


@frozen
class AgentTranscriptDone:
    item_id: str
    text: str
    response_id: str = ""


@frozen
class UserSpeechStarted:
    """The engine heard the caller start speaking (the barge-in trigger)."""

    item_id: str = ""
    audio_start_ms: int = 0


@frozen
class UserSpeechStopped:
    item_id: str = ""
    audio_end_ms: int = 0


@frozen
class UserTranscriptDelta:
    item_id: str
    text: str


@frozen
class UserTranscriptDone:
    """The caller's words for one turn, with the transcription bill when the engine reports it."""

    item_id: str
    text: str
    transcription_seconds: float | None = None
    transcription_tokens: TokenUsage | None = None


@frozen
class ToolCall:
    """The model asked to run a tool; ``error`` is set when its arguments were not valid JSON."""

    call_id: str
    name: str
    arguments: Mapping[str, Any]
    item_id: str = ""
    error: str = ""


@frozen
class ResponseStarted:
    response_id: str


@frozen
class ResponseDone:
    """The engine finished generating one response (playback may still be running)."""

    response_id: str
    status: str
    usage: TokenUsage | None = None
    status_reason: str = ""
    item_ids: tuple[str, ...] = ()


@frozen
class RateLimits:
    limits: Mapping[str, Mapping[str, Any]]


@frozen
class EngineError:
    """An error reported by the engine; ``fatal`` errors end the call."""

    message: str
    code: str = ""
    param: str = ""
    fatal: bool = False


@frozen
class EngineClosed:
    """The engine's connection closed; the session yields nothing after this."""

    code: int | None = None
    reason: str = ""


EngineEvent = (
    AgentAudio
    | AgentTranscriptDelta
    | AgentTranscriptDone
    | UserSpeechStarted
    | UserSpeechStopped
    | UserTranscriptDelta
    | UserTranscriptDone
    | ToolCall
    | ResponseStarted
    | ResponseDone
    | RateLimits
    | EngineError
    | EngineClosed
)


@runtime_checkable
class EngineSession(Protocol):
    """One call's live connection to an engine."""

    def events(self) -> AsyncIterator[EngineEvent]:
        """Yield normalised events until the connection closes (ending with `EngineClosed`)."""
        ...

    async def send_audio(self, payload: str) -> None:
        """Send caller audio: base64 in the ``SessionConfig.audio_format``."""
        ...

    async def truncate(self, item_id: str, heard_ms: int) -> None:
        """Tell the engine the caller heard only ``heard_ms`` of ``item_id``'s audio."""
        ...

    async def send_tool_result(self, call_id: str, output: str) -> None:
        """Return a tool's output and ask the model to continue."""
        ...

    async def create_response(self, instructions: str | None = None) -> None:
        """Ask the model to respond now (optionally with one-off instructions)."""
        ...

    async def say(self, text: str) -> None:
        """Have the agent speak ``text`` (near) verbatim, e.g. the first message."""
        ...

    async def send_user_text(self, text: str) -> None:
        """Add text from the caller (e.g. DTMF digits) and ask for a response."""
        ...

    async def cancel_response(self) -> None:
        """Stop the response in progress, if any."""
        ...

    async def update(
        self, instructions: str | None = None, tools: Sequence[ToolSchema] | None = None
    ) -> None:
        """Change instructions or tools mid-call."""
        ...

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        ...


@runtime_checkable
class Engine(Protocol):
    """A configured engine (what users construct), able to open sessions."""

    engine_name: str
    model: str
    voice: str
    reasoning_effort: str | None
    transcription_model: str | None

    def prepare(self, model: ModelSpec) -> None:
        """Check engine-specific settings (credentials...) before any call; raise ConfigError."""
        ...

    async def connect(self, config: SessionConfig) -> EngineSession:
        """Open a session; raise `CallSetupError` when the engine refuses it."""
        ...
