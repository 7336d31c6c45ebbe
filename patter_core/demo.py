"""`patter demo`: one complete simulated phone call on 127.0.0.1, no keys needed.

The engine and carrier come from the installed plugins; their local test kits (a fake of
the engine's service, a simulated caller) stand in for OpenAI and Twilio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .app import Patter
from .records import CallResult, TranscriptEntry
from .registry import Registry
from .simulation import (
    CallerSimulator,
    CallTool,
    CarrierTestKit,
    EngineDouble,
    EngineTestKit,
    Hangup,
    Say,
    Silence,
    Speech,
    WaitForAgent,
    load_test_kit,
)
from .tools import tool

PUBLIC_URL = "https://demo.patter.invalid"
GREETING = "Hi, thanks for calling Bella's Bakery! How can I help?"
CLOSING_TIME = (
    "We close at six tonight. On Saturdays we stay open until eight, and fresh bread "
    "comes out of the oven every hour until closing, so there is always something warm."
)
CALLER_TURNS = (
    "What time do you close today?",
    "Sorry, is my order ready? It's number forty-two.",
    "Great, thanks, bye!",
)
CALLER_SCRIPT = (
    WaitForAgent(),  # the greeting
    Speech(ms=900),
    Silence(ms=800),  # end of turn: the agent answers at length...
    Silence(ms=1800),
    Speech(ms=1200),  # ...and the caller talks over it (barge-in)
    Silence(ms=800),
    WaitForAgent(),  # tool call, then the answer
    Speech(ms=700),
    Silence(ms=800),
    WaitForAgent(),
    Hangup(),
)


def _script_agent(double: EngineDouble) -> None:
    double.caller_says(*CALLER_TURNS)
    double.reply(Say(GREETING))
    double.reply(Say(CLOSING_TIME))
    double.reply(CallTool("check_order", {"order_id": "42"}))
    double.reply(Say("Good news: order forty-two is ready for pickup at the front counter."))
    double.reply(Say("You're welcome. See you soon, goodbye!"))


def _pick(names: list[str], wanted: str | None, what: str) -> str:
    if wanted is not None:
        return wanted
    if not names:
        raise SystemExit(
            f"no installed {what} plugin offers a local test kit; install e.g. "
            "patter-openai-realtime[testing] and patter-twilio[testing]"
        )
    return names[0]


async def run_demo(
    *,
    engine: str | None = None,
    carrier: str | None = None,
    echo: Callable[[str], Any] = print,
    registry: Registry | None = None,
) -> CallResult:
    """Play the scripted bakery call and return its result, printing as it goes."""
    registry = registry or Registry()
    engine_name = _pick(
        [n for n, r in registry.engines.items() if r.item.test_kit], engine, "engine"
    )
    carrier_name = _pick(
        [n for n, r in registry.carriers.items() if r.item.test_kit], carrier, "carrier"
    )
    engine_spec, engine_source = (
        registry.engine(engine_name).item,
        registry.engine(engine_name).source,
    )
    carrier_spec = registry.carrier(carrier_name).item
    engine_kit: EngineTestKit = load_test_kit(engine_spec.test_kit, owner=str(engine_source))
    carrier_kit: CarrierTestKit = load_test_kit(
        carrier_spec.test_kit, owner=str(registry.carrier(carrier_name).source)
    )
    t0 = time.monotonic()

    def say(line: str) -> None:
        echo(f"[{time.monotonic() - t0:5.1f}s] {line}")

    def on_transcript(entry: TranscriptEntry) -> None:
        if entry.interrupted:
            say("caller talks over the agent: playback cleared, the model told what was heard")
        elif entry.final:
            say(f"{'caller' if entry.role == 'user' else 'agent '}: {entry.text}")

    @tool
    async def check_order(order_id: str) -> dict[str, str]:
        """Look up whether a bakery order is ready for pickup.

        Args:
            order_id: The order number the caller gives.
        """
        say(f"tool   : check_order(order_id={order_id!r}) runs in its own task")
        return {"order_id": order_id, "status": "ready for pickup"}

    ended: list[CallResult] = []
    async with engine_kit.double() as double:
        _script_agent(double)
        phone = Patter(
            carrier=carrier_spec.factory(**carrier_kit.carrier_options()), registry=registry
        )
        agent = phone.agent(
            engine=engine_spec.factory(**double.engine_options()),
            system_prompt="You are the friendly front desk of Bella's Bakery.",
            first_message=GREETING,
            tools=[check_order],
            on_transcript=on_transcript,
            on_call_end=ended.append,
        )
        from .server import running

        say(f"engine {engine_name} ({agent.plan.model.name}) and carrier {carrier_name}, simulated")
        async with running(phone, agent, public_url=PUBLIC_URL) as server:
            simulator: CallerSimulator
            async with carrier_kit.simulator(server.base_url, PUBLIC_URL) as simulator:
                say(f"caller dials {server.base_url} (as {PUBLIC_URL})")
                report = await simulator.call(CALLER_SCRIPT)
            async with asyncio.timeout(10):
                while not ended:
                    await asyncio.sleep(0.01)
    result = ended[0]
    heard = report.heard_ms / 1000
    say(f"call ended: {result.end_reason}; the caller heard {heard:.1f} s of agent audio")
    _summary(result, echo)
    if phone.call_log is not None:
        echo("")
        echo(f"Logged to {phone.call_log.directory}/ (see `patter calls`).")
    return result


def _money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.000001'))}"


def _summary(result: CallResult, echo: Callable[[str], Any]) -> None:
    echo("")
    echo("Transcript")
    for entry in result.transcript:
        if entry.final:
            cut = "  [interrupted by the caller]" if entry.interrupted else ""
            echo(f"  {entry.role:>5}: {entry.text}{cut}")
    metrics = result.metrics
    if metrics is not None:
        echo("")
        echo("Turns")
        for turn in metrics.turns:
            latency = f"{turn.latency_ms:.0f} ms" if turn.latency_ms is not None else "-"
            echo(
                f"  #{turn.index}  reply latency {latency:>7}  cost {_money(turn.cost)}"
                + ("  (barged in)" if turn.interrupted else "")
            )
    if result.cost is not None:
        cost = result.cost
        echo("")
        echo(f"Cost of this {result.duration_s:.1f} s call ({cost.currency})")
        echo(f"  engine        {_money(cost.engine)}")
        echo(f"  transcription {_money(cost.transcription)}")
        echo(f"  carrier       {_money(cost.carrier)}")
        echo(f"  total         {_money(cost.total)}")
