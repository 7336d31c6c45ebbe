"""Microseconds of Python per audio frame: our call loop against the baseline's, no sockets.

Run: ``python -m bench.hotpath``. Both directions of a duplex call run through the real
`CallSession` loops, `MediaStream`, the Twilio codec and `OpenAIRealtimeSession`, with the two
WebSockets replaced by in-memory stand-ins that hand over prepared frames and count what is
sent. The baseline's figures come from the same stand-ins driving ``bench/baseline.py``'s own
two forwarding loops (``json.loads`` in, ``json.dumps`` out). What neither side pays here is
the framework's share: uvicorn, Starlette, ``websockets`` and the event loop, which the socket
bench measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from .common import ACCOUNT_SID, API_KEY, AUTH_TOKEN, FRAME_BYTES, frame_rest

FRAMES = 20_000
ROUNDS = 5
ITEM = "item_bench"


def _twilio_media(payload: str, seq: int) -> str:
    return (
        f'{{"event":"media","sequenceNumber":"{seq}","streamSid":"MZbench",'
        f'"media":{{"track":"inbound","chunk":"{seq}","timestamp":"{seq * 20}",'
        f'"payload":"{payload}"}}}}'
    )


def _openai_delta(payload: str, seq: int) -> str:
    return json.dumps(
        {
            "type": "response.output_audio.delta",
            "event_id": f"event_{seq}",
            "response_id": "resp_bench",
            "item_id": ITEM,
            "output_index": 0,
            "content_index": 0,
            "delta": payload,
        }
    )


class CarrierSocket:
    """What `MediaStream` uses of Starlette's WebSocket: frames in, a count of frames out."""

    def __init__(self, frames: Iterator[str]) -> None:
        self._frames = frames
        self.sent = 0

    async def receive(self) -> dict[str, Any]:
        text = next(self._frames, None)
        if text is None:
            return {"type": "websocket.disconnect", "code": 1000}
        return {"type": "websocket.receive", "text": text}

    async def receive_text(self) -> str:
        from starlette.websockets import WebSocketDisconnect

        text = next(self._frames, None)
        if text is None:
            raise WebSocketDisconnect(1000)
        return text

    async def send_text(self, text: str) -> None:
        self.sent += 1


class EngineSocket:
    """What `OpenAIRealtimeSession` uses of a websockets client connection."""

    close_code = 1000
    close_reason = ""

    def __init__(self, frames: Iterator[str]) -> None:
        self._frames = frames
        self.sent = 0

    async def recv(self) -> str:
        from websockets.exceptions import ConnectionClosed

        text = next(self._frames, None)
        if text is None:
            raise ConnectionClosed(None, None)
        return text

    async def send(self, text: str) -> None:
        self.sent += 1

    def __aiter__(self) -> EngineSocket:
        return self

    async def __anext__(self) -> str:
        text = next(self._frames, None)
        if text is None:
            raise StopAsyncIteration
        return text


def _call_session(carrier_ws: CarrierSocket, engine_ws: EngineSocket) -> Any:
    from patter_openai_realtime import OpenAIRealtimeAdapter
    from patter_openai_realtime.session import OpenAIRealtimeSession
    from patter_twilio import Twilio

    from patter_core import Patter
    from patter_core.call import CallSession
    from patter_core.specs import PCMU_8K

    phone = Patter(carrier=Twilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN), call_log=False)
    engine = OpenAIRealtimeAdapter(
        api_key=API_KEY,
        model="gpt-realtime-2",
        voice="marin",
        input_audio_transcription_model="gpt-realtime-whisper",
        turn_detection=None,
    )
    agent = phone.agent(engine=engine, system_prompt="You are the benchmark's agent.")
    assert phone.carrier is not None
    session = CallSession(carrier_ws, phone.carrier, agent, phone.pricing, lambda _: None)  # type: ignore[arg-type]
    session.media.stream_id = "MZbench"
    session.engine = OpenAIRealtimeSession(engine_ws, PCMU_8K, PCMU_8K)  # type: ignore[arg-type]
    return session


async def _ours(frames: list[str], inbound: bool) -> float:
    """One direction of the call loop over ``frames``; seconds taken."""
    from patter_core.media import CallEnded

    carrier_ws = CarrierSocket(iter(frames if inbound else ()))
    engine_ws = EngineSocket(iter(() if inbound else frames))
    session = _call_session(carrier_ws, engine_ws)
    loop = session._carrier_loop if inbound else session._engine_loop
    t0 = time.perf_counter()
    with contextlib.suppress(CallEnded):  # how both loops end when their socket runs dry
        await loop()
    elapsed = time.perf_counter() - t0
    # Every frame forwarded (engine to caller, a mark per ~100 ms of audio comes on top).
    forwarded = engine_ws.sent if inbound else carrier_ws.sent
    assert forwarded >= len(frames), (forwarded, len(frames))
    return elapsed


async def _baseline(frames: list[str], inbound: bool) -> float:
    """One of ``bench/baseline.py``'s two forwarding loops over ``frames``; seconds taken."""
    from starlette.websockets import WebSocketDisconnect

    from .baseline import from_openai, from_twilio

    carrier_ws = CarrierSocket(iter(frames if inbound else ()))
    engine_ws = EngineSocket(iter(() if inbound else frames))
    loop = from_twilio if inbound else from_openai
    t0 = time.perf_counter()
    with contextlib.suppress(WebSocketDisconnect):  # how from_twilio ends when frames run out
        await loop(carrier_ws, engine_ws, ["MZbench"])
    elapsed = time.perf_counter() - t0
    forwarded = engine_ws.sent if inbound else carrier_ws.sent
    assert forwarded == len(frames), (forwarded, len(frames))
    return elapsed


def _best(
    run: Callable[[list[str], bool], Coroutine[Any, Any, float]], frames: list[str], inbound: bool
) -> float:
    """Best of ``ROUNDS``, in µs per frame: the least disturbed by the rest of the machine."""
    return min(asyncio.run(run(frames, inbound)) for _ in range(ROUNDS)) / len(frames) * 1e6


def measure() -> dict[str, float]:
    """µs per frame for each direction, ours and the baseline's."""
    import logging

    logging.disable(logging.WARNING)  # the stand-ins trigger no warnings; keep it that way
    payload = frame_rest(tone=False)
    assert len(payload) * 3 // 4 >= FRAME_BYTES - 12
    inbound = [_twilio_media("A" * 16 + payload, k) for k in range(FRAMES)]
    outbound = [_openai_delta("A" * 16 + payload, k) for k in range(FRAMES)]
    return {
        "ours_inbound_us": _best(_ours, inbound, True),
        "baseline_inbound_us": _best(_baseline, inbound, True),
        "ours_outbound_us": _best(_ours, outbound, False),
        "baseline_outbound_us": _best(_baseline, outbound, False),
    }


def table(figures: dict[str, float]) -> str:
    """The figures as a Markdown table."""
    lines = ["| direction | ours µs/frame | baseline µs/frame | difference |", "|---|---|---|---|"]
    for direction, label in (("inbound", "caller → engine"), ("outbound", "engine → caller")):
        ours, base = figures[f"ours_{direction}_us"], figures[f"baseline_{direction}_us"]
        lines.append(f"| {label} | {ours:.2f} | {base:.2f} | {ours - base:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Measure and print the table."""
    print(table(measure()))


if __name__ == "__main__":
    main()
