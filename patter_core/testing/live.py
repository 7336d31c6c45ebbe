"""Live conformance calls: a real server on 127.0.0.1, the kit engine, the plugin's caller."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from attrs import define, frozen

from ..app import Agent, Patter
from ..records import CallResult
from ..registry import Registered, Registry
from ..server import RunningServer, running
from ..simulation import CarrierHarness, CarrierNetwork, ConformanceCaller, NetworkHarness
from ..specs import CarrierSpec
from .kit_engine import KitEngine, KitEnginePlugin, KitSession
from .report import fail

PUBLIC_URL = "https://conformance.patter.invalid"
#: Only a guard against a hung test: nothing is asserted about how long anything takes.
HANG_GUARD_S = 30.0
HANG_GUARD_ENV = "PATTER_KIT_HANG_GUARD_S"


def hang_guard_s() -> float:
    """The hang guard: ``$PATTER_KIT_HANG_GUARD_S`` seconds, else 30."""
    return float(os.environ.get(HANG_GUARD_ENV, HANG_GUARD_S))


T = TypeVar("T")


@frozen
class CarrierUnderTest:
    """The carrier a plugin's kit run checks: its name, distribution and (optional) harness.

    Without ``harness`` the kit loads the one named by ``CarrierSpec.test_kit``.
    """

    name: str
    distribution: str
    harness: CarrierHarness | None = None


async def eventually(check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` until it returns something; fail saying ``what`` never happened."""
    guard_s = hang_guard_s()
    try:
        async with asyncio.timeout(guard_s):
            while (found := check()) is None:
                await asyncio.sleep(0.01)
            return found
    except TimeoutError:
        fail(f"{what} (gave up after {guard_s:.0f} s; this is a hang guard, not a timing test)")


async def guarded(awaitable: Awaitable[T], what: str) -> T:
    """Await under the hang guard, failing with ``what`` if it never finishes."""
    guard_s = hang_guard_s()
    try:
        async with asyncio.timeout(guard_s):
            return await awaitable
    except TimeoutError:
        fail(f"{what} never finished (gave up after {guard_s:.0f} s; hang guard only)")


@define
class CarrierRig:
    """One running server for the carrier under test, its simulated caller and the kit engine."""

    server: RunningServer
    caller: ConformanceCaller
    engine: KitEngine
    registered: Registered[CarrierSpec]
    carrier: Any
    ended: list[CallResult]
    phone: Patter
    agent: Agent
    network: CarrierNetwork | None = None

    @property
    def spec(self) -> CarrierSpec:
        return self.registered.item

    async def idle(self) -> None:
        """Wait until the server has no call in progress."""
        await eventually(
            lambda: True if not self.server.server.calls else None,
            "the server never finished the call in progress",
        )

    async def call_ended(self, call_id: str) -> CallResult:
        """The result of the call ``call_id`` once the core has ended it."""
        return await eventually(
            lambda: next((r for r in self.ended if r.call and r.call.call_id == call_id), None),
            f"the core never ended call {call_id!r} (no on_call_end with that call id)",
        )

    async def session_for(self, call_id: str) -> KitSession:
        """The kit engine session of the call ``call_id`` once the core has opened it."""
        return await eventually(
            lambda: self.engine.session_for(call_id),
            f"the core never opened an engine session for call {call_id!r}",
        )

    def started_calls(self) -> list[CallResult]:
        """Server-side results of streams that became calls (a valid call token was claimed)."""
        return [r for r in self.server.results if r.call is not None]


@contextlib.asynccontextmanager
async def carrier_rig(
    registered: Registered[CarrierSpec],
    harness: CarrierHarness,
    *,
    speak_ms: int = 0,
    network: NetworkHarness | None = None,
) -> AsyncIterator[CarrierRig]:
    """Serve the carrier with the kit engine and dial it through the plugin's simulator.

    With ``network``, its fake call-control API starts first and the carrier points at it.
    """
    spec = registered.item
    registry = Registry(plugins=[KitEnginePlugin(spec.audio_format)])
    engine = KitEngine(speak_ms=speak_ms)
    ended: list[CallResult] = []
    options = dict(harness.carrier_options())
    async with contextlib.AsyncExitStack() as stack:
        net: CarrierNetwork | None = None
        if network is not None:
            net = await stack.enter_async_context(network.network(PUBLIC_URL))
            options.update(net.carrier_options())
        carrier = spec.factory(**options)
        phone = Patter(carrier=carrier, registry=registry, call_log=False)
        agent = phone.agent(engine=engine, on_call_end=ended.append)
        server = await stack.enter_async_context(running(phone, agent, public_url=PUBLIC_URL))
        if net is not None:
            net.attach(server.base_url)
        caller = await stack.enter_async_context(harness.simulator(server.base_url, PUBLIC_URL))
        yield CarrierRig(server, caller, engine, registered, carrier, ended, phone, agent, net)
