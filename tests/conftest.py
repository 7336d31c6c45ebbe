"""Shared fixtures: a clean plugin-selection environment and on-disk plugin distributions."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from patter_openai_realtime import OpenAIRealtimeAdapter
from patter_openai_realtime.testing import FakeRealtimeServer
from patter_twilio import Twilio
from patter_twilio.testing import TwilioCallSimulator

from patter_core import Patter, Tool
from patter_core.plugins import DISABLE_ENV, LOAD_ENV
from patter_core.records import CallResult
from patter_core.server import RunningServer, running

# The meta-tests build broken carriers from the plugin template. It is imported from the
# source tree, not installed, so the registry never discovers it as a plugin.
TEMPLATE_SOURCE = Path(__file__).resolve().parent.parent / "plugins" / "_template"
if str(TEMPLATE_SOURCE) not in sys.path:
    sys.path.append(str(TEMPLATE_SOURCE))


@pytest.fixture(autouse=True)
def _no_plugin_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with every installed plugin selected, whatever the outer shell exports."""
    monkeypatch.delenv(LOAD_ENV, raising=False)
    monkeypatch.delenv(DISABLE_ENV, raising=False)


MakeDist = Callable[..., Path]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Build an installed-looking distribution on disk and put it on ``sys.path``.

    ``make_dist("acme-voice", "1.2.3", modules={"acme_voice": "<source>"},
    entry_points={"acme": "acme_voice"})`` writes ``acme_voice.py`` and
    ``acme_voice-1.2.3.dist-info/{METADATA,entry_points.txt}`` under a site directory, exactly
    what pip leaves behind, so `importlib.metadata` finds the entry point in group ``patter``.
    Modules imported from there are forgotten after the test.
    """
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)

    def build(
        name: str,
        version: str,
        *,
        modules: dict[str, str],
        entry_points: dict[str, str],
    ) -> Path:
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = [f"{ep} = {target}" for ep, target in entry_points.items()]
        (info / "entry_points.txt").write_text("[patter]\n" + "\n".join(lines) + "\n")
        importlib.invalidate_caches()
        return info

    yield build
    for module in set(sys.modules) - before:
        if getattr(sys.modules[module], "__file__", None) and str(site) in str(
            sys.modules[module].__file__
        ):
            del sys.modules[module]


# ---------------------------------------------------------------- whole calls over real sockets

AUTH_TOKEN = "test-auth-token"
PUBLIC_URL = "https://agent.example.test"
API_KEY = "sk-test-e2e"


@attrs.define
class Rig:
    """The three parties of a simulated call, wired together: fake model, our server, caller."""

    model: FakeRealtimeServer
    server: RunningServer
    sim: TwilioCallSimulator
    ended: list[CallResult]

    async def wait_ended(self, count: int = 1) -> list[CallResult]:
        async with asyncio.timeout(15):
            while len(self.ended) < count:
                await asyncio.sleep(0.02)
        return self.ended


@pytest.fixture
def make_rig(tmp_path: Path) -> Callable[..., Any]:
    """``async with make_rig(first_message=..., tools=..., **adapter_options) as rig:``.

    ``agent_options`` go to ``phone.agent``; other keywords to the OpenAI adapter.
    """
    call_log_dir = tmp_path / "calls"

    def factory(
        *,
        fake: FakeRealtimeServer | None = None,
        first_message: str = "",
        tools: tuple[Tool, ...] = (),
        agent_options: dict[str, Any] | None = None,
        **adapter_options: Any,
    ) -> contextlib.AbstractAsyncContextManager[Rig]:
        @contextlib.asynccontextmanager
        async def rig() -> AsyncIterator[Rig]:
            ended: list[CallResult] = []
            async with fake or FakeRealtimeServer(api_key=API_KEY, validate=True) as model:
                phone = Patter(
                    carrier=Twilio(account_sid="ACtest", auth_token=AUTH_TOKEN),
                    call_log=call_log_dir,
                )
                engine = OpenAIRealtimeAdapter(
                    api_key=API_KEY,
                    model="gpt-realtime-2",
                    voice="marin",
                    input_audio_transcription_model="gpt-realtime-whisper",
                    base_url=model.url,
                    **adapter_options,
                )
                agent = phone.agent(
                    engine=engine,
                    system_prompt="You are a test agent.",
                    first_message=first_message,
                    tools=tools,
                    on_call_end=ended.append,
                    **(agent_options or {}),
                )
                async with (
                    running(phone, agent, public_url=PUBLIC_URL) as server,
                    TwilioCallSimulator(server.base_url, AUTH_TOKEN, public_url=PUBLIC_URL) as sim,
                ):
                    yield Rig(model, server, sim, ended)
                model.assert_clean()

        return rig()

    return factory
