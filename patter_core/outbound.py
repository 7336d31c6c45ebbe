"""Outbound calls: dial through the carrier, follow its status callbacks, report the outcome.

An answered outbound call runs through exactly the same webhook → media stream → call
session path as an inbound one; only the agent and first message may differ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from .callbacks import fire
from .records import CallResult

if TYPE_CHECKING:
    from .app import Agent
    from .call import CallSession

log = logging.getLogger("patter.outbound")

Outcome = Literal["answered", "voicemail", "no-answer", "busy", "failed", "canceled"]
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


@frozen
class CallOutcome:
    """How an outbound call went; ``result`` is set when it was answered and streamed."""

    call_id: str
    to: str
    outcome: Outcome
    answered_by: str
    statuses: tuple[str, ...]
    duration_s: float
    result: CallResult | None


class OutboundCall:
    """A dialled call: its status as callbacks arrive, and `wait()` for the outcome."""

    def __init__(
        self,
        call_id: str,
        to: str,
        agent: Agent,
        *,
        first_message: str | None = None,
        voicemail_message: str | None = None,
        on_machine: Callable[..., Any] | None = None,
    ) -> None:
        self.call_id = call_id
        self.to = to
        self.agent = agent
        self.first_message = first_message
        self.voicemail_message = voicemail_message
        self.on_machine = on_machine
        self.statuses: list[str] = []
        self.answered_by = ""
        self.duration_s = 0.0
        self.session: CallSession | None = None
        self.result: CallResult | None = None
        self._final = asyncio.Event()
        self._session_done = asyncio.Event()

    def __repr__(self) -> str:
        return f"OutboundCall({self.call_id!r}, to={self.to!r}, statuses={self.statuses})"

    @property
    def status(self) -> str:
        return self.statuses[-1] if self.statuses else "queued"

    async def report(self, status: str, details: Mapping[str, str]) -> None:
        """Take one status callback from the carrier."""
        answered_by = details.get("AnsweredBy", "")
        if answered_by and not self.answered_by:
            self.answered_by = answered_by
            if answered_by in MACHINE:
                await self._machine()
        if status and status not in ("amd", *self.statuses[-1:]):
            self.statuses.append(status)
        if details.get("CallDuration", "").isdigit():
            self.duration_s = float(details["CallDuration"])
        if status in FINAL_STATUSES:
            self._final.set()
            if self.session is None:  # never streamed: nothing else will end it
                self._session_done.set()

    async def _machine(self) -> None:
        await fire(self.on_machine, self, what="on_machine")
        session = self.session
        if session is None:
            return
        if self.voicemail_message:
            await session.leave_voicemail(self.voicemail_message)
        else:
            await session.hang_up("answered by a machine")

    def attach(self, session: CallSession) -> None:
        """The media stream of this call has started."""
        self.session = session

    def finished(self, result: CallResult) -> None:
        """The call session has ended."""
        self.result = result
        self._session_done.set()

    async def wait(self, timeout_s: float | None = None) -> CallOutcome:
        """Wait until the carrier reports the call over (and its session, if any, ended)."""
        async with asyncio.timeout(timeout_s):
            await self._final.wait()
            await self._session_done.wait()
        return CallOutcome(
            call_id=self.call_id,
            to=self.to,
            outcome=self._outcome(),
            answered_by=self.answered_by,
            statuses=tuple(self.statuses),
            duration_s=self.duration_s or (self.result.duration_s if self.result else 0.0),
            result=self.result,
        )

    def _outcome(self) -> Outcome:
        final = self.status
        if final in ("busy", "no-answer", "failed", "canceled"):
            return final  # type: ignore[return-value]
        if self.answered_by in MACHINE:
            return "voicemail"
        if "in-progress" in self.statuses or "answered" in self.statuses or self.result:
            return "answered"
        return "no-answer"
