"""Every python block of docs/engines/openai-realtime.md runs, except ones marked not-run."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import without_id
from patter_openai_realtime.testing import FakeRealtimeServer, validate_client_event

from patter_core.engine import SessionConfig

DOC = Path(__file__).resolve().parents[3] / "docs" / "engines" / "openai-realtime.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)
NOT_RUN = re.compile(r"<!-- not-run: (?P<why>\S.*?) -->")
SERVES_FOREVER = "<!-- not-run: serves forever; exercised by the core's end-to-end tests -->"
MIN_RUN = 8


def blocks() -> list[tuple[int, str, str]]:
    """(line, code, reason it is not run or '') for each python block, in order."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        marker = NOT_RUN.fullmatch(match["before"].strip())
        found.append((line, match["code"], marker["why"] if marker else ""))
    return found


RUNNABLE = [(line, code) for line, code, why in blocks() if not why]


@pytest.fixture
def doc_env(server: FakeRealtimeServer, monkeypatch: pytest.MonkeyPatch) -> FakeRealtimeServer:
    """The environment the docs assume, pointed at the fake server."""
    monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "docs-test-token")
    return server


async def run_block(line: int, code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__doc__"}
    # In a worker thread: blocks may call asyncio.run while the fake serves on this loop.
    await asyncio.to_thread(exec, compile(code, f"{DOC.name}:{line}", "exec"), namespace)
    return namespace


def test_enough_blocks_run_and_only_serve_is_skipped() -> None:
    everything = blocks()
    skipped = [code for _, code, why in everything if why]
    assert len(RUNNABLE) >= MIN_RUN
    assert skipped == ["import asyncio\n\nasyncio.run(phone.serve(agent))"]
    assert DOC.read_text(encoding="utf-8").count(SERVES_FOREVER) == 1
    assert DOC.read_text(encoding="utf-8").count("```python") == len(everything)


@pytest.mark.parametrize(("line", "code"), RUNNABLE, ids=[f"line{line}" for line, _ in RUNNABLE])
async def test_block_runs(line: int, code: str, doc_env: FakeRealtimeServer) -> None:
    await run_block(line, code)


async def test_worked_example_configures_the_session_it_describes(
    doc_env: FakeRealtimeServer,
) -> None:
    line, code = next(
        (line, code) for line, code in RUNNABLE if "phone.agent(" in code and "marin" in code
    )
    namespace = await run_block(line, code)
    agent, adapter = namespace["agent"], namespace["adapter"]
    config = SessionConfig(
        instructions=agent.instructions,
        audio_format=agent.plan.audio_format,
        model=agent.plan.model,
    )
    session = await adapter.connect(config)
    await session.close()
    update = doc_env.of_type("session.update")[0]
    validate_client_event(update)
    session_json = without_id(update)["session"]
    assert session_json["model"] == "gpt-realtime-2"
    assert session_json["reasoning"] == {"effort": "low"}
    assert session_json["audio"]["input"]["transcription"] == {"model": "gpt-realtime-whisper"}
    assert session_json["audio"]["output"] == {"format": {"type": "audio/pcmu"}, "voice": "marin"}
    assert session_json["instructions"] == "You are a helpful assistant."
