"""The adapter's settings, defaults, URL, secrets and its checks before any call."""

from __future__ import annotations

import logging
import warnings

import patter_openai_realtime.plugin as plugin
import pytest
from patter_openai_realtime import (
    OpenAIRealtime,
    OpenAIRealtimeAdapter,
    OpenAIRealtimeModel,
    OpenAITranscriptionModel,
    SemanticVad,
    ServerVad,
)
from patter_openai_realtime.plugin import ENGINE_SPEC

from patter_core import Patter, Registry
from patter_core.engine import Engine
from patter_core.errors import CompatibilityError, ConfigError, PatterWarning


def model(name: str):  # type: ignore[no-untyped-def]
    spec = ENGINE_SPEC.model(name)
    assert spec is not None
    return spec


def test_defaults_match_the_reference_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    adapter = OpenAIRealtimeAdapter()
    assert adapter.model == "gpt-realtime-mini" == OpenAIRealtimeModel.GPT_REALTIME_MINI
    assert adapter.transcription_model == "whisper-1" == OpenAITranscriptionModel.WHISPER_1
    assert adapter.reasoning_effort is None
    assert adapter.voice == "alloy"
    assert adapter.turn_detection == ServerVad(0.5, 300, 500, True, True, None)
    assert adapter.audio_format == "auto" and adapter.tool_choice == "auto"
    assert adapter.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime-mini"
    assert isinstance(adapter, Engine)


def test_shorthand_builds_an_adapter() -> None:
    engine = OpenAIRealtime(api_key="sk-a", voice="marin", model=OpenAIRealtimeModel.GPT_REALTIME)
    assert type(engine) is OpenAIRealtimeAdapter
    assert (engine.model, engine.voice, engine.api_key) == ("gpt-realtime", "marin", "sk-a")
    assert engine.transcription_model == "whisper-1"


def test_the_key_never_shows(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = OpenAIRealtimeAdapter(
        api_key="sk-secret-123", model="gpt-realtime-mini", reasoning_effort="low"
    )
    adapter.prepare(model("gpt-realtime-mini"))
    assert "sk-secret-123" not in repr(adapter) + str(adapter) + caplog.text
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert OpenAIRealtimeAdapter().api_key == "sk-from-env"
    assert "sk-from-env" not in repr(OpenAIRealtimeAdapter())


def test_missing_key_fails_prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="no API key; pass api_key= or set OPENAI_API_KEY"):
        OpenAIRealtimeAdapter().prepare(model("gpt-realtime-mini"))


def test_max_output_tokens_above_the_models_limit_fails_prepare() -> None:
    adapter = OpenAIRealtimeAdapter(api_key="k", model="gpt-realtime", max_output_tokens=5000)
    with pytest.raises(ConfigError, match="above the 4096 that model 'gpt-realtime' allows"):
        adapter.prepare(model("gpt-realtime"))
    OpenAIRealtimeAdapter(api_key="k", model="gpt-realtime-2", max_output_tokens=5000).prepare(
        model("gpt-realtime-2")
    )


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:8080/v1", "ws://127.0.0.1:8080/v1/realtime?model=gpt-realtime-2"),
        (
            "https://gateway.example/openai/v1/",
            "wss://gateway.example/openai/v1/realtime?model=gpt-realtime-2",
        ),
        ("wss://proxy.example/v1", "wss://proxy.example/v1/realtime?model=gpt-realtime-2"),
    ],
)
def test_ws_url_from_the_base_url(base: str, url: str) -> None:
    assert OpenAIRealtimeAdapter(model="gpt-realtime-2", base_url=base).url == url


def test_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = OpenAIRealtimeAdapter()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:9/v1")
    assert adapter.url == "ws://localhost:9/v1/realtime?model=gpt-realtime-mini"
    assert OpenAIRealtimeAdapter(base_url="http://other/v1").url.startswith("ws://other/")


def test_bad_base_url_fails_prepare() -> None:
    adapter = OpenAIRealtimeAdapter(api_key="k", base_url="ftp://example/v1")
    with pytest.raises(ConfigError, match="must start with http://, https://, ws:// or wss://"):
        adapter.prepare(model("gpt-realtime-mini"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"audio_format": "mp3"}, "audio_format must be 'auto' or 'pcm16'"),
        ({"noise_reduction": "loud"}, "noise_reduction must be 'near_field', 'far_field' or None"),
        ({"max_output_tokens": 0}, "max_output_tokens must be a positive integer"),
        ({"voice": ""}, "voice must be a non-empty string"),
        ({"turn_detection": "server_vad"}, "turn_detection must be ServerVad"),
        ({"connect_timeout_s": 0}, "connect_timeout_s must be a positive number"),
        ({"tool_choice": ""}, "tool_choice must be a non-empty string"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OpenAIRealtimeAdapter(**options)  # type: ignore[arg-type]


def test_turn_detection_records_check_their_fields() -> None:
    with pytest.raises(ConfigError, match=r"ServerVad\.threshold must be between 0\.0 and 1\.0"):
        ServerVad(threshold=1.5)
    with pytest.raises(ConfigError, match=r"ServerVad\.silence_duration_ms must be a whole number"):
        ServerVad(silence_duration_ms=-1)
    with pytest.raises(ConfigError, match=r"SemanticVad\.eagerness must be one of"):
        SemanticVad(eagerness="eager")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        ServerVad().threshold = 0.9  # type: ignore[misc]


def registry() -> Registry:
    return Registry(plugins=[plugin], entry_points=False)


def test_agent_build_warns_about_a_voice_the_model_does_not_declare() -> None:
    phone = Patter(registry=registry())
    adapter = OpenAIRealtimeAdapter(
        api_key="k", model="gpt-realtime-2", voice="nova", input_audio_transcription_model=None
    )
    with pytest.warns(
        PatterWarning,
        match="voice 'nova' is not declared .* declared voices: alloy, .*marin, cedar",
    ):
        phone.agent(engine=adapter)


def test_agent_build_rejects_translate_and_whisper_as_session_models() -> None:
    phone = Patter(registry=registry())
    with pytest.raises(CompatibilityError, match="/v1/realtime/translations"):
        phone.agent(engine=OpenAIRealtimeAdapter(api_key="k", model="gpt-realtime-translate"))
    with pytest.raises(CompatibilityError, match="input_audio_transcription_model="):
        phone.agent(engine=OpenAIRealtimeAdapter(api_key="k", model="gpt-realtime-whisper"))


def test_agent_build_with_the_worked_example_settings_is_clean() -> None:
    phone = Patter(registry=registry())
    adapter = OpenAIRealtimeAdapter(
        api_key="k",
        model=OpenAIRealtimeModel.GPT_REALTIME_2,
        voice="marin",
        input_audio_transcription_model=OpenAITranscriptionModel.GPT_REALTIME_WHISPER,
        reasoning_effort="low",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agent = phone.agent(engine=adapter, system_prompt="Be brief.")
    assert agent.plan.send_reasoning and agent.plan.model.name == "gpt-realtime-2"
