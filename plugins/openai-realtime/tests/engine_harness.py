"""The OpenAI Realtime test kit behind the conformance kit's engine protocols.

`RealtimeDouble` already scripts the fake server; this adds `received()`, which reads the
client events the fake recorded back as the core's `DoubleInput` records, and turns on the
fake's validation of every client event against the ``openai`` package's types.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from patter_openai_realtime.testing import FakeRealtimeServer
from patter_openai_realtime.testing.kit import RealtimeDouble

from patter_core.simulation import (
    DoubleInput,
    ResponseRequested,
    ToolOutput,
    Truncated,
    UserText,
)


def _input(event: dict[str, Any]) -> DoubleInput | None:
    kind = event.get("type")
    if kind == "conversation.item.truncate":
        return Truncated(event["item_id"], event["audio_end_ms"])
    if kind == "conversation.item.delete":
        return Truncated(event["item_id"], 0)
    if kind == "response.create":
        return ResponseRequested((event.get("response") or {}).get("instructions"))
    item = event.get("item") or {}
    if kind == "conversation.item.create" and item.get("type") == "function_call_output":
        return ToolOutput(item["call_id"], item["output"])
    if kind == "conversation.item.create" and item.get("role") == "user":
        texts = [
            c.get("text", "") for c in item.get("content", []) if c.get("type") == "input_text"
        ]
        return UserText(" ".join(texts))
    return None


class RecordingRealtimeDouble(RealtimeDouble):
    """A `RealtimeDouble` that says what the adapter sent, in the core's terms."""

    def received(self) -> Sequence[DoubleInput]:
        found = (_input(event) for event in self.server.events)
        return [x for x in found if x is not None]


class RealtimeHarness:
    """A validating fake OpenAI Realtime service per double; any invalid client event fails."""

    @contextlib.asynccontextmanager
    async def double(self) -> AsyncIterator[RecordingRealtimeDouble]:
        async with FakeRealtimeServer(api_key="sk-conformance", validate=True) as server:
            yield RecordingRealtimeDouble(server)
            server.assert_clean()
