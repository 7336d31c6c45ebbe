"""The kit's own scripted engine: what carrier conformance calls talk to.

Carrier tests must not depend on any engine plugin, so the kit registers this small engine
next to the installed plugins. It speaks on connect (``speak_ms`` of audio in one item),
hears the caller with an energy detector (a tone is speech, silence is not), and records
what the core asked of it: truncations, caller text, tool results, closing.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal

from .. import engine as ev
from ..hookspecs import hookimpl
from ..specs import (
    AudioFormat,
    EngineCapabilities,
    EngineSpec,
    MinutePrice,
    ModelSpec,
    PriceTable,
)
from .audio import SPEECH_RMS, bytes_per_ms, rms, silence

KIT_ENGINE = "patter-conformance-kit"
KIT_MODEL = "kit-voice-1"
AGENT_ITEM = "kit-agent-item-1"
QUIET_TO_STOP_MS = 200


class KitSession:
    """One call's session with the kit engine."""

    def __init__(self, config: ev.SessionConfig, speak_ms: int, chunk_ms: int) -> None:
        self.config = config
        self.truncations: list[tuple[str, int]] = []
        self.user_texts: list[str] = []
        self.tool_results: list[tuple[str, str]] = []
        self.responses_requested: list[str | None] = []
        self.said: list[str] = []
        self.audio_in_ms = 0.0
        self.speech_starts = 0
        self.closed = False
        self.agent_audio_ms = 0
        self._queue: asyncio.Queue[ev.EngineEvent] = asyncio.Queue()
        self._speaking = False
        self._quiet_ms = 0.0
        if speak_ms > 0:
            self._speak(AGENT_ITEM, speak_ms, chunk_ms)

    def _speak(self, item_id: str, ms: int, chunk_ms: int) -> None:
        fmt = self.config.audio_format
        self._queue.put_nowait(ev.ResponseStarted("kit-response-1"))
        left = ms
        while left > 0:
            step = min(chunk_ms, left)
            payload = base64.b64encode(silence(fmt, step)).decode("ascii")
            self._queue.put_nowait(ev.AgentAudio(item_id, payload, response_id="kit-response-1"))
            left -= step
        self.agent_audio_ms += ms
        self._queue.put_nowait(ev.AgentTranscriptDone(item_id, "(the kit agent speaking)"))
        self._queue.put_nowait(
            ev.ResponseDone("kit-response-1", "completed", ev.TokenUsage(), item_ids=(item_id,))
        )

    async def events(self) -> AsyncIterator[ev.EngineEvent]:
        """Scripted events, then what the caller's audio triggers, ending with `EngineClosed`."""
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, ev.EngineClosed):
                return

    async def send_audio(self, payload: str) -> None:
        """Hear the caller: a loud payload starts speech, enough quiet ends it."""
        if self.closed:
            return
        fmt = self.config.audio_format
        ms = len(base64.b64decode(payload)) / bytes_per_ms(fmt)
        self.audio_in_ms += ms
        loud = rms(fmt, payload) >= SPEECH_RMS
        if loud and not self._speaking:
            self._speaking, self.speech_starts = True, self.speech_starts + 1
            item = f"kit-user-{self.speech_starts}"
            self._queue.put_nowait(ev.UserSpeechStarted(item, int(self.audio_in_ms)))
        if loud:
            self._quiet_ms = 0.0
        elif self._speaking:
            self._quiet_ms += ms
            if self._quiet_ms >= QUIET_TO_STOP_MS:
                self._speaking = False
                item = f"kit-user-{self.speech_starts}"
                self._queue.put_nowait(ev.UserSpeechStopped(item, int(self.audio_in_ms)))

    async def truncate(self, item_id: str, heard_ms: int) -> None:
        """Record that the caller heard only ``heard_ms`` of ``item_id``."""
        self.truncations.append((item_id, heard_ms))

    async def send_tool_result(self, call_id: str, output: str) -> None:
        """Record a tool result."""
        self.tool_results.append((call_id, output))

    async def create_response(self, instructions: str | None = None) -> None:
        """Record a response request."""
        self.responses_requested.append(instructions)

    async def say(self, text: str) -> None:
        """Record a first message or other verbatim speech."""
        self.said.append(text)

    async def send_user_text(self, text: str) -> None:
        """Record caller text (the core sends DTMF this way)."""
        self.user_texts.append(text)

    async def cancel_response(self) -> None:
        """Nothing to cancel: scripted speech is sent at once."""

    async def update(
        self, instructions: str | None = None, tools: Sequence[ev.ToolSchema] | None = None
    ) -> None:
        """Accept new instructions or tools."""

    async def close(self) -> None:
        """End the session; the event stream finishes with `EngineClosed`."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(ev.EngineClosed(1000, "closed by the core"))


class KitEngine:
    """The engine object an agent is built with; it remembers every session it opened."""

    engine_name = KIT_ENGINE
    model = KIT_MODEL
    voice = ""
    reasoning_effort: str | None = None
    transcription_model: str | None = None

    def __init__(self, *, speak_ms: int = 0, chunk_ms: int = 100) -> None:
        self.speak_ms = speak_ms
        self.chunk_ms = chunk_ms
        self.sessions: list[KitSession] = []

    def prepare(self, model: ModelSpec) -> None:
        """Nothing to check: the kit engine needs no credentials."""

    async def connect(self, config: ev.SessionConfig) -> KitSession:
        """Open a session that speaks ``speak_ms`` of audio straight away."""
        session = KitSession(config, self.speak_ms, self.chunk_ms)
        self.sessions.append(session)
        return session

    def session_for(self, call_id: str) -> KitSession | None:
        """The session opened for the call ``call_id``, if any."""
        return next((s for s in self.sessions if s.config.call_id == call_id), None)


class KitEnginePlugin:
    """Registers the kit engine with a model in the carrier's own audio format."""

    def __init__(self, audio_format: AudioFormat) -> None:
        self.spec = EngineSpec(
            name=KIT_ENGINE,
            factory=KitEngine,
            models=[ModelSpec(KIT_MODEL, default=True, audio_formats=[audio_format])],
            capabilities=EngineCapabilities(),
            description="The conformance kit's scripted engine (patter_core.testing).",
        )

    @hookimpl
    def patter_register_engines(self, register: Callable[[EngineSpec], None]) -> None:
        register(self.spec)

    @hookimpl
    def patter_register_pricing(self, register: Callable[[PriceTable], None]) -> None:
        register(
            PriceTable(
                name=KIT_ENGINE,
                models={KIT_MODEL: MinutePrice(per_minute=Decimal(0))},
                source="patter_core.testing (a test engine costs nothing)",
                as_of=dt.date(2026, 11, 25),
            )
        )
