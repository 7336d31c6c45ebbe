"""Running the model's tool calls as tasks, so the engine socket is always being read."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .engine import ToolCall
from .tools import Tool

log = logging.getLogger("patter.tools")

SendResult = Callable[[str, str], Awaitable[None]]


def _error(message: str) -> str:
    return json.dumps({"error": message})


class ToolRunner:
    """Starts one task per tool call and sends every outcome (errors included) back."""

    def __init__(self, tools: Sequence[Tool], send_result: SendResult) -> None:
        self._tools = {t.name: t for t in tools}
        self._send_result = send_result
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, call: ToolCall, context: dict[str, Any]) -> None:
        task = asyncio.create_task(self._run(call, context), name=f"tool:{call.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, call: ToolCall, context: dict[str, Any]) -> None:
        output = await self.output_for(call, context)
        try:
            await self._send_result(call.call_id, output)
        except Exception:
            log.exception("could not send the result of tool %r back to the engine", call.name)

    async def output_for(self, call: ToolCall, context: dict[str, Any]) -> str:
        """The text the model gets back for ``call``: the tool's result or an error."""
        if call.error:
            return _error(f"the arguments for {call.name!r} were not valid JSON: {call.error}")
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return _error(f"there is no tool named {call.name!r}; available tools: {known}")
        if tool.handler is None:
            return _error(f"tool {call.name!r} has no handler")
        try:
            result = await asyncio.wait_for(
                _invoke(tool.handler, dict(call.arguments), context), tool.timeout_s
            )
        except TimeoutError:
            log.warning("tool %r timed out after %s s", call.name, tool.timeout_s)
            return _error(f"tool {call.name!r} did not finish within {tool.timeout_s} s")
        except Exception as exc:
            log.warning("tool %r raised %s: %s", call.name, type(exc).__name__, exc)
            return _error(f"tool {call.name!r} failed: {type(exc).__name__}: {exc}")
        return result if isinstance(result, str) else json.dumps(result, default=str)


async def _invoke(
    handler: Callable[..., Any], arguments: dict[str, Any], context: dict[str, Any]
) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(arguments, context)
    # A blocking handler runs in a thread so the call's event loop keeps moving audio.
    result = await asyncio.to_thread(handler, arguments, context)
    if inspect.isawaitable(result):
        result = await result
    return result
