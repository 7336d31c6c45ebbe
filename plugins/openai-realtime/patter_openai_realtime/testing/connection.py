"""One client connection of the fake server: the session, the conversation, the turns."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import TYPE_CHECKING, Any

from .builders import (
    BETA_REFUSED,
    not_found,
    transcription_events,
    truncate_problem,
    usage_object,
    user_audio_item,
)
from .responses import Json, ResponseRun
from .script import ResponseRequest, ServerError
from .session_state import (
    check_update,
    default_session,
    format_kind,
    merge,
    transcription_model,
    turn_detection,
)
from .vad import EnergyVad, VadEvent, decode, silence_ms

log = logging.getLogger("patter.openai_realtime.testing")

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

    from .server import FakeRealtimeServer

_MIN_COMMIT_MS = 100


class FakeConnection:
    """The server side of one Realtime session."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, model: str) -> None:
        self.server = server
        self.ws = ws
        self.session: Json = default_session(model, server.new_id("sess"))
        self.conversation_id = server.new_id("conv")
        self.last_item_id: str | None = None
        self.items: dict[str, Json] = {}
        self.audio_ms: dict[str, int] = {}
        self.run: ResponseRun | None = None
        self.pending_calls: set[str] = set()
        self.tool_outputs: dict[str, str] = {}
        self.user_text = ""
        self.vad = EnergyVad(server.speech_rms)
        self.buffer_ms = 0.0
        self.user_item = ""
        self.context_chars = 0
        self.user_audio_ms = 0
        self.agent_audio_ms = 0
        self.cached = (0, 0)
        self.closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    def new_id(self, prefix: str) -> str:
        return self.server.new_id(prefix)

    async def send(self, event: Json) -> None:
        if self.closed:
            return
        event = {"type": event["type"], "event_id": self.new_id("event"), **event}
        self.server.sent.append(event)
        try:
            await self.ws.send(json.dumps(event))
        except Exception:  # the client went away; the reader loop notices and ends
            self.closed = True

    async def drop(self, code: int | None, reason: str) -> None:
        self.closed = True
        if code is None:
            self.ws.transport.abort()  # no close frame: what a network failure looks like
        else:
            await self.ws.close(code, reason)

    def remember_item(self, item: Json, audio_ms: int) -> None:
        self.items[item["id"]] = item
        self.audio_ms[item["id"]] = audio_ms
        self.last_item_id = item["id"]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._broken(task.exception())

    def _broken(self, exc: BaseException | None) -> None:
        # A bug in the fake must fail the test, not hang it or pass silently.
        log.error("fake Realtime server failed", exc_info=exc)
        self.server.failures.append(f"fake server error: {exc!r}")

    # -- lifecycle -----------------------------------------------------------------

    async def serve(self) -> None:
        if self.ws.request is not None and "OpenAI-Beta" in self.ws.request.headers:
            await self.send(BETA_REFUSED.event())
            await self.ws.close(4000, "invalid_request_error.beta_api_shape_disabled")
            return
        await self.send({"type": "session.created", "session": self.session})
        conversation = {"id": self.conversation_id, "object": "realtime.conversation"}
        await self.send({"type": "conversation.created", "conversation": conversation})
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.ws:
                try:
                    await self.receive(message)
                except Exception as exc:
                    self._broken(exc)
        except ConnectionClosed:  # an abrupt client disconnect ends the loop like a clean one
            pass
        finally:
            self.closed = True
            for task in list(self._tasks):
                task.cancel()

    async def receive(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.server.failures.append("client sent a binary frame; the service expects JSON text")
            return
        try:
            event = json.loads(message)
        except ValueError:
            await self.send(ServerError("Invalid JSON (fake)", code="invalid_json").event())
            return
        self.server.record(event, message)
        kind = event.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self._error(
                f"Invalid value: {kind!r}. Unknown client event type (fake)",
                "invalid_value",
                "type",
                event,
            )
            return
        await handler(self, event)

    async def _error(self, message: str, code: str, param: str | None, cause: Json) -> None:
        await self.send(ServerError(message, code=code, param=param).event(cause.get("event_id")))

    # -- session -------------------------------------------------------------------

    async def on_session_update(self, event: Json) -> None:
        patch = event.get("session") or {}
        problem = self.server.reject_session_update or check_update(self.session, patch)
        if problem is not None:
            await self.send(problem.event(event.get("event_id")))
            return
        if self.server.ignore_formats:
            for direction in (patch.get("audio") or {}).values():
                if isinstance(direction, dict):
                    direction.pop("format", None)
        self.session = merge(self.session, patch)
        if self.server.send_session_updated:
            self._spawn(self._session_updated(self.server.session_updated_delay_s))

    async def _session_updated(self, delay_s: float) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        await self.send({"type": "session.updated", "session": self.session})

    # -- input audio and turns -----------------------------------------------------

    async def on_append(self, event: Json) -> None:
        payload = str(event.get("audio", ""))
        if self.server.echo:
            await self._echo(payload)
            return
        kind = format_kind(self.session, "input")
        decoded = decode(payload, kind)
        if decoded is None:
            return
        samples, rate = decoded
        self.buffer_ms += len(samples) * 1000 / rate
        detection = turn_detection(self.session)
        if detection is None:
            return
        for vad_event in self.vad.feed(
            samples,
            rate,
            silence_ms=silence_ms(dict(detection)),
            prefix_ms=int(detection.get("prefix_padding_ms") or 0),
        ):
            await self._on_vad(vad_event, detection)

    async def _echo(self, payload: str) -> None:
        item = self.items.get("item_echo") or {
            "id": "item_echo",
            "type": "message",
            "role": "assistant",
        }
        kind = format_kind(self.session, "output")
        ms = len(payload) // 4 * 3 * 1000 // (24000 * 2 if kind == "audio/pcm" else 8000)
        self.remember_item(item, self.audio_ms.get("item_echo", 0) + ms)
        ids = {
            "response_id": "resp_echo",
            "item_id": "item_echo",
            "output_index": 0,
            "content_index": 0,
        }
        await self.send({"type": "response.output_audio.delta", **ids, "delta": payload})

    async def _on_vad(self, vad: VadEvent, detection: Any) -> None:
        if vad.kind == "started":
            self.user_item = self.new_id("item")
            await self.send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "item_id": self.user_item,
                    "audio_start_ms": vad.ms,
                }
            )
            if self.run is not None and detection.get("interrupt_response", True):
                self.run.cancel("turn_detected")
            return
        await self.send(
            {
                "type": "input_audio_buffer.speech_stopped",
                "item_id": self.user_item,
                "audio_end_ms": vad.ms,
            }
        )
        await self._commit(self.user_item, vad.speech_ms)
        if detection.get("create_response", True) and self.run is None:
            await self._start_response(None, "turn_detection")

    async def on_commit(self, event: Json) -> None:
        if self.buffer_ms < _MIN_COMMIT_MS:
            await self._error(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {self.buffer_ms:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
                None,
                event,
            )
            return
        await self._commit(self.new_id("item"), round(self.buffer_ms))

    async def on_clear(self, event: Json) -> None:
        self.buffer_ms = 0.0
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _commit(self, item_id: str, speech_ms: int) -> None:
        """A finished user turn: committed, the user item, and its transcription."""
        self.buffer_ms = 0.0
        self.user_audio_ms += speech_ms
        previous = self.last_item_id
        committed = {"item_id": item_id, "previous_item_id": previous}
        await self.send({"type": "input_audio_buffer.committed", **committed})
        await self._add_item(user_audio_item(item_id))
        text = self.server.next_user_text()
        self.user_text = text
        self.context_chars += len(text)
        model = transcription_model(self.session)
        for event in transcription_events(model, item_id, text, speech_ms) if model else ():
            await self.send(event)

    async def _add_item(self, item: Json) -> None:
        previous = self.last_item_id
        self.remember_item(item, 0)
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self.send({"type": kind, "previous_item_id": previous, "item": item})

    # -- conversation items ---------------------------------------------------------

    async def on_item_create(self, event: Json) -> None:
        item = dict(event.get("item") or {})
        item.setdefault("id", self.new_id("item"))
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        if item.get("type") == "function_call_output":
            self.tool_outputs[str(item.get("call_id"))] = str(item.get("output"))
            self.context_chars += len(str(item.get("output")))
        elif item.get("type") == "message":
            text = " ".join(str(c.get("text", "")) for c in item.get("content") or [])
            self.context_chars += len(text)
            if item.get("role") == "user":
                self.user_text = text
        await self._add_item(item)

    async def on_truncate(self, event: Json) -> None:
        item_id, end = str(event.get("item_id")), event.get("audio_end_ms")
        generated = self.audio_ms.get(item_id, 0)
        problem = truncate_problem(self.items.get(item_id), item_id, generated, end)
        if problem is not None or not isinstance(end, int):
            await self.send((problem or not_found(item_id)).event(event.get("event_id")))
            return
        self.audio_ms[item_id] = end
        truncated = {"item_id": item_id, "content_index": 0, "audio_end_ms": end}
        await self.send({"type": "conversation.item.truncated", **truncated})

    async def on_delete(self, event: Json) -> None:
        item_id = str(event.get("item_id"))
        if self.items.pop(item_id, None) is None:
            await self.send(not_found(item_id).event(event.get("event_id")))
            return
        self.audio_ms.pop(item_id, None)
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def on_retrieve(self, event: Json) -> None:
        item = self.items.get(str(event.get("item_id")))
        if item is None:
            await self.send(not_found(str(event.get("item_id"))).event(event.get("event_id")))
        else:
            await self.send({"type": "conversation.item.retrieved", "item": item})

    # -- responses -------------------------------------------------------------------

    async def on_response_create(self, event: Json) -> None:
        if self.run is not None:
            await self._error(
                f"Conversation already has an active response in progress: {self.run.id}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response",
                None,
                event,
            )
            return
        unanswered = sorted(self.pending_calls - set(self.tool_outputs))
        if unanswered:
            self.server.failures.append(
                f"response.create sent before function_call_output for {unanswered}"
            )
        instructions = (event.get("response") or {}).get("instructions")
        await self._start_response(instructions, "client")

    async def _start_response(self, instructions: str | None, trigger: Any) -> None:
        request = ResponseRequest(
            trigger, instructions, self.user_text, dict(self.tool_outputs), self.session
        )
        self.pending_calls -= set(self.tool_outputs)
        self.tool_outputs = {}
        reply = self.server.next_reply(request)
        run = ResponseRun(self, self.server, reply, self.new_id("resp"))
        self.run = run
        self._spawn(run.play())

    def response_finished(self, run: ResponseRun) -> None:
        self.pending_calls |= set(run.call_ids)
        self.agent_audio_ms += run.audio_ms
        self.context_chars += run.text_chars
        if self.run is run:
            self.run = None

    async def on_response_cancel(self, event: Json) -> None:
        wanted = event.get("response_id")
        if self.run is None or (wanted and wanted != self.run.id):
            await self._error(
                "Cancellation failed: no active response found",
                "response_cancel_not_active",
                None,
                event,
            )
            return
        self.run.cancel("client_cancelled")

    def usage(self, run: ResponseRun) -> Json:
        """A usage object shaped like the service's, with plausible counts."""
        instructions = str(self.session.get("instructions") or "")
        text_in = math.ceil((len(instructions) + self.context_chars) / 4) + 4 * len(self.items)
        audio_in = self.user_audio_ms // 100 + self.agent_audio_ms // 50
        cached = min(self.cached[0], text_in), min(self.cached[1], audio_in)
        self.cached = (text_in, audio_in)  # the next response re-reads this prefix from cache
        output = math.ceil(run.text_chars / 4), run.audio_ms // 50
        return usage_object(
            text_in, audio_in, cached, output, cached_details=self.server.cached_details
        )


_HANDLERS = {
    "session.update": FakeConnection.on_session_update,
    "input_audio_buffer.append": FakeConnection.on_append,
    "input_audio_buffer.commit": FakeConnection.on_commit,
    "input_audio_buffer.clear": FakeConnection.on_clear,
    "conversation.item.create": FakeConnection.on_item_create,
    "conversation.item.truncate": FakeConnection.on_truncate,
    "conversation.item.delete": FakeConnection.on_delete,
    "conversation.item.retrieve": FakeConnection.on_retrieve,
    "response.create": FakeConnection.on_response_create,
    "response.cancel": FakeConnection.on_response_cancel,
}
