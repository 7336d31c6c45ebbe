"""Tools and call control in whole calls over real sockets.

A tool runs as its own task: while it works, caller audio keeps reaching the engine, the
engine socket keeps being read, and barge-in still clears and truncates.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from patter_openai_realtime.testing import CallTool, Say
from patter_twilio.testing import Hangup, Silence, Speech, WaitForAgent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from patter_core import Tool


def _outputs(rig: Any) -> list[dict[str, Any]]:
    """What the model got back for its tool calls, decoded, in order."""
    return [
        json.loads(e["item"]["output"])
        if e["item"]["output"].startswith("{")
        else e["item"]["output"]
        for e in rig.model.of_type("conversation.item.create")
        if e["item"]["type"] == "function_call_output"
    ]


async def test_a_slow_tool_blocks_neither_audio_nor_barge_in(
    make_rig: Callable[..., Any],
) -> None:
    ran: list[str] = []

    async def slow_lookup(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        ran.append("start")
        await asyncio.sleep(2.0)
        ran.append("end")
        return "found it"

    tool = Tool("slow_lookup", "A slow lookup.", handler=slow_lookup, timeout_s=10)
    preamble = "Let me look that up for you, this can take a little while, please hold on."
    async with make_rig(tools=(tool,)) as rig:
        rig.model.caller_says("Where is my parcel?", "Actually, never mind")
        rig.model.reply(Say(preamble), CallTool("slow_lookup"))
        rig.model.reply(Say("Okay."))
        await rig.sim.call(
            [
                Speech(ms=600),
                Silence(ms=700),  # the preamble plays while the tool runs...
                Silence(ms=800),
                Speech(ms=500),  # ...and the caller talks over it
                Silence(ms=2500),
                WaitForAgent(),
                Hangup(),
            ]
        )
        await rig.wait_ended()
    types = [e["type"] for e in rig.model.events]
    output_at = next(
        i
        for i, e in enumerate(rig.model.events)
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    )
    assert ran == ["start", "end"]
    # Barge-in was handled while the tool was still running: truncate came before its output.
    assert "conversation.item.truncate" in types[:output_at]
    # Audio kept flowing to the engine during the 2 s the tool ran (50 frames a second).
    appends_before_output = types[:output_at].count("input_audio_buffer.append")
    assert appends_before_output >= 100 + 50, appends_before_output
    assert _outputs(rig) == ["found it"]


async def test_raising_timing_out_and_unknown_tools_all_answer_the_model(
    make_rig: Callable[..., Any],
) -> None:
    def broken(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        raise ValueError("database offline")

    async def sluggish(arguments: dict[str, Any], context: dict[str, Any]) -> str:
        await asyncio.sleep(5)
        return "too late"

    tools = (
        Tool("broken", "Always fails.", handler=broken),
        Tool("sluggish", "Never in time.", handler=sluggish, timeout_s=0.3),
    )
    async with make_rig(tools=tools) as rig:
        rig.model.caller_says("Try the tools.")
        rig.model.reply(CallTool("broken", {}))
        rig.model.reply(CallTool("sluggish", {}))
        rig.model.reply(CallTool("no_such_tool", {"x": 1}))
        rig.model.reply(Say("Sorry, nothing worked."))
        await rig.sim.call([Speech(ms=600), Silence(ms=700), WaitForAgent(), Hangup()])
        [result] = await rig.wait_ended()
    broken_out, sluggish_out, unknown_out = _outputs(rig)
    assert "ValueError: database offline" in broken_out["error"]
    assert "did not finish within 0.3 s" in sluggish_out["error"]
    assert "no tool named 'no_such_tool'" in unknown_out["error"]
    assert "broken, sluggish" in unknown_out["error"]  # the model is told what exists
    assert ("agent", "Sorry, nothing worked.") in [(e.role, e.text) for e in result.transcript]


@pytest.fixture
async def flaky_webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A tool webhook on 127.0.0.1 that fails with 503 once, then answers."""
    from patter_twilio.testing import serve_app

    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        if len(received) == 1:
            return Response("busy", status_code=503)
        return JSONResponse({"balance": "12.50"})

    async with serve_app(Starlette(routes=[Route("/balance", hook, methods=["POST"])])) as base:
        yield f"{base}/balance", received


async def test_a_webhook_tool_is_retried_after_a_5xx(
    make_rig: Callable[..., Any], flaky_webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = flaky_webhook
    tool = Tool(
        "balance",
        "The caller's balance.",
        parameters={"type": "object", "properties": {"account": {"type": "string"}}},
        webhook_url=url,
        allow_private_network=True,  # the test server is on loopback
        timeout_s=5,
    )
    async with make_rig(tools=(tool,)) as rig:
        rig.model.caller_says("What's my balance?")
        rig.model.reply(CallTool("balance", {"account": "A-1"}))
        rig.model.reply(Say("Your balance is twelve fifty."))
        await rig.sim.call([Speech(ms=600), Silence(ms=700), WaitForAgent(), Hangup()])
        await rig.wait_ended()
    assert [r["attempt"] for r in received] == [1, 2]
    assert received[1]["tool"] == "balance" and received[1]["arguments"] == {"account": "A-1"}
    assert received[1]["caller"] == "+15551230000"
    assert _outputs(rig) == [{"balance": "12.50"}]


async def test_a_webhook_tool_on_a_private_address_is_refused_without_opt_in(
    make_rig: Callable[..., Any], flaky_webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = flaky_webhook
    tool = Tool("balance", "The caller's balance.", webhook_url=url)
    async with make_rig(tools=(tool,)) as rig:
        rig.model.caller_says("What's my balance?")
        rig.model.reply(CallTool("balance", {}))
        rig.model.reply(Say("I can't see it right now."))
        await rig.sim.call([Speech(ms=600), Silence(ms=700), WaitForAgent(), Hangup()])
        await rig.wait_ended()
    assert received == []
    [output] = _outputs(rig)
    assert "private" in output["error"] or "loopback" in output["error"]


async def test_end_call_hangs_up_only_after_the_goodbye_has_played(
    make_rig: Callable[..., Any],
) -> None:
    goodbye = "Thanks for calling, have a wonderful day. Goodbye!"
    async with make_rig(agent_options={"end_call": True}) as rig:
        rig.model.caller_says("That's all, bye.")
        rig.model.reply(Say(goodbye), CallTool("end_call"))
        recording = await rig.sim.call([Speech(ms=600), Silence(ms=700), Silence(ms=8000)])
        [result] = await rig.wait_ended()
    update = rig.model.of_type("session.update")[0]
    end_call = next(t for t in update["session"]["tools"] if t["name"] == "end_call")
    assert "silent" in end_call["description"] and "Never" in end_call["description"]
    assert recording.ended_by == "server_closed"
    assert result.end_reason == "agent ended the call"
    goodbye_ms = len(goodbye) * 40  # the fake speaks 40 ms per character
    assert recording.heard_ms >= goodbye_ms - 20  # all of it, not cut short
    last_mark = max(m.echoed_ms for m in recording.marks if not m.flushed)
    assert recording.duration_ms >= last_mark  # the line closed after the last mark's echo
    assert _outputs(rig) == []  # ending needs no reply from the model


async def test_end_call_is_not_offered_unless_enabled(make_rig: Callable[..., Any]) -> None:
    async with make_rig() as rig:
        await rig.sim.call([Silence(ms=300), Hangup()])
        await rig.wait_ended()
    update = rig.model.of_type("session.update")[0]
    assert [t["name"] for t in update["session"].get("tools", [])] == []
