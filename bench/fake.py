"""The fake OpenAI Realtime engine as a bench process: the plugin's fake, timed and tagged.

Run as ``python -m bench.fake --scenario duplex|turns --log PATH``; it prints one JSON line
with its URL, serves until SIGTERM, then writes what it saw per call to ``--log``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
import time
from collections import defaultdict
from typing import Any

from patter_openai_realtime.testing import CallTool, FakeRealtimeServer, Say
from patter_openai_realtime.testing.connection import FakeConnection
from patter_openai_realtime.testing.script import Reply, ResponseRequest

from .common import (
    AGENT_MAGIC,
    AGENT_TAG,
    API_KEY,
    GREETING,
    LONG_ANSWER,
    TOOL_ANSWER,
    TOOL_NAME,
    read_caller_tag,
)

Json = dict[str, Any]

# Server events whose send time the turns report needs.
_TIMED = frozenset(
    {
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "response.created",
        "response.done",
        "response.function_call_arguments.done",
    }
)
_DELTA = "response.output_audio.delta"
_ECHO_IDS = (
    '"response_id":"resp_echo","item_id":"item_echo","output_index":0,"content_index":0,"delta":'
)
# Client events whose arrival time the turns report needs.
_WATCHED = ("conversation.item.truncate", "conversation.item.delete", "function_call_output")


class BenchConnection(FakeConnection):
    """A fake connection that learns its call index, tags agent audio and logs event times."""

    def __init__(self, server: BenchFakeServer, ws: Any, model: str) -> None:
        super().__init__(server, ws, model)
        self.bench = server
        self.call_index: int | None = None
        self.item_ms: dict[str, int] = {}

    def _log(self, kind: str, **data: Any) -> None:
        if self.call_index is not None:
            self.bench.log[self.call_index].append({"t": time.monotonic(), "kind": kind, **data})

    async def receive(self, message: str | bytes) -> None:
        if isinstance(message, str) and "input_audio_buffer.append" in message[:48]:
            if self.call_index is None:
                self._learn_index(message)
            if self.bench.echo:
                await self._echo_fast(message)
                return
        if isinstance(message, str) and self.bench.timed and any(w in message for w in _WATCHED):
            self._watch(message)
        await super().receive(message)

    async def _echo_fast(self, message: str) -> None:
        # The same event the plugin's echo sends, built without a JSON round trip, so the
        # fake (sharing a core with the load generator) is not what limits a large sweep.
        i = message.find('"audio"')
        j = message.index('"', i + 7) + 1
        payload = message[j : message.index('"', j)]
        event_id = self.new_id("event")
        try:
            await self.ws.send(
                f'{{"type":"{_DELTA}","event_id":"{event_id}",{_ECHO_IDS}"{payload}"}}'
            )
        except Exception:
            self.closed = True

    def _learn_index(self, message: str) -> None:
        audio = json.loads(message).get("audio", "")
        tag = read_caller_tag(audio)
        if tag is not None:
            self.call_index = tag[0]

    def _watch(self, message: str) -> None:
        event = json.loads(message)
        kind = str(event.get("type"))
        if kind == "conversation.item.create":
            if (event.get("item") or {}).get("type") == "function_call_output":
                self._log("tool_output")
            return
        self._log(kind, item=_number(event.get("item_id")), ms=event.get("audio_end_ms"))

    async def send(self, event: Json) -> None:
        # The base class's send, minus keeping every event, plus timing and audio tags.
        if self.closed:
            return
        event = {"type": event["type"], "event_id": self.new_id("event"), **event}
        kind = event["type"]
        if self.bench.timed:
            if kind == "response.output_audio.delta":
                self._tag(event)
            elif kind in _TIMED:
                self._log(kind, item=_number(event.get("item_id")))
        try:
            await self.ws.send(json.dumps(event))
        except Exception:  # the client went away; the reader loop notices and ends
            self.closed = True

    def _tag(self, event: Json) -> None:
        item_id = str(event.get("item_id"))
        audio = bytearray(base64.b64decode(event["delta"]))
        offset = self.item_ms.get(item_id, 0)
        self.item_ms[item_id] = offset + len(audio) // 8
        if offset == 0:
            self._log("first_audio", item=_number(item_id))
        if len(audio) >= AGENT_TAG.size:
            now = time.monotonic()
            AGENT_TAG.pack_into(audio, 0, AGENT_MAGIC, _number(item_id), now, offset)
            event["delta"] = base64.b64encode(audio).decode("ascii")


def _number(item_id: object) -> int:
    """The number in a fake item id such as ``item_17`` (0 when there is none)."""
    text = str(item_id or "")
    digits = text.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else 0


class BenchFakeServer(FakeRealtimeServer):
    """The plugin's fake, with per-call replies for the turns scenario and a bounded memory."""

    def __init__(self, *, timed: bool, echo: bool) -> None:
        # Answers stream at ten times real time (a 100 ms delta every 10 ms), not in one burst.
        super().__init__(api_key=API_KEY, echo=echo, validate=False, delta_interval_s=0.01)
        self.timed = timed
        self.log: defaultdict[int, list[Json]] = defaultdict(list)
        self._user_turns: dict[str, int] = {}

    def record(self, event: Json, wire: str) -> None:
        """Keep nothing: a long bench run would otherwise hold every client event."""

    async def _handle(self, ws: Any) -> None:
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        connection = BenchConnection(self, ws, query.get("model", ["gpt-realtime"])[0])
        await connection.serve()

    def next_reply(self, request: ResponseRequest) -> Reply:
        """Greeting for a client response, then per call: a long answer, a tool call, its answer."""
        if request.tool_outputs:
            return Reply((Say(TOOL_ANSWER),))
        if request.trigger == "client":
            return Reply((Say(GREETING),))
        session = str(request.session.get("id"))
        turn = self._user_turns.get(session, 0)
        self._user_turns[session] = turn + 1
        if turn % 2 == 0:
            return Reply((Say(LONG_ANSWER),))
        return Reply((CallTool(TOOL_NAME, {"city": "Paris"}),))


async def main(scenario: str, log_path: str) -> None:
    """Serve until SIGTERM, then write the per-call event log."""
    server = BenchFakeServer(timed=scenario == "turns", echo=scenario == "duplex")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(json.dumps({"url": server.url}), flush=True)
    await stop.wait()
    await server.stop()
    with open(log_path, "w") as handle:
        json.dump({str(k): v for k, v in server.log.items()}, handle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=("duplex", "turns"), default="duplex")
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.scenario, args.log))
    sys.exit(0)
