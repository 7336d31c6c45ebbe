"""The engine test kit the core finds through ``EngineSpec.test_kit`` (demo, conformance)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from patter_core import simulation

from . import script
from .server import FakeRealtimeServer

_DEMO_KEY = "sk-local-fake"


class RealtimeDouble:
    """A `FakeRealtimeServer` behind the core's vendor-neutral `EngineDouble` protocol."""

    def __init__(self, server: FakeRealtimeServer) -> None:
        self.server = server

    def engine_options(self) -> dict[str, Any]:
        # The reference page's worked example: gpt-realtime-2, low reasoning, streaming ASR.
        return {
            "api_key": self.server.api_key,
            "base_url": self.server.url,
            "model": "gpt-realtime-2",
            "voice": "marin",
            "reasoning_effort": "low",
            "input_audio_transcription_model": "gpt-realtime-whisper",
        }

    def reply(self, *parts: simulation.ReplyPart) -> None:
        self.server.reply(*(_part(p) for p in parts))

    def caller_says(self, *texts: str) -> None:
        self.server.caller_says(*texts)


def _part(part: simulation.ReplyPart) -> script.Part:
    if isinstance(part, simulation.CallTool):
        return script.CallTool(part.name, dict(part.arguments))
    return script.Say(part.text)


class RealtimeTestKit:
    """Starts a fake OpenAI Realtime service on 127.0.0.1 for each double."""

    @contextlib.asynccontextmanager
    async def double(self) -> AsyncIterator[RealtimeDouble]:
        async with FakeRealtimeServer(api_key=_DEMO_KEY) as server:
            yield RealtimeDouble(server)


KIT = RealtimeTestKit()
