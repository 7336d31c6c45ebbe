"""The carrier test kit the core finds through ``CarrierSpec.test_kit`` (demo, conformance).

Telnyx answers calls through its REST API, so even an inbound simulated call needs the
fake API, and the carrier must know the fake's URL when it is built — before any async
code runs. `TelnyxTestKit.carrier_options` therefore binds the next `FakeTelnyx`'s socket
at once; `simulator` and `network` serve that same fake (sharing it when both are open).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from patter_core.simulation import Auth, CallerReport, CallerStep, NetworkCall

from .network import FakeTelnyx
from .signing import TestKeys
from .wire import TelnyxWire


class TelnyxCaller:
    """A `FakeTelnyx` behind the core's `ConformanceCaller` (and `CallerSimulator`)."""

    def __init__(self, fake: FakeTelnyx) -> None:
        self.fake = fake

    async def call(
        self,
        script: Sequence[CallerStep],
        *,
        webhook_auth: Auth = "valid",
        media_auth: Auth = "valid",
    ) -> CallerReport:
        """Place one call: the webhook, then the media stream, each signed as asked."""
        outcome = await self.fake.call(script, webhook_auth=webhook_auth, media_auth=media_auth)
        return outcome.caller_report()


class TelnyxNetwork:
    """A `FakeTelnyx` behind the core's `CarrierNetwork`."""

    def __init__(self, fake: FakeTelnyx) -> None:
        self.fake = fake

    def carrier_options(self) -> dict[str, Any]:
        return self.fake.carrier_options()

    def attach(self, base_url: str) -> None:
        self.fake.attach(base_url)

    async def ring(self, script: Sequence[CallerStep]) -> str:
        return await self.fake.ring(script)

    def answer_with(self, number: str, script: Sequence[CallerStep]) -> None:
        self.fake.answer_with(number, script)

    async def ended(self, call_id: str) -> NetworkCall:
        call, outcome = await self.fake.finished(call_id)
        answered = call.media_status == 101
        return NetworkCall(
            call_id=call_id,
            status="completed" if answered else outcome.ended_by.replace("_", "-"),
            answered=answered,
            transferred_to=call.transferred_to,
        )


class TelnyxTestKit:
    """Signs like Telnyx with a throwaway key pair and calls through the real protocols."""

    def __init__(self) -> None:
        self.keys = TestKeys()
        self.wire = TelnyxWire()
        self._fake: FakeTelnyx | None = None
        self._users = 0

    def _current(self) -> FakeTelnyx:
        if self._fake is None or self._fake.closed:
            self._fake = FakeTelnyx(keys=self.keys)
        return self._fake

    def carrier_options(self) -> dict[str, Any]:
        """Options for `Telnyx` that the next simulator or network satisfies."""
        return self._current().carrier_options()

    def close(self) -> None:
        """Release the socket of a fake that was prepared but never served."""
        if self._fake is not None and not self._fake.serving:
            self._fake.close()
            self._fake = None

    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[FakeTelnyx]:
        fake = self._current()
        if not fake.serving:
            await fake.start()
        self._users += 1
        try:
            yield fake
        finally:
            self._users -= 1
            if self._users == 0:
                self._fake = None
                await fake.stop()

    @contextlib.asynccontextmanager
    async def simulator(self, base_url: str, public_url: str) -> AsyncIterator[TelnyxCaller]:
        """A caller for the server at ``base_url`` (Telnyx needs no public URL to sign)."""
        async with self._serving() as fake:
            fake.attach(base_url)
            yield TelnyxCaller(fake)

    @contextlib.asynccontextmanager
    async def network(self, public_url: str) -> AsyncIterator[TelnyxNetwork]:
        """The fake Call Control API; `TelnyxNetwork.attach` says where the server is."""
        async with self._serving() as fake:
            yield TelnyxNetwork(fake)


KIT = TelnyxTestKit()
