"""Shared fixtures: a validating fake server and helpers to read a session's events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
from patter_openai_realtime import OpenAIRealtimeAdapter, OpenAIRealtimeSession
from patter_openai_realtime.plugin import ENGINE_SPEC
from patter_openai_realtime.testing import FakeRealtimeServer

from patter_core.engine import EngineEvent, SessionConfig, ToolSchema
from patter_core.specs import PCMU_8K, AudioFormat

T = TypeVar("T")
LIMIT_S = 5.0  # only a guard against hangs; no test asserts a duration

LOOKUP = ToolSchema(
    "lookup_order",
    "Look up an order by its number.",
    {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
)


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    """A fake that validates every client event; a test fails if any was invalid."""
    async with FakeRealtimeServer(validate=True) as fake:
        yield fake
        fake.assert_clean()


def config(
    model: str = "gpt-realtime-mini",
    *,
    tools: tuple[ToolSchema, ...] = (),
    instructions: str = "You are a test agent.",
    audio_format: AudioFormat = PCMU_8K,
) -> SessionConfig:
    spec = ENGINE_SPEC.model(model)
    assert spec is not None
    return SessionConfig(
        instructions=instructions,
        audio_format=audio_format,
        tools=tools,  # type: ignore[arg-type]
        model=spec,
    )


def make_adapter(server: FakeRealtimeServer, **options: Any) -> OpenAIRealtimeAdapter:
    options.setdefault("api_key", server.api_key)
    options.setdefault("base_url", server.url)
    options.setdefault("setup_timeout_s", LIMIT_S)
    return OpenAIRealtimeAdapter(**options)


async def open_session(
    server: FakeRealtimeServer, cfg: SessionConfig | None = None, **options: Any
) -> OpenAIRealtimeSession:
    session = await make_adapter(server, **options).connect(
        cfg or config(options.get("model", "gpt-realtime-mini"))
    )
    assert isinstance(session, OpenAIRealtimeSession)
    return session


class Reader:
    """Pumps a session's events in the background so a test can wait for the ones it needs."""

    def __init__(self, session: OpenAIRealtimeSession) -> None:
        self.session = session
        self.seen: list[EngineEvent] = []
        self._pos = 0
        self._changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            async for event in self.session.events():
                self.seen.append(event)
                self._wake()
        finally:
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def next(self, kind: type[T], where: Callable[[T], bool] | None = None) -> T:
        """The next unread event of ``kind`` matching ``where``; earlier unread ones are passed."""

        async def find() -> T:
            while True:
                while self._pos < len(self.seen):
                    event = self.seen[self._pos]
                    self._pos += 1
                    if isinstance(event, kind) and (where is None or where(event)):
                        return event
                if self.task.done():
                    raise AssertionError(f"events ended without a {kind.__name__}: {self.seen}")
                await self._changed.wait()

        return await asyncio.wait_for(find(), LIMIT_S)

    async def until(self, kind: type[T]) -> list[EngineEvent]:
        """Every unread event up to and including the next ``kind``."""
        start = self._pos
        await self.next(kind)
        return self.seen[start : self._pos]

    async def finished(self) -> None:
        await asyncio.wait_for(self.task, LIMIT_S)


def without_id(event: dict[str, Any]) -> dict[str, Any]:
    """A client event minus its ``event_id`` (asserted separately: a string)."""
    assert isinstance(event.get("event_id"), str)
    return {k: v for k, v in event.items() if k != "event_id"}
