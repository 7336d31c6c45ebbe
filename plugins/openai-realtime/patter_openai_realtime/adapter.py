"""`OpenAIRealtimeAdapter`: the configured OpenAI Realtime engine users hand to an agent."""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from attrs import Attribute, field, frozen

from patter_core.engine import EngineSession, SessionConfig
from patter_core.errors import ConfigError
from patter_core.specs import ModelSpec

from .models import DEFAULT_MODEL, DEFAULT_TRANSCRIPTION_MODEL, ENGINE_NAME

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

AudioFormatOption = Literal["auto", "pcm16"]
NoiseReduction = Literal["near_field", "far_field"]


def _unit_interval(instance: object, attribute: Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.name} must be between 0.0 and 1.0, got {value!r}"
        )


def _milliseconds(instance: object, attribute: Attribute[Any], value: object) -> None:
    if value is None and attribute.name == "idle_timeout_ms":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"{type(instance).__name__}.{attribute.name} must be a whole number of "
            f"milliseconds >= 0, got {value!r}"
        )


def _eagerness(instance: object, attribute: Attribute[Any], value: object) -> None:
    if value not in _EAGERNESS:
        raise ConfigError(
            f"SemanticVad.eagerness must be one of {', '.join(map(repr, _EAGERNESS))}, "
            f"got {value!r}"
        )


_EAGERNESS = ("low", "medium", "high", "auto")


@frozen
class ServerVad:
    """Server voice-activity detection: a turn ends after ``silence_duration_ms`` of quiet."""

    threshold: float = field(default=0.5, validator=_unit_interval)
    prefix_padding_ms: int = field(default=300, validator=_milliseconds)
    silence_duration_ms: int = field(default=500, validator=_milliseconds)
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = field(default=None, validator=_milliseconds)


@frozen
class SemanticVad:
    """Semantic turn detection: the model judges when the caller has finished."""

    eagerness: Literal["low", "medium", "high", "auto"] = field(
        default="auto", validator=_eagerness
    )
    create_response: bool = True
    interrupt_response: bool = True


TurnDetection = ServerVad | SemanticVad


class OpenAIRealtimeAdapter:
    """The OpenAI Realtime engine with every session setting.

    An empty ``api_key`` reads ``OPENAI_API_KEY``; ``base_url=None`` reads ``OPENAI_BASE_URL``
    and falls back to ``https://api.openai.com/v1``. ``tool_choice`` is ``"auto"``,
    ``"none"``, ``"required"`` or the name of one tool the model must call.
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
        *,
        turn_detection: TurnDetection | None = ServerVad(),  # frozen, so one shared default is safe
        noise_reduction: NoiseReduction | None = None,
        transcription_language: str | None = None,
        audio_format: AudioFormatOption = "auto",
        tool_choice: str = "auto",
        max_output_tokens: int | None = None,
        base_url: str | None = None,
        connect_timeout_s: float = 10.0,
        setup_timeout_s: float = 10.0,
    ) -> None:
        self._api_key = api_key
        self.model = str(model)
        self.voice = voice
        self.instructions = instructions
        self.transcription_model = (
            str(input_audio_transcription_model) if input_audio_transcription_model else None
        )
        self.reasoning_effort = reasoning_effort
        self.turn_detection = turn_detection
        self.noise_reduction = noise_reduction
        self.transcription_language = transcription_language or None
        self.audio_format = audio_format
        self.tool_choice = tool_choice
        self.max_output_tokens = max_output_tokens
        self._base_url = base_url
        self.connect_timeout_s = connect_timeout_s
        self.setup_timeout_s = setup_timeout_s
        self._check_options()

    def _check_options(self) -> None:
        problems: list[str] = []
        if not isinstance(self.voice, str) or not self.voice:
            problems.append(f"voice must be a non-empty string, got {self.voice!r}")
        if not isinstance(self.turn_detection, ServerVad | SemanticVad | None):
            problems.append(
                "turn_detection must be ServerVad(...), SemanticVad(...) or None, "
                f"got {self.turn_detection!r}"
            )
        if self.noise_reduction not in (None, "near_field", "far_field"):
            problems.append(
                f"noise_reduction must be 'near_field', 'far_field' or None, "
                f"got {self.noise_reduction!r}"
            )
        if self.audio_format not in ("auto", "pcm16"):
            problems.append(f"audio_format must be 'auto' or 'pcm16', got {self.audio_format!r}")
        if not isinstance(self.tool_choice, str) or not self.tool_choice:
            problems.append(f"tool_choice must be a non-empty string, got {self.tool_choice!r}")
        if self.max_output_tokens is not None and (
            isinstance(self.max_output_tokens, bool)
            or not isinstance(self.max_output_tokens, int)
            or self.max_output_tokens < 1
        ):
            problems.append(
                f"max_output_tokens must be a positive integer or None, "
                f"got {self.max_output_tokens!r}"
            )
        for name in ("connect_timeout_s", "setup_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                problems.append(f"{name} must be a positive number of seconds, got {value!r}")
        if problems:
            raise ConfigError("OpenAI Realtime engine: " + "; ".join(problems))

    def __repr__(self) -> str:  # never shows the key
        return (
            f"OpenAIRealtimeAdapter(model={self.model!r}, voice={self.voice!r}, "
            f"transcription_model={self.transcription_model!r}, "
            f"reasoning_effort={self.reasoning_effort!r})"
        )

    @property
    def api_key(self) -> str:
        return self._api_key or os.environ.get(API_KEY_ENV, "")

    @property
    def base_url(self) -> str:
        """The HTTP(S) API base, read when needed so a test can set the env var late."""
        return (self._base_url or os.environ.get(BASE_URL_ENV, "") or DEFAULT_BASE_URL).rstrip("/")

    @property
    def url(self) -> str:
        """The WebSocket URL of a session: the base with ws(s) scheme + ``/realtime?model=``."""
        parts = urlsplit(self.base_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        if scheme not in ("ws", "wss"):
            raise ConfigError(
                f"OpenAI Realtime engine: base URL {self.base_url!r} must start with "
                "http://, https://, ws:// or wss://"
            )
        path = parts.path.rstrip("/") + "/realtime"
        return urlunsplit((scheme, parts.netloc, path, f"model={quote(self.model)}", ""))

    def prepare(self, model: ModelSpec) -> None:
        """Check credentials and settings against ``model`` before any call.

        An effort on a model without reasoning is not an error; the core logs that it is
        ignored, and the session leaves it out of ``session.update``.
        """
        if not self.api_key:
            raise ConfigError(
                f"OpenAI Realtime engine: no API key; pass api_key= or set {API_KEY_ENV}"
            )
        self.url  # noqa: B018 - validates the base URL now rather than mid-call
        limit = model.max_output_tokens
        if self.max_output_tokens is not None and limit and self.max_output_tokens > limit:
            raise ConfigError(
                f"OpenAI Realtime engine: max_output_tokens={self.max_output_tokens} is above "
                f"the {limit} that model {model.name!r} allows"
            )

    async def connect(self, config: SessionConfig) -> EngineSession:
        """Open one call's session; `CallSetupError` if OpenAI refuses or never answers."""
        from .session import OpenAIRealtimeSession

        return await OpenAIRealtimeSession.open(self, config)


def OpenAIRealtime(
    api_key: str = "",
    voice: str = "alloy",
    model: str = DEFAULT_MODEL,
    **options: Any,
) -> OpenAIRealtimeAdapter:
    """The short form of `OpenAIRealtimeAdapter`; any of its other settings may follow."""
    return OpenAIRealtimeAdapter(api_key=api_key, model=model, voice=voice, **options)
