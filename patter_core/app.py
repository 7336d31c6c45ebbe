"""`Patter`, the entry point: a carrier and a number, agents, and serving calls."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from .callcontrol import BUILTIN_NAMES, END_CALL, TRANSFER_CALL
from .calllog import CallLog
from .capabilities import require
from .carrier import Carrier
from .compat import AgentPlan, check_agent
from .engine import Engine, ToolSchema
from .errors import CapabilityError, ConfigError
from .pricing import Pricing
from .registry import Registry
from .tools import Tool

if TYPE_CHECKING:
    from .server import PatterServer

Callback = Callable[..., Any]


@frozen
class Agent:
    """A checked agent: engine, prompt, tools and callbacks, ready to take calls."""

    engine: Engine
    plan: AgentPlan
    phone: Patter = field(eq=False, repr=False)
    system_prompt: str = ""
    first_message: str = ""
    tools: tuple[Tool, ...] = ()
    on_call_start: Callback | None = None
    on_transcript: Callback | None = None
    on_call_end: Callback | None = None
    on_metrics: Callback | None = None
    end_call: bool = False
    transfer_call: bool = False

    @property
    def tool_schemas(self) -> tuple[ToolSchema, ...]:
        """What the model is offered: the agent's tools plus the enabled call-control tools."""
        builtin = (END_CALL,) * self.end_call + (TRANSFER_CALL,) * self.transfer_call
        return tuple(t.schema for t in self.tools) + builtin

    @property
    def instructions(self) -> str:
        """The agent's ``system_prompt`` when given, else the engine's own instructions."""
        return self.system_prompt or str(getattr(self.engine, "instructions", "") or "")


class Patter:
    """A phone number on a carrier, able to build agents and serve their calls.

    ``pricing`` overrides entries of the registered price tables, e.g.
    ``{"twilio": {"models": {"inbound": {"per_minute": "0.007"}}}}``. Finished calls are
    appended to a JSON-lines log under ``call_log`` (a directory; ``True`` means
    ``$PATTER_CALL_LOG_DIR`` or ``./patter-calls``; ``False`` turns the log off).
    """

    def __init__(
        self,
        carrier: Carrier | None = None,
        phone_number: str = "",
        *,
        pricing: Mapping[str, Any] | None = None,
        registry: Registry | None = None,
        call_log: str | os.PathLike[str] | bool = True,
    ) -> None:
        self.carrier = carrier
        self.phone_number = phone_number
        self._servers: list[PatterServer] = []
        self.call_log: CallLog | None = None
        if call_log is not False:
            self.call_log = CallLog(None if call_log is True else call_log)
        self.registry = registry if registry is not None else Registry()
        base = self.registry.pricing()
        self.pricing: Pricing = base.with_overrides(pricing) if pricing else base
        if carrier is not None:
            self.registry.carrier(carrier.carrier_name)

    async def serve(
        self,
        agent: Agent,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        public_url: str = "",
        grace_s: float = 30.0,
    ) -> None:
        """Serve ``agent``'s calls until SIGINT/SIGTERM; live calls get ``grace_s`` to finish."""
        from .server import serve

        await serve(self, agent, host=host, port=port, public_url=public_url, grace_s=grace_s)

    async def call(
        self,
        to: str,
        *,
        agent: Agent,
        first_message: str | None = None,
        machine_detection: bool = False,
        ring_timeout: int = 30,
        time_limit: int | None = None,
        voicemail_message: str | None = None,
        on_machine: Callback | None = None,
        wait: bool = False,
        from_: str = "",
    ) -> Any:
        """Call ``to`` (E.164) with ``agent``; needs this phone's server running to take the answer.

        Returns the `OutboundCall`, or with ``wait=True`` its `CallOutcome` (answered,
        voicemail, no-answer, busy, failed; duration, transcript, cost).
        """
        from .errors import CallSetupError

        live = [s for s in self._servers if s.accepting]
        if not live:
            raise CallSetupError(
                "outbound calls need this phone's server running (phone.serve(...) or "
                "patter_core.server.running(...)): the carrier calls back when the call is answered"
            )
        outbound = await live[-1].place_call(
            to,
            agent,
            from_=from_ or self.phone_number,
            first_message=first_message,
            machine_detection=machine_detection,
            ring_timeout_s=ring_timeout,
            time_limit_s=time_limit,
            voicemail_message=voicemail_message,
            on_machine=on_machine,
        )
        return await outbound.wait() if wait else outbound

    def asgi_app(self, agent: Agent, *, public_url: str = "") -> Any:
        """A Starlette app serving ``agent``, to run with any ASGI server or mount in your app."""
        from .server import build_app

        return build_app(self, agent, public_url=public_url)

    def check(self, engine: Engine, *, tools: Sequence[Tool] = ()) -> AgentPlan:
        """Run every compatibility check for ``engine`` with this carrier, without an agent."""
        return check_agent(
            self.registry,
            engine,
            carrier_name=self.carrier.carrier_name if self.carrier is not None else None,
            tool_names=[t.name for t in tools],
        )

    def agent(
        self,
        engine: Engine,
        *,
        system_prompt: str = "",
        first_message: str = "",
        tools: Sequence[Tool] = (),
        on_call_start: Callback | None = None,
        on_transcript: Callback | None = None,
        on_call_end: Callback | None = None,
        on_metrics: Callback | None = None,
        end_call: bool = False,
        transfer_call: bool = False,
    ) -> Agent:
        """Build an agent, running the compatibility checks now rather than mid-call.

        ``end_call`` / ``transfer_call`` offer the model the built-in call-control tools.
        """
        names = [t.name for t in tools]
        taken = sorted(set(names) & set(BUILTIN_NAMES))
        if taken and (end_call or transfer_call):
            raise ConfigError(
                f"tool name(s) {taken} are reserved for the built-in call-control tools; "
                "rename yours or turn the built-in off"
            )
        if transfer_call:
            self._require_carrier_capability("transfer", "transfer_call=True")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(
                f"tool name(s) {repeated} used more than once; tool names must be unique"
            )
        plan = self.check(engine, tools=tools)
        return Agent(
            engine=engine,
            plan=plan,
            phone=self,
            system_prompt=system_prompt,
            first_message=first_message,
            tools=tuple(tools),
            on_call_start=on_call_start,
            on_transcript=on_transcript,
            on_call_end=on_call_end,
            on_metrics=on_metrics,
            end_call=end_call,
            transfer_call=transfer_call,
        )

    def _require_carrier_capability(self, capability: str, wanted_by: str) -> None:
        if self.carrier is None:
            raise ConfigError(f"{wanted_by} needs Patter(carrier=...)")
        registered = self.registry.carrier(self.carrier.carrier_name)
        try:
            require(registered.item, capability, source=registered.source)
        except CapabilityError as exc:
            raise CapabilityError(f"{wanted_by}: {exc}") from None
