"""`OpenAIRealtimeAdapter`: the configured OpenAI Realtime engine users hand to an agent."""

from __future__ import annotations

import os

from patter_core.engine import EngineSession, SessionConfig
from patter_core.errors import ConfigError
from patter_core.specs import ModelSpec

from .models import DEFAULT_MODEL, DEFAULT_TRANSCRIPTION_MODEL, ENGINE_NAME

API_KEY_ENV = "OPENAI_API_KEY"


class OpenAIRealtimeAdapter:
    """The OpenAI Realtime engine with every session setting.

    An empty ``api_key`` reads ``OPENAI_API_KEY``.
    """

    engine_name = ENGINE_NAME

    def __init__(
        self,
        api_key: str = "",
        model: str = DEFAULT_MODEL,
        voice: str = "alloy",
        instructions: str = "",
        input_audio_transcription_model: str | None = DEFAULT_TRANSCRIPTION_MODEL,
        reasoning_effort: str | None = None,
    ) -> None:
        self._api_key = api_key
        self.model = str(model)
        self.voice = voice
        self.instructions = instructions
        self.transcription_model = (
            str(input_audio_transcription_model) if input_audio_transcription_model else None
        )
        self.reasoning_effort = reasoning_effort

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIRealtimeAdapter(model={self.model!r}, voice={self.voice!r})"

    @property
    def api_key(self) -> str:
        return self._api_key or os.environ.get(API_KEY_ENV, "")

    def prepare(self, model: ModelSpec) -> None:
        if not self.api_key:
            raise ConfigError(
                f"OpenAI Realtime engine: no API key; pass api_key= or set {API_KEY_ENV}"
            )

    async def connect(self, config: SessionConfig) -> EngineSession:
        raise NotImplementedError
