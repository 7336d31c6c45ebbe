"""The server as a process: `patter serve`, /health, SIGTERM draining, mounting, bad input.

These run the real CLI in a subprocess (or the real app in-process) on 127.0.0.1, with the
fake OpenAI Realtime server and the Twilio call simulator as the outside world.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from patter_openai_realtime.testing import FakeRealtimeServer, Say
from patter_twilio.testing import Hangup, Silence, TwilioCallSimulator, WaitForAgent

AUTH_TOKEN = "lifecycle-token"
API_KEY = "sk-lifecycle"
PUBLIC_URL = "https://agent.example.test"

APP = """
from patter_core import Patter
from patter_twilio import Twilio
from patter_openai_realtime import OpenAIRealtimeAdapter

phone = Patter(carrier=Twilio())
agent = phone.agent(
    engine=OpenAIRealtimeAdapter(model="gpt-realtime-2", voice="marin"),
    system_prompt="You are a test agent.",
    first_message="Hello from the subprocess.",
)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_healthy(base_url: str, process: subprocess.Popen[str]) -> None:
    async with httpx.AsyncClient() as client, asyncio.timeout(20):
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"server exited early: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                if (await client.get(f"{base_url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(api_key=API_KEY, validate=True) as server:
        yield server


def _serve(
    tmp_path: Path, fake: FakeRealtimeServer, port: int, grace: float
) -> subprocess.Popen[str]:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    env = {
        **os.environ,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake.url,
        "TWILIO_ACCOUNT_SID": "ACtest",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PATTER_PUBLIC_URL": PUBLIC_URL,
        "PATTER_CALL_LOG_DIR": str(tmp_path / "calls"),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patter_core.cli",
            "serve",
            "app:agent",
            "--port",
            str(port),
            "--grace",
            str(grace),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_patter_serve_answers_a_call_then_drains_on_sigterm(
    tmp_path: Path, fake: FakeRealtimeServer
) -> None:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = _serve(tmp_path, fake, port, grace=1.0)
    try:
        await _wait_healthy(base_url, process)
        fake.reply(Say("Hello from the subprocess."))
        async with TwilioCallSimulator(base_url, AUTH_TOKEN, public_url=PUBLIC_URL) as sim:
            first = await sim.call([WaitForAgent(), Hangup()])
            # A second call is still going when the server is told to stop.
            fake.reply(Say("Hello from the subprocess."))
            live = asyncio.create_task(sim.call([WaitForAgent(), Silence(ms=8000)]))
            await fake.wait_for("session.update", count=2, timeout=10)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            refused = await sim.call([Silence(ms=200)])  # arrives while draining
            ended = await asyncio.wait_for(live, 15)
        exit_code = await asyncio.to_thread(process.wait, 15)
    finally:
        if process.poll() is None:
            process.kill()
    assert first.heard_ms > 0 and first.ended_by == "hangup"
    assert refused.ended_by == "no_stream"  # <Reject reason="busy"/>: the caller hears busy
    assert "Reject" in refused.twiml
    assert ended.ended_by == "server_closed"  # ended by us after the 1 s grace period
    assert exit_code == 0
    records = [
        json.loads(line)
        for path in sorted((tmp_path / "calls").glob("calls-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert sorted(r["end_reason"] for r in records) == ["caller hung up", "server shutting down"]


async def test_health_reports_ok(tmp_path: Path, fake: FakeRealtimeServer) -> None:
    port = _free_port()
    process = _serve(tmp_path, fake, port, grace=0.5)
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}", process)
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"http://127.0.0.1:{port}/health")).json()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 15)
    assert health == {"status": "ok", "calls": 0}


def test_serve_without_auth_token_fails_at_start_up_with_what_to_set(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(OPENAI_API_KEY=API_KEY, PATTER_PUBLIC_URL=PUBLIC_URL)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "patter_core.cli",
            "serve",
            "app:agent",
            "--port",
            str(_free_port()),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Error: Twilio: no auth token" in done.stderr and "TWILIO_AUTH_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_without_a_public_url_fails_at_start_up_saying_what_to_set(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "PATTER_"))}
    env.update(OPENAI_API_KEY=API_KEY, TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    done = subprocess.run(
        [sys.executable, "-m", "patter_core.cli", "serve", "app:agent"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "PATTER_PUBLIC_URL" in done.stderr and "Traceback" not in done.stderr
