"""A Patter server on 127.0.0.1 serving the Telnyx carrier, wired to a `FakeTelnyx` network."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
from patter_telnyx import Telnyx
from patter_telnyx.plugin import CARRIER_SPEC
from patter_telnyx.testing import FakeTelnyx

from patter_core import Patter, Registry
from patter_core.records import CallResult
from patter_core.server import RunningServer, running
from patter_core.testing import KitEngine
from patter_core.testing.kit_engine import KitEnginePlugin

PUBLIC_URL = "https://agent.example.test"
ENV = ("TELNYX_API_KEY", "TELNYX_PUBLIC_KEY", "TELNYX_CONNECTION_ID", "PATTER_PUBLIC_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see credentials from the outer shell."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@attrs.define
class Rig:
    """A fake Telnyx network, our server on the Telnyx carrier, and the kit's scripted engine."""

    fake: FakeTelnyx
    server: RunningServer
    carrier: Telnyx
    engine: KitEngine
    ended: list[CallResult]
    statuses: dict[str, list[tuple[str, dict[str, str]]]]

    async def wait_ended(self, count: int = 1) -> list[CallResult]:
        async with asyncio.timeout(15):  # a hang guard, not a timing assertion
            while len(self.ended) < count:
                await asyncio.sleep(0.01)
        return self.ended

    async def wait_for(self, condition: Callable[[], object]) -> None:
        async with asyncio.timeout(15):
            while not condition():
                await asyncio.sleep(0.01)


@pytest.fixture
def make_rig() -> Callable[..., contextlib.AbstractAsyncContextManager[Rig]]:
    """``async with make_rig(speak_ms=..., **carrier_options) as rig``."""

    @contextlib.asynccontextmanager
    async def rig(*, speak_ms: int = 0, **options: Any) -> AsyncIterator[Rig]:
        async with FakeTelnyx() as fake:
            carrier = Telnyx(**{**fake.carrier_options(), **options})
            registry = Registry(plugins=[KitEnginePlugin(CARRIER_SPEC.audio_format)])
            phone = Patter(carrier=carrier, registry=registry, call_log=False)
            engine = KitEngine(speak_ms=speak_ms)
            ended: list[CallResult] = []
            agent = phone.agent(engine=engine, on_call_end=ended.append)
            async with running(phone, agent, public_url=PUBLIC_URL) as server:
                fake.attach(server.base_url)
                statuses = server.server.directory.statuses
                yield Rig(fake, server, carrier, engine, ended, statuses)

    return rig
