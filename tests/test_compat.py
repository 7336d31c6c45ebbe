"""Compatibility checks at agent build: every refusal, with the content of its message.

Each check runs both ways a user meets it: ``phone.agent(engine=...)`` and ``phone.check(...)``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from patter_openai_realtime import OpenAIRealtimeAdapter, OpenAIRealtimeModel
from patter_twilio import Twilio

import patter_core.errors as errors_module
from patter_core import Patter, Tool, hookimpl
from patter_core.compat import AgentPlan
from patter_core.errors import (
    CompatibilityError,
    ConfigError,
    PatterError,
    PatterWarning,
    UnknownNameError,
)
from patter_core.registry import Registry
from patter_core.specs import (
    PCM16_24K,
    PCMA_8K,
    PCMU_8K,
    CarrierSpec,
    EngineSpec,
    ModelSpec,
    TranscriptionModelSpec,
)

OPENAI = "plugin 'openai_realtime' (distribution patter-openai-realtime"
CONVERSATION_MODELS = [
    "gpt-realtime-mini",
    "gpt-realtime",
    "gpt-realtime-1.5",
    "gpt-realtime-2",
    "gpt-realtime-2.1",
    "gpt-realtime-2.1-mini",
    "gpt-4o-realtime-preview",
    "gpt-4o-mini-realtime-preview",
]
REASONING_MODELS = ["gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"]
EFFORTS = ["minimal", "low", "medium", "high", "xhigh"]
TRANSCRIPTION_MODELS = [
    "whisper-1",
    "gpt-4o-mini-transcribe",
    "gpt-4o-transcribe",
    "gpt-realtime-whisper",
]
# OpenAI's announced shutdowns (PROTOCOLS.md §A.1): selecting these warns with the date.
RETIRING = {"gpt-realtime-mini": "2027-01-20", "gpt-realtime": "2027-01-20"}
SHUT_DOWN = {"gpt-4o-realtime-preview"}
RETIRING_TRANSCRIPTION = {
    "whisper-1": "2027-02-26",
    "gpt-4o-mini-transcribe": "2027-02-26",
    "gpt-4o-transcribe": "2027-02-26",
}


@pytest.fixture
def phone() -> Patter:
    return Patter(carrier=Twilio(auth_token="x"), phone_number="+15555550100")


def adapter(**options: Any) -> OpenAIRealtimeAdapter:
    """An adapter with a key, a current model and a current transcription model unless given."""
    options.setdefault("api_key", "sk-test")
    options.setdefault("model", "gpt-realtime-2")
    options.setdefault("input_audio_transcription_model", "gpt-realtime-whisper")
    return OpenAIRealtimeAdapter(**options)


Build = Callable[..., AgentPlan]


@pytest.fixture(params=["agent", "check"])
def build(request: pytest.FixtureRequest) -> Build:
    """Run the checks through ``phone.agent(...)`` or ``phone.check(...)``; return the plan."""

    def run(phone: Patter, engine: Any, tools: tuple[Tool, ...] = ()) -> AgentPlan:
        if request.param == "agent":
            return phone.agent(engine=engine, system_prompt="Be brief.", tools=tools).plan
        return phone.check(engine, tools=tools)

    return run


def status_warning(model: str) -> contextlib.AbstractContextManager[Any]:
    """Expect the warning a retiring or shut-down model gives, and nothing for current ones."""
    if model in RETIRING:
        shutdown = f"'{model}' is scheduled to shut down on {RETIRING[model]}"
        return pytest.warns(PatterWarning, match=re.escape(shutdown))
    if model in SHUT_DOWN:
        return pytest.warns(PatterWarning, match=f"'{model}' was shut down")
    return contextlib.nullcontext()


def handler(**_: Any) -> str:
    return "ok"


# --- the happy path ------------------------------------------------------------------------


def test_a_compatible_agent_gets_a_plan(phone: Patter, build: Build) -> None:
    plan = build(phone, adapter(reasoning_effort="low"))

    assert plan.engine.name == "openai_realtime"
    assert str(plan.engine_source).startswith(OPENAI)
    assert plan.model.name == "gpt-realtime-2"
    assert plan.transcription is not None
    assert plan.transcription.name == "gpt-realtime-whisper"
    assert plan.carrier is not None
    assert plan.carrier.name == "twilio"
    assert plan.carrier_source is not None
    assert plan.carrier_source.distribution == "patter-twilio"
    assert plan.audio_format == PCMU_8K
    assert plan.send_reasoning is True


@pytest.mark.parametrize("model", CONVERSATION_MODELS)
def test_every_conversation_model_builds(phone: Patter, build: Build, model: str) -> None:
    with status_warning(model):
        plan = build(phone, adapter(model=model))

    assert plan.model.name == model


def test_the_model_enum_names_exactly_the_conversation_models() -> None:
    assert [m.value for m in OpenAIRealtimeModel] == CONVERSATION_MODELS
    spec = Registry().engine("openai_realtime").item
    assert [m.name for m in spec.conversation_models()] == CONVERSATION_MODELS


def test_transcription_can_be_turned_off(phone: Patter, build: Build) -> None:
    plan = build(phone, adapter(input_audio_transcription_model=None))

    assert plan.transcription is None


def test_an_agent_keeps_its_prompt_and_tools(phone: Patter) -> None:
    tool = Tool("lookup_order", "Find an order", handler=handler)

    agent = phone.agent(
        engine=adapter(), system_prompt="Be brief.", first_message="Hi!", tools=[tool]
    )

    assert agent.system_prompt == "Be brief."
    assert agent.first_message == "Hi!"
    assert agent.tools == (tool,)
    assert agent.plan.model.tools is True


# --- unknown and unusable models -----------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5", "gpt-realtime-3", "GPT-REALTIME-2", ""])
def test_unknown_model_lists_the_known_ones(phone: Patter, build: Build, model: str) -> None:
    with pytest.raises(UnknownNameError) as caught:
        build(phone, adapter(model=model))

    message = str(caught.value)
    assert message.startswith(f"engine 'openai_realtime' ({OPENAI}")
    assert f"has no model {model!r}; known models: " + ", ".join(CONVERSATION_MODELS) in message
    assert "gpt-realtime-translate" not in message  # known, but not an option for an agent


def test_translate_model_is_refused_with_the_reason(phone: Patter, build: Build) -> None:
    with pytest.raises(CompatibilityError) as caught:
        build(phone, adapter(model="gpt-realtime-translate"))

    assert not isinstance(caught.value, UnknownNameError)
    message = str(caught.value)
    assert "unknown" not in message.lower()
    assert f"model 'gpt-realtime-translate' of engine 'openai_realtime' ({OPENAI}" in message
    assert "cannot run an agent" in message
    assert "/v1/realtime/translations" in message
    assert "no tool calls" in message
    assert "no response.create" in message
    assert "Use one of: " + ", ".join(CONVERSATION_MODELS) in message


def test_transcription_model_as_the_session_model_is_refused(phone: Patter, build: Build) -> None:
    with pytest.raises(CompatibilityError) as caught:
        build(phone, adapter(model="gpt-realtime-whisper"))

    assert not isinstance(caught.value, UnknownNameError)
    message = str(caught.value)
    assert f"model 'gpt-realtime-whisper' of engine 'openai_realtime' ({OPENAI}" in message
    assert "is a transcription model" in message
    assert "input_audio_transcription_model=" in message
    assert "Use one of: " + ", ".join(CONVERSATION_MODELS) in message


# --- reasoning effort ----------------------------------------------------------------------


@pytest.mark.parametrize("effort", EFFORTS)
@pytest.mark.parametrize("model", REASONING_MODELS)
def test_reasoning_models_accept_every_effort(
    phone: Patter, build: Build, model: str, effort: str
) -> None:
    plan = build(phone, adapter(model=model, reasoning_effort=effort))

    assert plan.send_reasoning is True
    assert plan.model.reasoning_efforts == tuple(EFFORTS)


@pytest.mark.parametrize("model", [*REASONING_MODELS, "gpt-realtime-1.5"])
def test_no_reasoning_effort_sends_none(phone: Patter, build: Build, model: str) -> None:
    assert build(phone, adapter(model=model)).send_reasoning is False


@pytest.mark.parametrize("effort", ["extreme", "HIGH", "max", "none", " low", ""])
@pytest.mark.parametrize("model", ["gpt-realtime-2", "gpt-realtime-1.5"])
def test_invalid_reasoning_effort_lists_the_valid_ones(
    phone: Patter, build: Build, model: str, effort: str
) -> None:
    with pytest.raises(CompatibilityError) as caught:
        build(phone, adapter(model=model, reasoning_effort=effort))

    assert str(caught.value) == (
        "reasoning_effort must be one of 'minimal', 'low', 'medium', 'high', 'xhigh' or None, "
        f"got {effort!r} (model {model!r} of engine 'openai_realtime', plugin 'openai_realtime' "
        "(distribution patter-openai-realtime 0.1.0))"
    )


NO_REASONING = [m for m in CONVERSATION_MODELS if m not in REASONING_MODELS]


@pytest.mark.parametrize("model", NO_REASONING)
def test_reasoning_on_a_model_without_it_is_accepted_not_sent_and_logged(
    phone: Patter, build: Build, caplog: pytest.LogCaptureFixture, model: str
) -> None:
    caplog.set_level(logging.DEBUG)

    with status_warning(model):
        plan = build(phone, adapter(model=model, reasoning_effort="high"))

    assert plan.send_reasoning is False
    (record,) = [r for r in caplog.records if r.name == "patter.compat"]
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert f"reasoning_effort='high' is ignored for model {model!r}" in message
    assert "it is not sent" in message
    assert OPENAI in message
    assert "Models with reasoning: " + ", ".join(REASONING_MODELS) in message


def test_ignored_reasoning_is_logged_once_in_all(
    phone: Patter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    phone.agent(engine=adapter(model="gpt-realtime-1.5", reasoning_effort="low"))

    about_reasoning = [
        (r.name, r.getMessage())
        for r in caplog.records
        if r.name.startswith("patter") and "reasoning_effort" in r.getMessage()
    ]
    assert len(about_reasoning) == 1, about_reasoning
    assert about_reasoning[0][0] == "patter.compat"


class ToyEngine:
    """A minimal engine object for the toy plugin's engine."""

    engine_name = "toy"

    def __init__(self, model: str, reasoning_effort: str | None = None, voice: str = "") -> None:
        self.model = model
        self.voice = voice
        self.reasoning_effort = reasoning_effort
        self.transcription_model: str | None = None
        self.prepared: list[str] = []

    def prepare(self, model: ModelSpec) -> None:
        self.prepared.append(model.name)

    async def connect(self, config: Any) -> Any:
        raise NotImplementedError


class ToyCarrier:
    def __init__(self, name: str) -> None:
        self.carrier_name = name


class ToyPlugin:
    """An engine with one model per quirk, and carriers in three audio formats."""

    @hookimpl
    def patter_register_engines(self, register: Callable[[EngineSpec], None]) -> None:
        register(
            EngineSpec(
                name="toy",
                factory=ToyEngine,
                models=[
                    ModelSpec("toy-talk", audio_formats=[PCM16_24K], default=True),
                    ModelSpec("toy-mute", tools=False, audio_formats=[PCM16_24K]),
                    ModelSpec(
                        "toy-think", reasoning_efforts=["low", "high"], audio_formats=[PCMU_8K]
                    ),
                    ModelSpec("toy-silent"),  # declares no audio format at all
                ],
                transcription_models=[TranscriptionModelSpec("toy-ears")],
            )
        )

    @hookimpl
    def patter_register_carriers(self, register: Callable[[CarrierSpec], None]) -> None:
        for name, fmt in [("alaw_line", PCMA_8K), ("ulaw_line", PCMU_8K), ("wide_line", PCM16_24K)]:
            register(CarrierSpec(name=name, factory=ToyCarrier, audio_format=fmt))


@pytest.fixture
def toy_registry() -> Registry:
    return Registry(plugins=[ToyPlugin()], entry_points=False)


def toy_phone(registry: Registry, carrier: str | None = "ulaw_line") -> Patter:
    return Patter(carrier=ToyCarrier(carrier) if carrier else None, registry=registry)


def test_an_effort_the_model_does_not_declare_is_refused(
    toy_registry: Registry, build: Build
) -> None:
    with pytest.raises(CompatibilityError) as caught:
        build(toy_phone(toy_registry), ToyEngine("toy-think", reasoning_effort="medium"))

    assert str(caught.value) == (
        "model 'toy-think' (plugin 'ToyPlugin') accepts reasoning_effort 'low', 'high', "
        "not 'medium'"
    )


# --- transcription -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["whisper-2", "gpt-4o-transcribe-diarize", "gpt-realtime-2"])
def test_unknown_transcription_model_lists_the_offered_ones(
    phone: Patter, build: Build, name: str
) -> None:
    with pytest.raises(UnknownNameError) as caught:
        build(phone, adapter(input_audio_transcription_model=name))

    assert str(caught.value).startswith(f"engine 'openai_realtime' ({OPENAI}")
    assert str(caught.value).endswith(
        f"offers no transcription model {name!r}; offered: "
        + ", ".join(TRANSCRIPTION_MODELS)
        + " (or None to turn transcription off)"
    )


@pytest.mark.parametrize("name", TRANSCRIPTION_MODELS)
def test_every_offered_transcription_model_builds(phone: Patter, build: Build, name: str) -> None:
    context: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if name in RETIRING_TRANSCRIPTION:
        context = pytest.warns(
            PatterWarning,
            match=re.escape(
                f"transcription model '{name}' is scheduled to shut down on "
                f"{RETIRING_TRANSCRIPTION[name]} according to {OPENAI}"
            ),
        )
    with context:
        plan = build(phone, adapter(input_audio_transcription_model=name))

    assert plan.transcription is not None
    assert plan.transcription.name == name


# --- tools ---------------------------------------------------------------------------------


def test_tools_on_a_model_without_tools_are_refused(toy_registry: Registry, build: Build) -> None:
    tools = (Tool("lookup", "Look up", handler=handler), Tool("book", "Book", handler=handler))

    with pytest.raises(CompatibilityError) as caught:
        build(toy_phone(toy_registry, "wide_line"), ToyEngine("toy-mute"), tools)

    assert str(caught.value) == (
        "model 'toy-mute' of engine 'toy' (plugin 'ToyPlugin') does not support tools, but the "
        "agent has ['lookup', 'book']; use a model with tools: toy-talk, toy-think, toy-silent"
    )


def test_a_model_without_tools_builds_when_the_agent_has_none(
    toy_registry: Registry, build: Build
) -> None:
    assert build(toy_phone(toy_registry, "wide_line"), ToyEngine("toy-mute")).model.tools is False


def test_duplicate_tool_names_are_rejected(phone: Patter) -> None:
    tools = [
        Tool("lookup", "Look up an order", handler=handler),
        Tool("book", "Book a table", handler=handler),
        Tool("lookup", "Look up a customer", handler=handler),
    ]

    with pytest.raises(ConfigError) as caught:
        phone.agent(engine=adapter(), tools=tools)

    assert str(caught.value) == (
        "tool name(s) ['lookup'] used more than once; tool names must be unique"
    )


# --- audio formats -------------------------------------------------------------------------


def test_carrier_and_model_without_a_conversion_path_are_refused(
    toy_registry: Registry, build: Build
) -> None:
    with pytest.raises(CompatibilityError) as caught:
        build(toy_phone(toy_registry, "alaw_line"), ToyEngine("toy-talk"))

    assert str(caught.value) == (
        "carrier 'alaw_line' (plugin 'ToyPlugin') streams pcma@8000, but model 'toy-talk' "
        "(plugin 'ToyPlugin') takes only pcm16@24000 and there is no conversion between them; "
        "pick a model or carrier with a common format"
    )


@pytest.mark.parametrize(
    ("carrier", "model"),
    [
        ("ulaw_line", "toy-talk"),  # μ-law 8 kHz ⇄ PCM16 24 kHz: converted
        ("wide_line", "toy-talk"),  # same format
        ("wide_line", "toy-think"),  # PCM16 24 kHz ⇄ μ-law 8 kHz: converted
        ("ulaw_line", "toy-think"),  # same format
    ],
)
def test_formats_with_a_conversion_path_build(
    toy_registry: Registry, build: Build, carrier: str, model: str
) -> None:
    plan = build(toy_phone(toy_registry, carrier), ToyEngine(model))

    assert plan.audio_format == toy_registry.carrier(carrier).item.audio_format


def test_a_model_without_audio_formats_and_no_carrier_is_refused(
    toy_registry: Registry, build: Build
) -> None:
    with pytest.raises(CompatibilityError) as caught:
        build(toy_phone(toy_registry, carrier=None), ToyEngine("toy-silent"))

    assert str(caught.value) == "model 'toy-silent' (plugin 'ToyPlugin') declares no audio format"


def test_without_a_carrier_the_models_first_format_is_used(
    toy_registry: Registry, build: Build
) -> None:
    plan = build(toy_phone(toy_registry, carrier=None), ToyEngine("toy-think"))

    assert plan.carrier is None
    assert plan.audio_format == PCMU_8K


def test_the_engine_is_prepared_with_the_resolved_model(
    toy_registry: Registry, build: Build
) -> None:
    engine = ToyEngine("toy-think", reasoning_effort="low")

    build(toy_phone(toy_registry), engine)

    assert engine.prepared == ["toy-think"]


# --- credentials ---------------------------------------------------------------------------


def test_missing_api_key_names_the_environment_variable(
    phone: Patter, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    with pytest.raises(ConfigError) as caught:
        build(phone, adapter(api_key=""))

    assert str(caught.value) == (
        "OpenAI Realtime engine: no API key; pass api_key= or set OPENAI_API_KEY"
    )


def test_the_api_key_is_read_from_the_environment(
    phone: Patter, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")

    assert build(phone, adapter(api_key="")).model.name == "gpt-realtime-2"


# --- warnings ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", sorted(RETIRING))
def test_a_retiring_model_warns_with_its_date_and_the_current_models(
    phone: Patter, build: Build, model: str
) -> None:
    with pytest.warns(PatterWarning) as record:
        build(phone, adapter(model=model))

    (warning,) = record
    message = str(warning.message)
    assert f"model {model!r} is scheduled to shut down on {RETIRING[model]}" in message
    assert OPENAI in message
    assert "current models: gpt-realtime-1.5, gpt-realtime-2, gpt-realtime-2.1" in message
    assert warning.filename == __file__  # points at the code that built the agent


def test_a_shut_down_model_warns(phone: Patter, build: Build) -> None:
    with pytest.warns(PatterWarning) as record:
        build(phone, adapter(model="gpt-4o-realtime-preview"))

    (warning,) = record
    assert "model 'gpt-4o-realtime-preview' was shut down according to " + OPENAI in str(
        warning.message
    )


def test_the_reference_defaults_warn_that_both_models_retire(phone: Patter) -> None:
    # model="gpt-realtime-mini" and input_audio_transcription_model="whisper-1" are the
    # defaults of the reference page; OpenAI has announced shutdowns for both.
    with pytest.warns(PatterWarning) as record:
        phone.agent(engine=OpenAIRealtimeAdapter(api_key="sk-test"))

    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "model 'gpt-realtime-mini' is scheduled to shut down on 2027-01-20" in messages[0]
    assert "transcription model 'whisper-1' is scheduled to shut down on 2027-02-26" in messages[1]


def test_an_undeclared_voice_warns_naming_the_declared_ones(phone: Patter, build: Build) -> None:
    with pytest.warns(PatterWarning) as record:
        plan = build(phone, adapter(voice="nova"))

    (warning,) = record
    assert str(warning.message) == (
        f"voice 'nova' is not declared for model 'gpt-realtime-2' by {plan.engine_source}; "
        "declared voices: alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar. "
        "The engine may reject the session."
    )
    assert str(plan.engine_source).startswith(OPENAI)
    assert warning.filename == __file__


def test_a_ga_voice_on_a_preview_model_warns(phone: Patter, build: Build) -> None:
    expected = (
        "voice 'marin' is not declared for model 'gpt-4o-mini-realtime-preview'.*"
        r"declared voices: alloy, ash, ballad, coral, echo, sage, shimmer, verse\."
    )
    with pytest.warns(PatterWarning, match=expected):
        build(phone, adapter(model="gpt-4o-mini-realtime-preview", voice="marin"))


@pytest.mark.parametrize("voice", ["marin", "cedar", "alloy"])
def test_a_declared_voice_does_not_warn(phone: Patter, build: Build, voice: str) -> None:
    build(phone, adapter(voice=voice))  # a PatterWarning would fail the test (filterwarnings)


# --- unknown engines and carriers ----------------------------------------------------------


def test_unknown_engine_lists_the_known_engines(phone: Patter, build: Build) -> None:
    engine = ToyEngine("toy-talk")
    engine.engine_name = "elevenlabs"

    with pytest.raises(UnknownNameError) as caught:
        build(phone, engine)

    assert str(caught.value) == (
        "no engine named 'elevenlabs' is registered; known: openai_realtime"
    )


def test_unknown_carrier_is_refused_when_the_phone_is_built() -> None:
    with pytest.raises(UnknownNameError) as caught:
        Patter(carrier=ToyCarrier("vonage"), phone_number="+15555550100")

    assert str(caught.value) == "no carrier named 'vonage' is registered; known: twilio"


# --- the exception family ------------------------------------------------------------------


def exception_classes() -> Iterator[type[BaseException]]:
    for _, value in inspect.getmembers(errors_module, inspect.isclass):
        if issubclass(value, Exception) and not issubclass(value, Warning):
            yield value


@pytest.mark.parametrize("cls", list(exception_classes()), ids=lambda c: c.__name__)
def test_every_error_is_a_patter_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, PatterError)


def test_compatibility_errors_are_config_errors_and_warnings_are_user_warnings() -> None:
    assert issubclass(CompatibilityError, ConfigError)
    assert issubclass(UnknownNameError, CompatibilityError)
    assert issubclass(PatterWarning, UserWarning)
    assert not issubclass(PatterWarning, PatterError)


# --- declared model facts (PROTOCOLS.md §A.11) ---------------------------------------------

# model: (context window, max output tokens, supports reasoning, status)
A11_FACTS = {
    "gpt-realtime-2": (128_000, 32_000, True, "active"),
    "gpt-realtime-2.1": (128_000, 32_000, True, "active"),
    "gpt-realtime-2.1-mini": (128_000, 32_000, True, "active"),
    "gpt-realtime-1.5": (32_000, 4_096, False, "active"),
    "gpt-realtime": (32_768, 4_096, False, "deprecated"),
    "gpt-realtime-mini": (None, None, False, "deprecated"),  # context unconfirmed [U]
    "gpt-4o-realtime-preview": (32_000, 4_096, False, "shut_down"),
    "gpt-4o-mini-realtime-preview": (16_000, 4_096, False, "active"),
}


@pytest.mark.parametrize("model", sorted(A11_FACTS))
def test_declared_model_facts_match_the_protocol_notes(model: str) -> None:
    context, max_output, reasoning, status = A11_FACTS[model]

    spec = Registry().engine("openai_realtime").item.model(model)

    assert spec is not None
    assert (spec.context_window, spec.max_output_tokens) == (context, max_output)
    assert spec.supports_reasoning is reasoning
    assert spec.status == status
    assert spec.tools is True
    assert spec.conversation is True
    assert PCMU_8K in spec.audio_formats
    assert spec.default is (model == "gpt-realtime-mini")
