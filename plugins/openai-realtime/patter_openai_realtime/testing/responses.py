"""One scripted response of the fake server, streamed faster than real time in GA order."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from typing import TYPE_CHECKING, Any, Protocol

from .script import CallTool, Disconnect, Reply, Say, ServerError, audio_bytes
from .session_state import format_kind

if TYPE_CHECKING:
    from collections.abc import Mapping

Json = dict[str, Any]


class Host(Protocol):
    """What a response needs from its connection."""

    session: Json
    conversation_id: str
    last_item_id: str | None

    def new_id(self, prefix: str) -> str: ...

    async def send(self, event: Json) -> None: ...

    async def drop(self, code: int | None, reason: str) -> None: ...

    def remember_item(self, item: Json, audio_ms: int) -> None: ...

    def usage(self, run: ResponseRun) -> Json: ...

    def response_finished(self, run: ResponseRun) -> None: ...


class Voice(Protocol):
    """How replies are spoken: the server's knobs, read live so a test can change them."""

    chunk_ms: int
    ms_per_char: float
    tone: bool
    delta_interval_s: float


class _Cancelled(Exception):
    pass


class ResponseRun:
    """Plays one `Reply`; `cancel` makes it stop at its next event and report ``cancelled``."""

    def __init__(self, host: Host, voice: Voice, reply: Reply, response_id: str) -> None:
        self.host = host
        self.voice = voice
        self.reply = reply
        self.id = response_id
        self.output: list[Json] = []
        self.audio_ms = 0
        self.text_chars = 0
        self.call_ids: list[str] = []
        self.cancel_reason = ""
        self.finished = False

    def cancel(self, reason: str) -> None:
        self.cancel_reason = self.cancel_reason or reason

    def _response(self, status: str, details: Json | None, usage: Json | None) -> Json:
        session = self.host.session
        output = session["audio"]["output"]
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": self.output,
            "conversation_id": self.host.conversation_id,
            "output_modalities": ["audio"],
            "max_output_tokens": session.get("max_output_tokens", "inf"),
            "audio": {"output": {"format": output["format"], "voice": output["voice"]}},
            "metadata": None,
            "usage": usage,
        }

    async def _emit(self, event: Json) -> None:
        if self.cancel_reason:
            raise _Cancelled
        await self.host.send(event)

    async def play(self) -> None:
        await self.host.send(
            {"type": "response.created", "response": self._response("in_progress", None, None)}
        )
        try:
            await self._emit(
                {
                    "type": "rate_limits.updated",
                    "rate_limits": [
                        {
                            "name": "requests",
                            "limit": 5000,
                            "remaining": 4999,
                            "reset_seconds": 0.012,
                        },
                        {
                            "name": "tokens",
                            "limit": 40000,
                            "remaining": 38000,
                            "reset_seconds": 3.0,
                        },
                    ],
                }
            )
            for index, part in enumerate(self.reply.parts):
                if isinstance(part, Say):
                    await self._say(part, index)
                elif isinstance(part, CallTool):
                    await self._call(part, index)
                elif isinstance(part, ServerError):
                    await self._emit(part.event())
                elif isinstance(part, Disconnect):
                    self.finished = True
                    await self.host.drop(part.code, part.reason)
                    return
        except _Cancelled:
            for item in self.output:
                if item["status"] == "in_progress":
                    item["status"] = "incomplete"
            await self._finish("cancelled", {"type": "cancelled", "reason": self.cancel_reason})
            return
        status, reason = self.reply.status, self.reply.status_reason
        details: Json | None = None
        if status == "failed":  # a failure names its error, not a reason
            details = {"type": status, "error": {"type": "server_error", "code": reason}}
        elif status != "completed":
            details = {"type": status, "reason": reason}
        await self._finish(status, details)

    async def _finish(self, status: str, details: Json | None) -> None:
        self.finished = True
        usage = dict(self.reply.usage) if self.reply.usage is not None else self.host.usage(self)
        await self.host.send(
            {"type": "response.done", "response": self._response(status, details, usage)}
        )
        self.host.response_finished(self)

    def _ids(self, item_id: str, index: int) -> Json:
        return {"response_id": self.id, "item_id": item_id, "output_index": index}

    async def _add_item(self, item: Json, index: int) -> None:
        self.output.append(item)
        await self._emit(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": index,
                "item": item,
            }
        )
        previous = self.host.last_item_id
        self.host.remember_item(item, 0)
        await self._emit(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )

    async def _done_item(self, item: Json, index: int, audio_ms: int) -> None:
        item["status"] = "completed"
        self.host.remember_item(item, audio_ms)
        await self._emit(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": index,
                "item": item,
            }
        )
        await self._emit({"type": "conversation.item.done", "item": item})

    async def _say(self, part: Say, index: int) -> None:
        item_id = self.host.new_id("item")
        content: Json = {"type": "output_audio", "transcript": ""}
        item: Json = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        await self._add_item(item, index)
        ids = {**self._ids(item_id, index), "content_index": 0}
        await self._emit(
            {
                "type": "response.content_part.added",
                **ids,
                "part": {"type": "audio", "transcript": ""},
            }
        )
        item["content"] = [content]
        kind = format_kind(self.host.session, "output")
        per_char = part.ms_per_char if part.ms_per_char is not None else self.voice.ms_per_char
        total_ms = max(1, round(len(part.text) * per_char))
        chunks = max(1, math.ceil(total_ms / self.voice.chunk_ms))
        words = part.text.split(" ")
        sent_ms = 0
        for chunk in range(chunks):
            said = [w for i, w in enumerate(words) if i * chunks // len(words) == chunk]
            for position, word in enumerate(said):
                first = chunk == 0 and position == 0
                delta = word if first else " " + word
                content["transcript"] += delta
                self.text_chars += len(delta)
                await self._emit(
                    {"type": "response.output_audio_transcript.delta", **ids, "delta": delta}
                )
            ms = min(self.voice.chunk_ms, total_ms - sent_ms)
            audio = audio_bytes(kind, ms, tone=self.voice.tone)
            await self._emit(
                {
                    "type": "response.output_audio.delta",
                    **ids,
                    "delta": base64.b64encode(audio).decode("ascii"),
                }
            )
            sent_ms += ms
            self.audio_ms += ms
            self.host.remember_item(item, sent_ms)
            await asyncio.sleep(self.voice.delta_interval_s)  # yields: faster than real time
        await self._emit({"type": "response.output_audio.done", **ids})
        await self._emit(
            {"type": "response.output_audio_transcript.done", **ids, "transcript": part.text}
        )
        await self._emit(
            {
                "type": "response.content_part.done",
                **ids,
                "part": {"type": "audio", "transcript": part.text},
            }
        )
        await self._done_item(item, index, sent_ms)

    async def _call(self, part: CallTool, index: int) -> None:
        item_id, call_id = self.host.new_id("item"), part.call_id or self.host.new_id("call")
        arguments = (
            part.arguments if isinstance(part.arguments, str) else json.dumps(part.arguments)
        )
        item: Json = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": part.name,
            "call_id": call_id,
            "arguments": "",
        }
        self.call_ids.append(call_id)
        await self._add_item(item, index)
        ids: Mapping[str, Any] = {**self._ids(item_id, index), "call_id": call_id}
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            if piece:
                item["arguments"] += piece
                await self._emit(
                    {"type": "response.function_call_arguments.delta", **ids, "delta": piece}
                )
        self.text_chars += len(arguments)
        await self._emit(
            {
                "type": "response.function_call_arguments.done",
                **ids,
                "name": part.name,
                "arguments": arguments,
            }
        )
        await self._done_item(item, index, 0)
