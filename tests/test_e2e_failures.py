"""An engine that never answers the session set-up: the call ends cleanly, the server carries on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import API_KEY
from patter_openai_realtime.testing import FakeRealtimeServer, Say
from patter_twilio.testing import Hangup, Silence, WaitForAgent


async def test_an_engine_that_never_confirms_the_session_ends_the_call_not_the_server(
    make_rig: Callable[..., Any],
) -> None:
    fake = FakeRealtimeServer(api_key=API_KEY, send_session_updated=False)
    async with make_rig(fake=fake, first_message="Hello.", setup_timeout_s=0.5) as rig:
        silent = await rig.sim.call([Silence(ms=3000)])
        [ended] = await rig.wait_ended()
        # The engine comes back to its senses; the very next call works.
        fake.send_session_updated = True
        fake.reply(Say("Hello."))
        second = await rig.sim.call([WaitForAgent(), Hangup()])
        await rig.wait_ended(2)
    assert ended.end_reason.startswith("engine session could not be set up")
    assert "session.update" in ended.end_reason
    assert silent.ended_by == "server_closed"
    assert second.heard_ms > 0
