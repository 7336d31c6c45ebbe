"""`OpenAIRealtimeSession`: one call's OpenAI Realtime (GA) session over a WebSocket.

Behaviour the call loop can rely on (also in docs/engines/openai-realtime.md):

- Sends never raise because the socket closed: the event is dropped (logged at debug) and
  `events()` reports the close once, as `EngineClosed`, which is where the call ends.
- A ``response.create`` is never sent while a response is in progress or while a tool call
  of the model is unanswered; it is queued and sent when the response is done, so tool
  results, ``say`` and ``send_user_text`` never collide with the server's
  ``conversation_already_has_active_response`` error.
- A tool call whose arguments are not valid JSON is answered here, at once, with a
  ``function_call_output`` explaining the error (the model can retry); the `ToolCall`
  event still carries ``error`` so the core logs it and does not run the tool. A later
  `send_tool_result` for that call is ignored.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from patter_core.audio import Base64Converter
from patter_core.engine import (
    EngineClosed,
    EngineError,
    EngineEvent,
    ResponseDone,
    ResponseStarted,
    SessionConfig,
    ToolCall,
    ToolSchema,
)
from patter_core.errors import CallSetupError
from patter_core.specs import AudioFormat

from .events import EventNormaliser
from .transport import connect, parse, refusal
from .wire import (
    SAY_INSTRUCTIONS,
    Json,
    describe_format,
    engine_format,
    format_matches,
    model_spec,
    sends_reasoning,
    session_json,
    update_json,
    wire_format,
)

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from .adapter import OpenAIRealtimeAdapter

log = logging.getLogger("patter.openai_realtime")

_ACTIVE_RESPONSE = "conversation_already_has_active_response"
_RECENT_EVENTS = 64  # client events remembered to explain the errors that name them


class OpenAIRealtimeSession:
    """A live OpenAI Realtime session implementing the core's `EngineSession`."""

    def __init__(
        self,
        ws: ClientConnection,
        fmt: AudioFormat,
        carrier: AudioFormat,
        *,
        setup_timeout_s: float = 10.0,
    ) -> None:
        from websockets.exceptions import ConnectionClosed

        self._ws = ws
        # Looked up once: _send_raw runs 50 times a second per call.
        self._closed_error: type[Exception] = ConnectionClosed
        self.audio_format = fmt
        self.carrier_format = carrier
        self._requested = wire_format(fmt)
        converting = fmt != carrier
        self._inbound = Base64Converter(carrier, fmt) if converting else None
        outbound = Base64Converter(fmt, carrier) if converting else None
        self._normaliser = EventNormaliser(fmt, outbound)
        self._setup_timeout_s = setup_timeout_s
        self._backlog: list[Mapping[str, Any]] = []
        self._ids = itertools.count(1)
        self._recent: OrderedDict[str, Json] = OrderedDict()
        self._response_active = False
        self._response_id = ""
        self._queued: deque[Json] = deque()
        self._open_calls: set[str] = set()
        self._answered: set[str] = set()
        self._iterated = False
        self._closed = False
        self.session_id = ""

    @classmethod
    async def open(
        cls, adapter: OpenAIRealtimeAdapter, config: SessionConfig
    ) -> OpenAIRealtimeSession:
        """Connect, configure the session and confirm it; `CallSetupError` on any refusal."""
        spec = model_spec(adapter, config)
        fmt = engine_format(adapter, config.audio_format, spec)
        ws = await connect(adapter)
        session = cls(ws, fmt, config.audio_format, setup_timeout_s=adapter.setup_timeout_s)
        try:
            await session._setup(
                session_json(adapter, config, fmt, reasoning=sends_reasoning(adapter, spec))
            )
        except BaseException:
            await ws.close()
            raise
        return session

    async def _setup(self, session: Json) -> None:
        created = await self._expect("session.created", "while waiting for session.created")
        self.session_id = str(created.get("session", {}).get("id", ""))
        if not await self._send({"type": "session.update", "session": session}):
            raise CallSetupError("OpenAI Realtime closed the connection before session.update")
        updated = await self._expect("session.updated", "in reply to session.update")
        problem = self._format_problem(updated)
        if problem:
            raise CallSetupError(problem + "; the call is not started, its audio would be noise")

    async def _expect(self, kind: str, stage: str) -> Mapping[str, Any]:
        """Read until ``kind``; events of other types wait in the backlog for `events()`."""
        from websockets.exceptions import ConnectionClosed

        try:
            async with asyncio.timeout(self._setup_timeout_s):
                while True:
                    event = parse(await self._ws.recv())
                    if event is None:
                        continue
                    if event.get("type") == kind:
                        return event
                    if event.get("type") == "error":
                        raise CallSetupError(refusal(event, stage))
                    self._backlog.append(event)
        except TimeoutError:
            what = "answered session.update" if kind == "session.updated" else f"sent {kind}"
            raise CallSetupError(
                f"OpenAI Realtime never {what} within {self._setup_timeout_s:g} s "
                f"(no {kind} received)"
            ) from None
        except ConnectionClosed:
            raise CallSetupError(
                f"OpenAI Realtime closed the connection ({stage}; close code "
                f"{self._ws.close_code}: {self._ws.close_reason or 'no reason'})"
            ) from None

    def _format_problem(self, updated: Mapping[str, Any]) -> str:
        audio = updated.get("session", {}).get("audio", {}) or {}
        echoed = {d: (audio.get(d) or {}).get("format") for d in ("input", "output")}
        if all(format_matches(self._requested, f) for f in echoed.values()):
            return ""
        return (
            f"OpenAI Realtime did not accept audio format {describe_format(self._requested)}: "
            f"session.updated says input {describe_format(echoed['input'])}, "
            f"output {describe_format(echoed['output'])}"
        )

    # -- server events --------------------------------------------------------------

    async def events(self) -> AsyncIterator[EngineEvent]:
        """Yield normalised events until the socket closes, then one `EngineClosed`."""
        from websockets.exceptions import ConnectionClosed

        if self._iterated:
            raise RuntimeError("OpenAIRealtimeSession.events() can be iterated only once")
        self._iterated = True
        while self._backlog:
            for out in await self._handle(self._backlog.pop(0)):
                yield out
        while True:
            try:
                event = parse(await self._ws.recv())
            except ConnectionClosed:
                break
            if event is not None:
                for out in await self._handle(event):
                    yield out
            # Not held while waiting: a response.done carries the whole response.
            event = None
        self._closed = True
        yield EngineClosed(self._ws.close_code, self._ws.close_reason or "")

    async def _handle(self, event: Mapping[str, Any]) -> list[EngineEvent]:
        kind = event.get("type")
        if kind == "session.updated":
            problem = self._format_problem(event)
            if problem:
                return [EngineError(problem, code="audio_format_mismatch", fatal=True)]
        elif kind == "error":
            await self._on_error(event)
        out = self._normaliser.normalise(event)
        for item in out:
            if isinstance(item, ResponseStarted):
                self._response_active, self._response_id = True, item.response_id
            elif isinstance(item, ResponseDone):
                self._response_active, self._response_id = False, ""
                await self._flush()
            elif isinstance(item, ToolCall):
                if item.error:
                    await self._answer_malformed(item)
                else:
                    self._open_calls.add(item.call_id)
        return out

    async def _on_error(self, event: Mapping[str, Any]) -> None:
        error = event.get("error") or {}
        cause = self._recent.get(str(error.get("event_id") or ""))
        log.warning(
            "OpenAI Realtime error%s: %s (code %s, param %s)",
            f" in reply to {cause['type']}" if cause else "",
            error.get("message"),
            error.get("code"),
            error.get("param"),
        )
        if cause is None or cause["type"] != "response.create":
            return
        if error.get("code") == _ACTIVE_RESPONSE:
            # A response we had not heard of yet (server VAD) is running: retry after it.
            self._queued.appendleft({k: v for k, v in cause.items() if k != "event_id"})
            self._response_active = True
        else:
            self._response_active = False
            await self._flush()

    async def _answer_malformed(self, call: ToolCall) -> None:
        log.warning("tool call %s (%s) rejected: %s", call.call_id, call.name, call.error)
        output = (
            f"Error: the call to {call.name!r} was not run because its {call.error}. "
            "Call the tool again with a JSON object that matches its parameters."
        )
        self._answered.add(call.call_id)
        await self._send(_output_item(call.call_id, output))
        await self._request_response({"type": "response.create"})

    # -- client operations ---------------------------------------------------------

    async def send_audio(self, payload: str) -> None:
        """Append caller audio (base64 in the carrier format; converted only if needed)."""
        if self._inbound is not None:
            payload = self._inbound(payload)
        # Built by hand: base64 needs no escaping and this runs 50 times a second per call.
        await self._send_raw('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')

    async def truncate(self, item_id: str, heard_ms: int) -> None:
        """Cut ``item_id`` to what the caller heard; delete it when nothing was heard."""
        generated = self._normaliser.generated_ms(item_id)
        end = max(0, int(heard_ms))
        if generated is not None:
            end = min(end, int(generated))  # never past the audio OpenAI actually generated
        if end == 0:
            # OpenAI refuses a truncate at 0 ms; removing the item matches "heard nothing".
            self._normaliser.forget(item_id)
            await self._send({"type": "conversation.item.delete", "item_id": item_id})
            return
        if generated is None:
            log.debug("truncating item %s whose audio this session never saw", item_id)
        await self._send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": end,
            }
        )

    async def send_tool_result(self, call_id: str, output: str) -> None:
        """Return a tool's output; the model continues once every open call is answered."""
        if call_id in self._answered:
            log.debug("tool call %s was already answered; result dropped", call_id)
            return
        self._answered.add(call_id)
        self._open_calls.discard(call_id)
        await self._send(_output_item(call_id, output))
        await self._request_response({"type": "response.create"})

    async def create_response(self, instructions: str | None = None) -> None:
        """Ask for a response now (after the current one, if one is running)."""
        payload: Json = {"type": "response.create"}
        if instructions is not None:
            payload["response"] = {"instructions": instructions}
        await self._request_response(payload)

    async def say(self, text: str) -> None:
        """Have the model speak ``text`` verbatim (one-off instructions for one response)."""
        await self.create_response(SAY_INSTRUCTIONS.format(text=text))

    async def send_user_text(self, text: str) -> None:
        """Add a user text message (e.g. DTMF digits) and ask for a response."""
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        await self._send({"type": "conversation.item.create", "item": item})
        await self._request_response({"type": "response.create"})

    async def cancel_response(self) -> None:
        """Cancel the response in progress; nothing is sent when none is."""
        if not self._response_active:
            return
        payload: Json = {"type": "response.cancel"}
        if self._response_id:
            payload["response_id"] = self._response_id
        await self._send(payload)

    async def update(
        self, instructions: str | None = None, tools: Sequence[ToolSchema] | None = None
    ) -> None:
        """Change instructions and/or tools, restating the audio formats (see PROTOCOLS A.3)."""
        await self._send(update_json(self.audio_format, instructions, tools))

    async def close(self) -> None:
        """Close the socket; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._queued.clear()
        await self._ws.close()

    # -- sending -------------------------------------------------------------------

    async def _request_response(self, payload: Json) -> None:
        # Several tool results of one response need only one continuation.
        if payload != {"type": "response.create"} or payload not in self._queued:
            self._queued.append(payload)
        await self._flush()

    async def _flush(self) -> None:
        if self._response_active or self._open_calls or not self._queued:
            return
        payload = self._queued.popleft()
        self._response_active = True  # set before awaiting, so no second flush slips in
        await self._send(payload)

    async def _send(self, payload: Json) -> bool:
        event_id = f"patter_{next(self._ids)}"
        event = {"event_id": event_id, **payload}
        # Only a response.create is ever re-sent; of the rest the type explains an error, and
        # keeping a whole session.update (instructions, tools) per call would be dead weight.
        kind = str(payload.get("type", ""))
        self._recent[event_id] = event if kind == "response.create" else {"type": kind}
        if len(self._recent) > _RECENT_EVENTS:
            self._recent.popitem(last=False)
        return await self._send_raw(json.dumps(event))

    async def _send_raw(self, text: str) -> bool:
        try:
            await self._ws.send(text)
        except self._closed_error:
            log.debug("OpenAI Realtime socket closed; client event dropped")
            return False
        return True


def _output_item(call_id: str, output: str) -> Json:
    item = {"type": "function_call_output", "call_id": call_id, "output": output}
    return {"type": "conversation.item.create", "item": item}
