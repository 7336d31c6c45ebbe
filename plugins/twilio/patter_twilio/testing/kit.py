"""The carrier test kit the core finds through ``CarrierSpec.test_kit`` (demo, conformance)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from patter_core import simulation

from . import script
from .simulator import TwilioCallSimulator


class TwilioCaller:
    """A `TwilioCallSimulator` behind the core's vendor-neutral `CallerSimulator` protocol."""

    def __init__(self, simulator: TwilioCallSimulator) -> None:
        self.simulator = simulator

    async def call(self, steps: Sequence[simulation.CallerStep]) -> simulation.CallerReport:
        recording = await self.simulator.call([_step(s) for s in steps])
        return simulation.CallerReport(
            heard_ms=recording.heard_ms,
            clears=len(recording.clears),
            ended_by=recording.ended_by,
        )


def _step(step: simulation.CallerStep) -> script.ScriptItem:
    if isinstance(step, simulation.Speech):
        return script.Speech(ms=step.ms)
    if isinstance(step, simulation.Silence):
        return script.Silence(ms=step.ms)
    if isinstance(step, simulation.Dtmf):
        return script.Dtmf(step.digit)
    if isinstance(step, simulation.WaitForAgent):
        return script.WaitForAgent(timeout_ms=step.timeout_ms)
    return script.Hangup()


class TwilioTestKit:
    """Signs like Twilio with a throwaway auth token and dials through the real protocol."""

    def __init__(self) -> None:
        self.auth_token = secrets.token_hex(16)

    def carrier_options(self) -> dict[str, Any]:
        return {"account_sid": "AC" + "0" * 32, "auth_token": self.auth_token}

    @contextlib.asynccontextmanager
    async def simulator(self, base_url: str, public_url: str) -> AsyncIterator[TwilioCaller]:
        async with TwilioCallSimulator(
            base_url, self.auth_token, public_url=public_url
        ) as simulator:
            yield TwilioCaller(simulator)


KIT = TwilioTestKit()
