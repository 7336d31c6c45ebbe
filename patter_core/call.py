"""The call session: the one place where a carrier's media stream meets an engine session.

One `CallSession` per media stream. Caller audio goes to the engine untouched; agent audio
goes to the carrier followed by a mark, so playback can be accounted from mark echoes.
Barge-in clears the carrier and truncates the engine at what the caller actually heard.
Only the engine-reader task writes to the carrier socket, so frames never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

import attrs
from attrs import frozen

from . import engine as ev
from .audio import duration_ms
from .callbacks import fire
from .callcontrol import END_CALL, TRANSFER_CALL, check_e164
from .carrier import (
    CallControl,
    Carrier,
    DtmfReceived,
    InboundCall,
    MarkEchoed,
    MediaReceived,
    StreamStarted,
    StreamStopped,
)
from .engine import EngineSession, SessionConfig
from .errors import CarrierProtocolError
from .metrics import MetricsCollector
from .outbound import OutboundCall
from .playback import PlaybackTracker
from .records import CallResult, TranscriptEntry
from .toolrunner import ToolRunner

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from .app import Agent
    from .calllog import CallLog
    from .pricing import Pricing

log = logging.getLogger("patter.call")

MAX_FRAME_CHARS = 256 * 1024
END_CALL_PLAYOUT_LIMIT_S = 30.0
MAX_CONSECUTIVE_BAD_FRAMES = 50
START_TIMEOUT_S = 10.0


class _CallEnded(Exception):
    """Raised inside the loops to end the call with a reason."""


@frozen
class Claim:
    """A media stream's call token, redeemed: the call, and for outbound calls their agent."""

    call: InboundCall
    outbound: OutboundCall | None = None


class CallSession:
    """Runs one call from the media stream's first frame to `on_call_end`."""

    def __init__(
        self,
        websocket: WebSocket,
        carrier: Carrier,
        agent: Agent,
        pricing: Pricing,
        claim_token: Callable[[StreamStarted], Claim | None],
        call_log: CallLog | None = None,
    ) -> None:
        self.ws = websocket
        self.carrier = carrier
        self.agent = agent
        self.pricing = pricing
        self._claim_token = claim_token
        self.carrier_leg = "inbound"
        self.outbound: OutboundCall | None = None
        self.call_log = call_log
        self.call: InboundCall | None = None
        self.stream_id = ""
        self.engine: EngineSession | None = None
        self.playback = PlaybackTracker()
        self.transcript: list[TranscriptEntry] = []
        self.usage = ev.TokenUsage()
        self.transcription_seconds = 0.0
        self.end_reason = ""
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self._bad_frames = 0
        self._cancelled_items: set[str] = set()
        self._order: dict[str, float] = {}
        self._carrier_closed = False
        self._tools = ToolRunner(agent.tools, self._tool_done)
        self._control_tasks: set[asyncio.Task[None]] = set()
        self._last_response_done = 0.0
        self._last_audio_sent = 0.0
        self.transferred_to = ""
        self._voicemail = ""
        self._ended = asyncio.Event()
        self.result: CallResult | None = None
        self.metrics = self._new_metrics()

    def _new_metrics(self) -> MetricsCollector:
        plan = self.agent.plan
        return MetricsCollector(
            self.pricing,
            engine=plan.engine.name,
            model=plan.model.name,
            transcription_model=plan.transcription.name if plan.transcription else None,
            carrier=plan.carrier.name if plan.carrier else None,
            carrier_leg=self.carrier_leg,
            call_id=self.call.call_id if self.call else "",
            started_at=self._t0,
        )

    # ---------------------------------------------------------------- lifecycle

    async def run(self) -> CallResult:
        """Run the call to its end, whatever fails; always fires ``on_call_end``."""
        try:
            started = await self._wait_for_start()
            if started is not None:
                await self._converse(started)
        except _CallEnded as ended:
            self.end_reason = self.end_reason or str(ended)
        except Exception:
            log.exception("call %s failed", self.call.call_id if self.call else "?")
            self.end_reason = self.end_reason or "internal error"
        finally:
            await self._finish()
        assert self.result is not None
        return self.result

    async def hang_up(self, reason: str = "ended by server") -> None:
        """End the call from our side (closing the media stream ends a streamed call)."""
        self.end_reason = self.end_reason or reason
        self._ended.set()

    async def _wait_for_start(self) -> StreamStarted | None:
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while True:
                    event = await self._next_carrier_event()
                    if isinstance(event, StreamStarted):
                        return self._accept_start(event)
                    if isinstance(event, StreamStopped):
                        raise _CallEnded("stream stopped before it started")
                    if event is not None:
                        log.warning(
                            "dropping %s received before the stream started", type(event).__name__
                        )
        except TimeoutError:
            raise _CallEnded(f"no start message within {START_TIMEOUT_S:.0f} s") from None

    def _accept_start(self, started: StreamStarted) -> StreamStarted:
        claim = self._claim_token(started)
        if claim is None:
            raise _CallEnded("refused: the stream did not carry a valid call token")
        self.call = claim.call
        self.stream_id = started.stream_id
        if claim.outbound is not None:
            self.outbound = claim.outbound
            self.agent = claim.outbound.agent
            self.carrier_leg = "outbound"
            self._tools = ToolRunner(self.agent.tools, self._tool_done)
            claim.outbound.attach(self)
        self.metrics = self._new_metrics()
        return started

    async def _converse(self, started: StreamStarted) -> None:
        agent = self.agent
        overrides = await self._call_start_overrides()
        instructions = overrides.get("instructions", agent.instructions)
        first_message = overrides.get("first_message", agent.first_message)
        if self.outbound is not None and self.outbound.first_message is not None:
            first_message = self.outbound.first_message
        variables = overrides.get("variables") or {}
        if variables:
            instructions = _fill(instructions, variables)
            first_message = _fill(first_message, variables)
        config = SessionConfig(
            instructions=instructions,
            audio_format=agent.plan.audio_format,
            tools=agent.tool_schemas,
            model=agent.plan.model,
            call_id=self.call.call_id if self.call else "",
        )
        try:
            self.engine = await agent.engine.connect(config)
        except Exception as exc:
            raise _CallEnded(f"engine session could not be set up: {exc}") from exc
        if self._voicemail:
            await self.leave_voicemail(self._voicemail)
        elif first_message:
            await self.engine.say(first_message)
        tasks = [
            asyncio.create_task(self._carrier_loop(), name="carrier-reader"),
            asyncio.create_task(self._engine_loop(), name="engine-reader"),
            asyncio.create_task(self._ended.wait(), name="hang-up"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = task.exception()
                if isinstance(failure, _CallEnded):
                    self.end_reason = self.end_reason or str(failure)
                elif failure is not None:
                    raise failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _call_start_overrides(self) -> dict[str, Any]:
        if self.agent.on_call_start is None:
            return {}
        result = await fire(self.agent.on_call_start, self.call, what="on_call_start")
        if result is None:
            return {}
        if not isinstance(result, dict):
            log.error("on_call_start returned %r; expected a dict of overrides or None", result)
            return {}
        allowed = {"instructions", "first_message", "variables"}
        unknown = set(result) - allowed
        if unknown:
            log.error(
                "on_call_start returned unknown override(s) %s; allowed: %s",
                sorted(unknown),
                sorted(allowed),
            )
        return {k: v for k, v in result.items() if k in allowed}

    async def _finish(self) -> None:
        await self._tools.cancel_all()
        for task in list(self._control_tasks):
            task.cancel()
        if self.engine is not None:
            try:
                await self.engine.close()
            except Exception:
                log.exception("closing the engine session failed")
        await self._close_carrier()
        self.result = self._build_result()
        if self.call is not None:
            await self._log_call(self.result)
            await fire(self.agent.on_call_end, self.result, what="on_call_end")
        if self.outbound is not None:
            self.outbound.finished(self.result)

    async def _log_call(self, result: CallResult) -> None:
        if self.call_log is None:
            return
        from .calllog import call_record

        try:
            # The append fsyncs: keep it off the event loop other calls share.
            await asyncio.to_thread(self.call_log.append, call_record(result, result.metrics))
        except Exception:
            log.exception("could not write call %s to %s", result.stream_id, self.call_log)

    async def _close_carrier(self) -> None:
        if self._carrier_closed:
            return
        self._carrier_closed = True
        with contextlib.suppress(Exception):  # already gone: the caller hung up first
            await self.ws.close()

    def _build_result(self) -> CallResult:
        now = time.monotonic()
        seconds = now - self._t0 if self.call else 0.0
        metrics = self.metrics.snapshot(now) if self.call is not None else None
        return CallResult(
            call=self.call,
            stream_id=self.stream_id,
            started_at=self.started_at,
            duration_s=seconds,
            transcript=tuple(sorted(self.transcript, key=lambda e: e.order)),
            usage=self.usage,
            transcription_seconds=self.transcription_seconds,
            cost=metrics.cost if metrics is not None else None,
            end_reason=self.end_reason or "completed",
            metrics=metrics,
        )

    # ---------------------------------------------------------------- carrier side

    async def _next_carrier_event(self) -> Any:
        from starlette.websockets import WebSocketDisconnect

        try:
            message = await self.ws.receive()
        except WebSocketDisconnect:
            raise _CallEnded("carrier disconnected") from None
        if message["type"] == "websocket.disconnect":
            self._carrier_closed = True
            raise _CallEnded("carrier disconnected")
        text = message.get("text")
        if text is None:
            return self._bad_frame("binary frame (the media stream is JSON text)")
        if len(text) > MAX_FRAME_CHARS:
            return self._bad_frame(f"frame of {len(text)} characters exceeds {MAX_FRAME_CHARS}")
        try:
            event = self.carrier.decode(text)
        except CarrierProtocolError as exc:
            return self._bad_frame(str(exc))
        self._bad_frames = 0
        return event

    def _bad_frame(self, why: str) -> None:
        self._bad_frames += 1
        log.warning("dropping a malformed carrier frame: %s", why)
        if self._bad_frames >= MAX_CONSECUTIVE_BAD_FRAMES:
            raise _CallEnded(f"{self._bad_frames} malformed carrier frames in a row")

    async def _carrier_loop(self) -> None:
        assert self.engine is not None
        while True:
            event = await self._next_carrier_event()
            if isinstance(event, MediaReceived):
                await self.engine.send_audio(event.payload)
            elif isinstance(event, MarkEchoed):
                self.playback.echoed(event.name, time.monotonic())
            elif isinstance(event, DtmfReceived):
                text = f"The caller pressed the key {event.digit}."
                self.metrics.user_input(text, time.monotonic())
                await self.engine.send_user_text(text)
            elif isinstance(event, StreamStopped):
                raise _CallEnded("caller hung up")
            elif isinstance(event, StreamStarted):
                log.warning("ignoring a second start message on stream %s", self.stream_id)

    async def _send_carrier(self, frame: str) -> None:
        if self._carrier_closed:
            return
        try:
            await self.ws.send_text(frame)
        except Exception:
            self._carrier_closed = True
            raise _CallEnded("carrier disconnected") from None

    # ---------------------------------------------------------------- engine side

    async def _engine_loop(self) -> None:
        assert self.engine is not None
        handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            ev.AgentAudio: self._on_agent_audio,
            ev.UserSpeechStarted: self._on_speech_started,
            ev.UserSpeechStopped: self._on_speech_stopped,
            ev.ResponseStarted: self._on_response_started,
            ev.AgentTranscriptDone: self._on_agent_transcript,
            ev.UserTranscriptDelta: self._on_user_partial,
            ev.UserTranscriptDone: self._on_user_transcript,
            ev.ToolCall: self._on_tool_call,
            ev.ResponseDone: self._on_response_done,
            ev.EngineError: self._on_engine_error,
        }
        async for event in self.engine.events():
            if isinstance(event, ev.EngineClosed):
                raise _CallEnded(f"engine connection closed ({event.code} {event.reason})".strip())
            handler = handlers.get(type(event))
            if handler is not None:
                await handler(event)
        raise _CallEnded("engine connection closed")

    async def _on_agent_audio(self, event: ev.AgentAudio) -> None:
        if event.item_id in self._cancelled_items:
            return  # the tail of a response the caller interrupted
        now = time.monotonic()
        self._note_order(event.item_id, now)
        await self._send_carrier(self.carrier.encode_audio(self.stream_id, event.payload))
        self._last_audio_sent = time.monotonic()
        self.metrics.agent_audio_sent(event.item_id, event.response_id, self._last_audio_sent)
        mark = self.playback.sent(
            event.item_id, duration_ms(event.payload, self.agent.plan.audio_format), now
        )
        await self._send_carrier(self.carrier.encode_mark(self.stream_id, mark))

    async def _on_speech_started(self, event: ev.UserSpeechStarted) -> None:
        now = time.monotonic()
        self._note_order(event.item_id, now)
        self.metrics.user_speech_started(event.item_id, now)
        if not self.playback.playing:
            return
        await self._send_carrier(self.carrier.encode_clear(self.stream_id))
        self.metrics.clear_sent(time.monotonic())
        interruption = self.playback.interrupt(now)
        assert self.engine is not None
        for item_id, heard in interruption.heard:
            self._cancelled_items.add(item_id)
            await self.engine.truncate(item_id, heard)
            for i, entry in enumerate(self.transcript):
                if entry.item_id == item_id and not entry.interrupted:
                    self.transcript[i] = attrs.evolve(entry, interrupted=True)
                    await fire(self.agent.on_transcript, self.transcript[i], what="on_transcript")
        self.metrics.interrupted([item_id for item_id, _ in interruption.heard])

    async def _on_speech_stopped(self, event: ev.UserSpeechStopped) -> None:
        self.metrics.user_speech_stopped(event.item_id, time.monotonic())

    async def _on_response_started(self, event: ev.ResponseStarted) -> None:
        self.metrics.response_started(event.response_id, time.monotonic())

    async def _on_agent_transcript(self, event: ev.AgentTranscriptDone) -> None:
        self.metrics.agent_transcript(event.item_id, event.text, event.response_id)
        await self._add_transcript("agent", event.item_id, event.text, final=True)

    async def _on_user_partial(self, event: ev.UserTranscriptDelta) -> None:
        if self.agent.on_transcript is not None:
            entry = TranscriptEntry(
                "user", event.text, event.item_id, self._order_of(event.item_id), final=False
            )
            await fire(self.agent.on_transcript, entry, what="on_transcript")

    async def _on_user_transcript(self, event: ev.UserTranscriptDone) -> None:
        if event.transcription_seconds:
            self.transcription_seconds += event.transcription_seconds
        self.metrics.user_transcript(event.item_id, event.text, event.transcription_seconds)
        await self._add_transcript("user", event.item_id, event.text, final=True)

    async def _on_tool_call(self, event: ev.ToolCall) -> None:
        if event.name == END_CALL.name and self.agent.end_call:
            self._spawn(self._hang_up_after_playout(time.monotonic(), "agent ended the call"))
        elif event.name == TRANSFER_CALL.name and self.agent.transfer_call:
            self._spawn(self._transfer(event))
        else:
            self._tools.start(event, self._context())

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._control_tasks.add(task)
        task.add_done_callback(self._control_tasks.discard)

    async def leave_voicemail(self, text: str) -> None:
        """Stop talking to the machine, speak ``text`` after the beep, then hang up."""
        if self.engine is None:  # the verdict came before the engine session: do it first
            self._voicemail = text
            return
        if self.playback.playing:
            await self._send_carrier(self.carrier.encode_clear(self.stream_id))
            self.playback.interrupt(time.monotonic())
        await self.engine.cancel_response()
        since = time.monotonic()
        await self.engine.say(text)
        self._spawn(self._hang_up_after_playout(since, "left a voicemail", need_new_audio=True))

    async def _hang_up_after_playout(
        self, since: float, reason: str, *, need_new_audio: bool = False
    ) -> None:
        """Hang up once a response finished after ``since`` and all its audio has played.

        ``since`` is taken by the caller: the engine loop may handle ``response.done``
        before this task first runs.
        """
        await self._wait_for_playout(since=since, need_new_audio=need_new_audio)
        await self.hang_up(reason)

    async def _wait_for_playout(self, *, since: float, need_new_audio: bool) -> None:
        """Wait until a response has finished after ``since`` and the carrier played it all."""
        try:
            async with asyncio.timeout(END_CALL_PLAYOUT_LIMIT_S):
                while not (
                    self._last_response_done > since
                    and (self._last_audio_sent > since or not need_new_audio)
                    and not self.playback.playing
                ):
                    await asyncio.sleep(0.02)
        except TimeoutError:
            log.warning("audio did not finish playing within %s s", END_CALL_PLAYOUT_LIMIT_S)

    async def _transfer(self, event: ev.ToolCall) -> None:
        target = str(event.arguments.get("to", ""))
        try:
            check_e164(target, what="transfer target")
            control = cast(CallControl, self.carrier)
            await control.transfer(self.call.call_id if self.call else "", target)
        except Exception as exc:
            log.warning("transfer to %r failed: %s", target, exc)
            await self._tool_done(event.call_id, json.dumps({"error": f"transfer failed: {exc}"}))
            return
        self.transferred_to = target
        await self.hang_up(f"transferred to {target}")

    async def _tool_done(self, call_id: str, output: str) -> None:
        if self.engine is not None:
            await self.engine.send_tool_result(call_id, output)

    async def _on_response_done(self, event: ev.ResponseDone) -> None:
        self._last_response_done = time.monotonic()
        if event.usage is not None:
            self.usage = self.usage + event.usage
        now = time.monotonic()
        self.metrics.response_done(event.response_id, event.status, event.usage, now)
        if self.agent.on_metrics is not None:
            await fire(self.agent.on_metrics, self.metrics.snapshot(now), what="on_metrics")

    async def _on_engine_error(self, event: ev.EngineError) -> None:
        log.warning("engine error %s: %s", event.code or "-", event.message)
        if event.fatal:
            raise _CallEnded(f"engine error: {event.message}")

    # ---------------------------------------------------------------- transcript

    def _note_order(self, item_id: str, now: float) -> None:
        if item_id and item_id not in self._order:
            self._order[item_id] = now

    def _order_of(self, item_id: str) -> float:
        return self._order.get(item_id, time.monotonic())

    async def _add_transcript(self, role: str, item_id: str, text: str, *, final: bool) -> None:
        entry = TranscriptEntry(
            role,
            text,
            item_id,
            self._order_of(item_id),
            final=final,
            interrupted=item_id in self._cancelled_items,
        )
        self.transcript.append(entry)
        if self.agent.on_transcript is not None:
            await fire(self.agent.on_transcript, entry, what="on_transcript")

    def _context(self) -> dict[str, Any]:
        call = self.call
        return {
            "call_id": call.call_id if call else "",
            "caller": call.caller if call else "",
            "callee": call.callee if call else "",
            "parameters": dict(call.parameters) if call else {},
        }


def _fill(template: str, variables: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders, leaving unknown ones as they are."""

    class _Keep(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return template.format_map(_Keep(variables))
    except (ValueError, IndexError):
        return template
