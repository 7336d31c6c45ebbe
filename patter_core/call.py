"""The call session: the one place where a carrier's media stream meets an engine session.

One `CallSession` per media stream. Caller audio goes to the engine untouched; agent audio
goes to the carrier followed by a mark, so playback can be accounted from mark echoes.
Barge-in clears the carrier and truncates the engine at what the caller actually heard.
Only the engine-reader task writes to the carrier socket, so frames never interleave.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from attrs import frozen

from . import engine as ev
from .audio import duration_ms
from .callbacks import call_start_overrides, fill_placeholders, fire
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
from .media import CallEnded, MediaStream
from .metrics import MetricsCollector
from .outbound import OutboundCall
from .playback import PlaybackTracker
from .records import CallResult, TranscriptEntry
from .toolrunner import ToolRunner
from .transcript import Transcript

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

    from .app import Agent
    from .calllog import CallLog
    from .pricing import Pricing

log = logging.getLogger("patter.call")

END_CALL_PLAYOUT_LIMIT_S = 30.0
MARK_EVERY_MS = 100.0
START_TIMEOUT_S = 10.0


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
        self.media = MediaStream(websocket, carrier)
        self.carrier = carrier
        self.agent = agent
        self.pricing = pricing
        self._claim_token = claim_token
        self.carrier_leg = "inbound"
        self.outbound: OutboundCall | None = None
        self.call_log = call_log
        self.call: InboundCall | None = None
        self.engine: EngineSession | None = None
        self.playback = PlaybackTracker()
        self.transcript = Transcript()
        self.end_reason = ""
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self._tools = ToolRunner(agent.tools, self._tool_done)
        self._control_tasks: set[asyncio.Task[None]] = set()
        self._last_response_done = 0.0
        self._last_audio_sent = 0.0
        self.transferred_to = ""
        self._voicemail = ""
        self._ended = asyncio.Event()
        self.result: CallResult | None = None
        self.metrics = self._new_metrics()

    @property
    def stream_id(self) -> str:
        """The carrier's id of this media stream (empty until it has started)."""
        return self.media.stream_id

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
        except CallEnded as ended:
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
                    event = await self.media.receive()
                    if isinstance(event, StreamStarted):
                        return self._accept_start(event)
                    if isinstance(event, StreamStopped):
                        raise CallEnded("stream stopped before it started")
                    if event is not None:
                        log.warning(
                            "dropping %s received before the stream started", type(event).__name__
                        )
        except TimeoutError:
            raise CallEnded(f"no start message within {START_TIMEOUT_S:.0f} s") from None

    def _accept_start(self, started: StreamStarted) -> StreamStarted:
        claim = self._claim_token(started)
        if claim is None:
            raise CallEnded("refused: the stream did not carry a valid call token")
        self.call = claim.call
        self.media.stream_id = started.stream_id
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
        overrides = await call_start_overrides(self.agent.on_call_start, self.call)
        instructions = overrides.get("instructions", agent.instructions)
        first_message = overrides.get("first_message", agent.first_message)
        if self.outbound is not None and self.outbound.first_message is not None:
            first_message = self.outbound.first_message
        variables = overrides.get("variables") or {}
        if variables:
            instructions = fill_placeholders(instructions, variables)
            first_message = fill_placeholders(first_message, variables)
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
            raise CallEnded(f"engine session could not be set up: {exc}") from exc
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
                if isinstance(failure, CallEnded):
                    self.end_reason = self.end_reason or str(failure)
                elif failure is not None:
                    raise failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _finish(self) -> None:
        await self._tools.cancel_all()
        for task in list(self._control_tasks):
            task.cancel()
        if self.engine is not None:
            try:
                await self.engine.close()
            except Exception:
                log.exception("closing the engine session failed")
        await self.media.close()
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

    def _build_result(self) -> CallResult:
        now = time.monotonic()
        seconds = now - self._t0 if self.call else 0.0
        metrics = self.metrics.snapshot(now) if self.call is not None else None
        return CallResult(
            call=self.call,
            stream_id=self.stream_id,
            started_at=self.started_at,
            duration_s=seconds,
            transcript=self.transcript.in_order(),
            usage=metrics.usage if metrics is not None else ev.TokenUsage(),
            transcription_seconds=metrics.transcription_seconds if metrics is not None else 0.0,
            cost=metrics.cost if metrics is not None else None,
            end_reason=self.end_reason or "completed",
            metrics=metrics,
        )

    # ---------------------------------------------------------------- carrier side

    async def _carrier_loop(self) -> None:
        assert self.engine is not None
        while True:
            event = await self.media.receive()
            if isinstance(event, MediaReceived):
                await self.engine.send_audio(event.payload)
            elif isinstance(event, MarkEchoed):
                self.playback.echoed(event.name, time.monotonic())
            elif isinstance(event, DtmfReceived):
                text = f"The caller pressed the key {event.digit}."
                self.metrics.user_input(text, time.monotonic())
                await self.engine.send_user_text(text)
            elif isinstance(event, StreamStopped):
                raise CallEnded("caller hung up")
            elif isinstance(event, StreamStarted):
                log.warning("ignoring a second start message on stream %s", self.stream_id)

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
                raise CallEnded(f"engine connection closed ({event.code} {event.reason})".strip())
            handler = handlers.get(type(event))
            if handler is not None:
                await handler(event)
        raise CallEnded("engine connection closed")

    async def _on_agent_audio(self, event: ev.AgentAudio) -> None:
        if self.transcript.was_interrupted(event.item_id):
            return  # the tail of a response the caller interrupted
        now = time.monotonic()
        self.transcript.began(event.item_id, now)
        if self.playback.last_item not in (None, event.item_id):
            await self._mark_burst_end()  # close the previous item's audio with a mark
        await self.media.send_audio(event.payload)
        self._last_audio_sent = time.monotonic()
        self.metrics.agent_audio_sent(event.item_id, event.response_id, self._last_audio_sent)
        chunk_ms = duration_ms(event.payload, self.agent.plan.audio_format)
        # A mark per ~100 ms of audio, not per chunk: each mark costs a frame each way.
        due = self.playback.unmarked_ms + chunk_ms >= MARK_EVERY_MS
        mark = self.playback.sent(event.item_id, chunk_ms, now, mark=due)
        if mark:
            await self.media.send_mark(mark)

    async def _mark_burst_end(self) -> None:
        mark = self.playback.mark_last()
        if mark:
            await self.media.send_mark(mark)

    async def _on_speech_started(self, event: ev.UserSpeechStarted) -> None:
        now = time.monotonic()
        self.transcript.began(event.item_id, now)
        self.metrics.user_speech_started(event.item_id, now)
        if not self.playback.playing:
            return
        await self.media.send_clear()
        self.metrics.clear_sent(time.monotonic())
        interruption = self.playback.interrupt(now)
        assert self.engine is not None
        for item_id, heard in interruption.heard:
            await self.engine.truncate(item_id, heard)
            for entry in self.transcript.interrupted(item_id):
                await fire(self.agent.on_transcript, entry, what="on_transcript")
        self.metrics.interrupted([item_id for item_id, _ in interruption.heard])

    async def _on_speech_stopped(self, event: ev.UserSpeechStopped) -> None:
        self.metrics.user_speech_stopped(event.item_id, time.monotonic())

    async def _on_response_started(self, event: ev.ResponseStarted) -> None:
        self.metrics.response_started(event.response_id, time.monotonic())

    async def _on_agent_transcript(self, event: ev.AgentTranscriptDone) -> None:
        self.metrics.agent_transcript(event.item_id, event.text, event.response_id)
        await self._emit(self.transcript.line("agent", event.item_id, event.text))

    async def _on_user_partial(self, event: ev.UserTranscriptDelta) -> None:
        await self._emit(self.transcript.line("user", event.item_id, event.text, final=False))

    async def _on_user_transcript(self, event: ev.UserTranscriptDone) -> None:
        self.metrics.user_transcript(event.item_id, event.text, event.transcription_seconds)
        await self._emit(self.transcript.line("user", event.item_id, event.text))

    async def _emit(self, entry: TranscriptEntry) -> None:
        await fire(self.agent.on_transcript, entry, what="on_transcript")

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
            await self.media.send_clear()
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
        await self._mark_burst_end()
        now = self._last_response_done = time.monotonic()
        self.metrics.response_done(event.response_id, event.status, event.usage, now)
        if self.agent.on_metrics is not None:
            await fire(self.agent.on_metrics, self.metrics.snapshot(now), what="on_metrics")

    async def _on_engine_error(self, event: ev.EngineError) -> None:
        log.warning("engine error %s: %s", event.code or "-", event.message)
        if event.fatal:
            raise CallEnded(f"engine error: {event.message}")

    def _context(self) -> dict[str, Any]:
        call = self.call
        return {
            "call_id": call.call_id if call else "",
            "caller": call.caller if call else "",
            "callee": call.callee if call else "",
            "parameters": dict(call.parameters) if call else {},
        }
