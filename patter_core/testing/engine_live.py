"""Live engine sessions for the kit: the plugin's double, its engine, and a background reader."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from attrs import define

from .. import engine as ev
from ..registry import Registered
from ..simulation import DoubleInput, EngineHarness, RecordingEngineDouble
from ..specs import PCMU_8K, EngineSpec, ModelSpec
from .audio import bytes_per_ms, silence, tone
from .live import eventually, hang_guard_s
from .report import check, fail

T = TypeVar("T")

LOOKUP = ev.ToolSchema(
    "lookup_order",
    "Look up an order by its number.",
    {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
)


class EventReader:
    """Reads a session's events in the background so a test can wait for the ones it needs."""

    def __init__(self, session: ev.EngineSession) -> None:
        self.session = session
        self.seen: list[ev.EngineEvent] = []
        self.error: BaseException | None = None
        self._pos = 0
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            async for event in self.session.events():
                self.seen.append(event)
        except Exception as exc:
            self.error = exc

    async def next(
        self, kind: type[T], where: Callable[[T], bool] | None = None, *, what: str = ""
    ) -> T:
        """The next unread event of ``kind`` (matching ``where``); earlier ones are passed over."""

        def find() -> T | None:
            while self._pos < len(self.seen):
                event = self.seen[self._pos]
                self._pos += 1
                if isinstance(event, kind) and (where is None or where(event)):
                    return event
            if self.task.done():
                fail(
                    f"the session's events ended without {what or kind.__name__}"
                    + (f"; events() raised {self.error!r}" if self.error else "")
                    + f"; events so far: {self.seen}"
                )
            return None

        return await eventually(find, f"the engine never produced {what or kind.__name__}")

    async def until(self, kind: type[T], *, what: str = "") -> list[ev.EngineEvent]:
        """Every unread event up to and including the next ``kind``."""
        start = self._pos
        await self.next(kind, what=what)
        return self.seen[start : self._pos]


@define
class EngineRig:
    """A live session of the engine under test against its plugin's double."""

    spec: EngineSpec
    model: ModelSpec
    engine: Any
    double: RecordingEngineDouble
    session: ev.EngineSession
    reader: EventReader
    config: ev.SessionConfig

    async def received(self, what: str, match: Callable[[DoubleInput], bool]) -> DoubleInput:
        """The first thing the double received that ``match``es, once it has."""
        return await eventually(
            lambda: next((x for x in self.double.received() if match(x)), None),
            f"the engine's double never received {what} (received: {self.double.received()})",
        )

    async def speak(self, speech_ms: int, quiet_ms: int) -> None:
        """Send caller audio: ``speech_ms`` of tone then ``quiet_ms`` of silence, 20 ms frames."""
        fmt = self.config.audio_format
        frames = [tone(fmt, 20)] * (speech_ms // 20) + [silence(fmt, 20)] * (quiet_ms // 20)
        for frame in frames:
            await self.session.send_audio(base64.b64encode(frame).decode("ascii"))

    async def response(self, *, what: str = "a response") -> list[ev.EngineEvent]:
        """The events of the next response, up to its `ResponseDone`."""
        return await self.reader.until(ev.ResponseDone, what=f"ResponseDone of {what}")


def session_format(model: ModelSpec) -> Any:
    """μ-law 8 kHz when the model takes it (the phone's own format), else its first format."""
    formats = model.audio_formats
    return PCMU_8K if PCMU_8K in formats or not formats else formats[0]


@contextlib.asynccontextmanager
async def engine_rig(
    registered: Registered[EngineSpec],
    harness: EngineHarness,
    *,
    tools: Sequence[ev.ToolSchema] = (),
) -> AsyncIterator[EngineRig]:
    """Start the plugin's double, build the engine against it and open one session."""
    spec = registered.item
    async with harness.double() as double:
        check(
            hasattr(double, "received"),
            f"the double {type(double).__name__} of engine {spec.name!r} cannot say what it "
            "received: add received() (see patter_core.simulation.RecordingEngineDouble)",
        )
        engine = spec.factory(**double.engine_options())
        model = spec.model(getattr(engine, "model", ""))
        check(model is not None, f"the double's engine_options() pick a model {spec.name!r} lacks")
        assert model is not None
        engine.prepare(model)
        config = ev.SessionConfig(
            instructions="You are the conformance kit's test agent.",
            audio_format=session_format(model),
            tools=tuple(tools),
            model=model,
            call_id="kit-call-1",
        )
        session = await asyncio.wait_for(engine.connect(config), hang_guard_s())
        reader = EventReader(session)
        try:
            yield EngineRig(spec, model, engine, double, session, reader, config)
        finally:
            await session.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.task, hang_guard_s())


def audio_ms(events: Sequence[ev.EngineEvent], rig: EngineRig) -> float:
    """Milliseconds of agent audio in ``events``, failing on payloads that are not base64."""
    total = 0
    for event in events:
        if isinstance(event, ev.AgentAudio):
            try:
                total += len(base64.b64decode(event.payload, validate=True))
            except (binascii.Error, ValueError):
                fail(f"AgentAudio of item {event.item_id!r} carries a payload that is not base64")
    return total / bytes_per_ms(rig.config.audio_format)
