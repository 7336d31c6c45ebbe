"""What the OpenAI Realtime engine offers: models, transcription models, voices and prices.

Every list here exists once; the enums, the engine spec and the price table derive from it.
Sources: OpenAI model pages as summarised in the project's protocol notes (2026-11-24).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from patter_core.specs import (
    PCM16_24K,
    PCMA_8K,
    PCMU_8K,
    REASONING_EFFORTS,
    MinutePrice,
    ModelSpec,
    PriceTable,
    TokenPrice,
    TranscriptionModelSpec,
)

ENGINE_NAME = "openai_realtime"
PRICES_AS_OF = dt.date(2026, 11, 24)
PRICES_SOURCE = "OpenAI model and pricing pages (developers.openai.com), read 2026-11-24"

GA_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
PREVIEW_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
AUDIO_FORMATS = (PCMU_8K, PCMA_8K, PCM16_24K)
SHUTDOWN_2027_01_20 = dt.date(2027, 1, 20)
TRANSCRIBE_SHUTDOWN = dt.date(2027, 2, 26)


class OpenAIRealtimeModel(StrEnum):
    """Conversation models of the OpenAI Realtime engine (for editor autocomplete)."""

    GPT_REALTIME_MINI = "gpt-realtime-mini"
    GPT_REALTIME = "gpt-realtime"
    GPT_REALTIME_1_5 = "gpt-realtime-1.5"
    GPT_REALTIME_2 = "gpt-realtime-2"
    GPT_REALTIME_2_1 = "gpt-realtime-2.1"
    GPT_REALTIME_2_1_MINI = "gpt-realtime-2.1-mini"
    GPT_4O_REALTIME_PREVIEW = "gpt-4o-realtime-preview"
    GPT_4O_MINI_REALTIME_PREVIEW = "gpt-4o-mini-realtime-preview"


class OpenAITranscriptionModel(StrEnum):
    """Input-transcription models of the OpenAI Realtime engine."""

    WHISPER_1 = "whisper-1"
    GPT_4O_MINI_TRANSCRIBE = "gpt-4o-mini-transcribe"
    GPT_4O_TRANSCRIBE = "gpt-4o-transcribe"
    GPT_REALTIME_WHISPER = "gpt-realtime-whisper"


M = OpenAIRealtimeModel
T = OpenAITranscriptionModel


def _d(value: str) -> Decimal:
    return Decimal(value)


def _tokens(
    text_in: str,
    text_cached: str,
    text_out: str,
    audio_in: str,
    audio_cached: str,
    audio_out: str,
    image_in: str | None = None,
    image_cached: str | None = None,
) -> TokenPrice:
    return TokenPrice(
        text_input=_d(text_in),
        text_cached_input=_d(text_cached),
        text_output=_d(text_out),
        audio_input=_d(audio_in),
        audio_cached_input=_d(audio_cached),
        audio_output=_d(audio_out),
        image_input=_d(image_in) if image_in else None,
        image_cached_input=_d(image_cached) if image_cached else None,
    )


_REASONING = REASONING_EFFORTS

# (spec, price) per conversation model, newest first.
_CONVERSATION: tuple[tuple[ModelSpec, TokenPrice], ...] = (
    (
        ModelSpec(
            M.GPT_REALTIME_MINI.value,
            "Fastest and cheapest; the default for most voice flows.",
            voices=GA_VOICES,
            audio_formats=AUDIO_FORMATS,
            default=True,
            status="deprecated",
            retires_on=SHUTDOWN_2027_01_20,
        ),
        _tokens("0.60", "0.06", "2.40", "10.00", "0.30", "20.00"),
    ),
    (
        ModelSpec(
            M.GPT_REALTIME.value,
            "The GA realtime model (August 2025).",
            context_window=32_768,
            max_output_tokens=4_096,
            voices=GA_VOICES,
            audio_formats=AUDIO_FORMATS,
            status="deprecated",
            retires_on=SHUTDOWN_2027_01_20,
        ),
        _tokens("4.00", "0.40", "16.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    ),
    (
        ModelSpec(
            M.GPT_REALTIME_1_5.value,
            "Realtime model between the GA release and gpt-realtime-2.",
            context_window=32_000,
            max_output_tokens=4_096,
            voices=GA_VOICES,
            audio_formats=AUDIO_FORMATS,
        ),
        _tokens("4.00", "0.40", "16.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    ),
    (
        ModelSpec(
            M.GPT_REALTIME_2.value,
            "Most capable: stronger instruction following, 128K context, reasoning effort.",
            reasoning_efforts=_REASONING,
            context_window=128_000,
            max_output_tokens=32_000,
            voices=GA_VOICES,
            audio_formats=AUDIO_FORMATS,
        ),
        _tokens("4.00", "0.40", "24.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    ),
    (
        ModelSpec(
            M.GPT_REALTIME_2_1.value,
            "Successor of gpt-realtime-2 at the same prices.",
            reasoning_efforts=_REASONING,
            context_window=128_000,
            max_output_tokens=32_000,
            voices=GA_VOICES,
            audio_formats=AUDIO_FORMATS,
        ),
        _tokens("4.00", "0.40", "24.00", "32.00", "0.40", "64.00", "5.00", "0.50"),
    ),
    (
        ModelSpec(
            M.GPT_REALTIME_2_1_MINI.value,
            "Small reasoning realtime model at mini prices.",
            reasoning_efforts=_REASONING,
            context_window=128_000,
            max_output_tokens=32_000,
            voices=GA_VOICES,
            audio_formats=AUDIO_FORMATS,
        ),
        _tokens("0.60", "0.06", "2.40", "10.00", "0.30", "20.00", "0.80", "0.08"),
    ),
    (
        ModelSpec(
            M.GPT_4O_REALTIME_PREVIEW.value,
            "Earlier preview, kept for compatibility; OpenAI's page lists it as shut down.",
            context_window=32_000,
            max_output_tokens=4_096,
            voices=PREVIEW_VOICES,
            audio_formats=AUDIO_FORMATS,
            status="shut_down",
        ),
        _tokens("5.00", "2.50", "20.00", "40.00", "2.50", "80.00"),
    ),
    (
        ModelSpec(
            M.GPT_4O_MINI_REALTIME_PREVIEW.value,
            "Earlier small preview, kept for compatibility.",
            context_window=16_000,
            max_output_tokens=4_096,
            voices=PREVIEW_VOICES,
            audio_formats=AUDIO_FORMATS,
        ),
        _tokens("0.60", "0.30", "2.40", "10.00", "0.30", "20.00"),
    ),
)

# Known models that cannot drive an agent on /v1/realtime, priced per minute of audio.
_ELSEWHERE: tuple[tuple[ModelSpec, MinutePrice], ...] = (
    (
        ModelSpec(
            "gpt-realtime-translate",
            "Live speech translation.",
            conversation=False,
            tools=False,
            endpoint="/v1/realtime/translations",
            explanation=(
                "it is a translation model served on a different endpoint "
                "(/v1/realtime/translations); it accepts no tool calls and no response.create, "
                "so it cannot follow an agent's instructions or call its tools."
            ),
        ),
        MinutePrice(per_minute=_d("0.034"), increment_s=1),
    ),
)

# (spec, per-minute price) per input-transcription model.
_TRANSCRIPTION: tuple[tuple[TranscriptionModelSpec, MinutePrice], ...] = (
    (
        TranscriptionModelSpec(
            T.WHISPER_1.value,
            "Established Whisper; slower partials.",
            default=True,
            status="deprecated",
            retires_on=TRANSCRIBE_SHUTDOWN,
        ),
        MinutePrice(per_minute=_d("0.006"), increment_s=1),
    ),
    (
        TranscriptionModelSpec(
            T.GPT_4O_MINI_TRANSCRIBE.value,
            "Cheapest.",
            status="deprecated",
            retires_on=TRANSCRIBE_SHUTDOWN,
        ),
        MinutePrice(per_minute=_d("0.003"), increment_s=1),
    ),
    (
        TranscriptionModelSpec(
            T.GPT_4O_TRANSCRIBE.value,
            "Higher accuracy.",
            status="deprecated",
            retires_on=TRANSCRIBE_SHUTDOWN,
        ),
        MinutePrice(per_minute=_d("0.006"), increment_s=1),
    ),
    (
        TranscriptionModelSpec(
            T.GPT_REALTIME_WHISPER.value,
            "Streaming-optimised; lowest-latency partials (live captions, dashboards).",
            streaming=True,
        ),
        MinutePrice(per_minute=_d("0.017"), increment_s=1),
    ),
)

# The transcription model names double as conversation-model mistakes: selecting
# gpt-realtime-whisper as the session model gets the same clear refusal as translate.
_TRANSCRIPTION_AS_SESSION = ModelSpec(
    T.GPT_REALTIME_WHISPER.value,
    "Streaming speech-to-text.",
    conversation=False,
    tools=False,
    endpoint="/v1/realtime (transcription sessions)",
    explanation=(
        "it is a transcription model: it turns the caller's speech into text and never "
        "answers. Pass it as input_audio_transcription_model= instead."
    ),
)

MODELS: tuple[ModelSpec, ...] = (
    *(m for m, _ in _CONVERSATION + _ELSEWHERE),
    _TRANSCRIPTION_AS_SESSION,
)
TRANSCRIPTION_MODELS: tuple[TranscriptionModelSpec, ...] = tuple(m for m, _ in _TRANSCRIPTION)

PRICE_TABLE = PriceTable(
    name=ENGINE_NAME,
    models={
        **{m.name: p for m, p in _CONVERSATION},
        **{m.name: p for m, p in _ELSEWHERE},
        **{m.name: p for m, p in _TRANSCRIPTION},
    },
    source=PRICES_SOURCE,
    as_of=PRICES_AS_OF,
    notes=(
        "Token prices are USD per 1M tokens. gpt-4o-realtime-preview is $40/$80 per 1M audio "
        "tokens on OpenAI's current page (older tables said $100/$200). Transcription and "
        "translation are USD per minute of audio."
    ),
)


if {m.name for m, _ in _CONVERSATION} != set(OpenAIRealtimeModel) or {
    m.name for m, _ in _TRANSCRIPTION
} != set(OpenAITranscriptionModel):
    raise RuntimeError("every enum member needs exactly one declaration above")

DEFAULT_MODEL = next(m.name for m in MODELS if m.default)
DEFAULT_TRANSCRIPTION_MODEL = next(m.name for m in TRANSCRIPTION_MODELS if m.default)
