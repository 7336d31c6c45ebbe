"""The `patter` command: plugins, models, demo and serve, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from patter_core.cli import main
from patter_core.demo import run_demo


def test_plugins_json_lists_both_first_party_plugins_with_their_registrations() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    plugins = {p["plugin"]: p for p in json.loads(result.output)["plugins"]}
    assert plugins["openai_realtime"]["distribution"] == "patter-openai-realtime"
    assert plugins["openai_realtime"]["registered"]["engines"] == ["openai_realtime"]
    assert plugins["twilio"]["distribution"] == "patter-twilio"
    assert plugins["twilio"]["registered"]["carriers"] == ["twilio"]
    assert all(p["error"] is None for p in plugins.values())


def test_disabling_a_plugin_removes_it_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    before = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).output)["plugins"]
    monkeypatch.setenv("PATTER_DISABLE_PLUGINS", "twilio")
    after = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).output)["plugins"]
    assert after == [p for p in before if p["plugin"] != "twilio"]


def test_models_json_has_every_model_with_capabilities_and_prices() -> None:
    result = CliRunner().invoke(main, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.output)["models"]}
    two = rows[("conversation", "gpt-realtime-2")]
    assert two["reasoning_efforts"] == ["minimal", "low", "medium", "high", "xhigh"]
    assert two["price"]["audio_input"] == "32.00" and two["price"]["audio_output"] == "64.00"
    assert rows[("not for agents", "gpt-realtime-translate")]["endpoint"] == (
        "/v1/realtime/translations"
    )
    assert rows[("transcription", "gpt-realtime-whisper")]["price"]["per_minute"] == "0.017"


def test_models_table_is_readable() -> None:
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0
    assert "gpt-realtime-2" in result.output and "reasoning: minimal/low/medium/high/xhigh" in (
        result.output
    )


def test_serve_rejects_a_target_that_is_not_an_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notagent.py").write_text("agent = 42\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["serve", "notagent:agent"])
    assert result.exit_code != 0
    assert "not an Agent" in result.output


async def test_the_demo_plays_the_whole_scripted_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    result = await run_demo(echo=lines.append)
    output = "\n".join(lines)
    assert result.end_reason == "caller hung up"
    finals = [(e.role, e.interrupted) for e in result.transcript if e.final]
    assert finals == [
        ("agent", False),
        ("user", False),
        ("agent", True),  # the long answer the caller talked over
        ("user", False),
        ("agent", False),
        ("user", False),
        ("agent", False),
    ]
    assert "check_order(order_id='42')" in output
    assert "caller talks over the agent" in output
    assert result.cost is not None and result.cost.total > 0
    assert (
        f"total         ${result.cost.total.quantize(result.cost.total.__class__('0.000001'))}"
        in (output)
    )
    assert list((tmp_path / "patter-calls").glob("calls-*.jsonl"))
