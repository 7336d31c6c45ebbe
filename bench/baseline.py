"""The thinnest correct Twilio ↔ OpenAI Realtime bridge: the yardstick for every bench figure.

It answers the voice webhook with ``<Connect><Stream>``, accepts the media WebSocket, opens
the OpenAI socket with one ``session.update`` (μ-law both ways), and forwards media payloads
as ``input_audio_buffer.append`` and ``response.output_audio.delta`` as Twilio media frames,
untouched. Nothing else: no signatures, marks, barge-in, tools, transcripts or costs.
It runs on the same stack as Patter (Starlette on uvicorn, the ``websockets`` client), so a
ratio to it measures Patter's own code. Run: ``python -m bench.baseline --port P --fake-url U``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .common import API_KEY, MEDIA_PATH, PUBLIC_URL, VAD_SILENCE_MS, VOICE_PATH

ULAW = {"type": "audio/pcmu"}


def session_update(turns: bool) -> str:
    """The one ``session.update``: μ-law in and out, server VAD only for the turns scenario."""
    vad = {"type": "server_vad", "silence_duration_ms": VAD_SILENCE_MS} if turns else None
    session = {
        "type": "realtime",
        "audio": {
            "input": {"format": ULAW, "turn_detection": vad},
            "output": {"format": ULAW, "voice": "marin"},
        },
    }
    return json.dumps({"type": "session.update", "session": session})


async def from_twilio(ws: Any, ai: Any, sid: list[str]) -> None:
    """Caller audio to OpenAI, one ``input_audio_buffer.append`` per media frame."""
    while True:
        message = json.loads(await ws.receive_text())
        event = message.get("event")
        if event == "media":
            payload = message["media"]["payload"]
            await ai.send(json.dumps({"type": "input_audio_buffer.append", "audio": payload}))
        elif event == "start":
            sid[0] = message["start"]["streamSid"]
        elif event == "stop":
            return


async def from_openai(ws: Any, ai: Any, sid: list[str]) -> None:
    """Agent audio to the caller, one Twilio ``media`` frame per audio delta."""
    async for raw in ai:
        event = json.loads(raw)
        if event.get("type") == "response.output_audio.delta":
            media = {"payload": event["delta"]}
            await ws.send_text(json.dumps({"event": "media", "streamSid": sid[0], "media": media}))


def build_app(openai_url: str, turns: bool) -> Starlette:
    """The bridge as an ASGI app."""
    from websockets.asyncio.client import connect

    stream_url = "wss://" + PUBLIC_URL.split("://", 1)[1] + MEDIA_PATH
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="{stream_url}" /></Connect></Response>'
    )
    setup = session_update(turns)

    async def voice(request: Request) -> Response:
        await request.body()
        return Response(twiml, media_type="text/xml")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def media(ws: WebSocket) -> None:
        await ws.accept()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with connect(
            openai_url, additional_headers=headers, compression=None, max_size=None
        ) as ai:
            await ai.send(setup)
            sid: list[str] = [""]
            tasks = [
                asyncio.create_task(from_twilio(ws, ai, sid)),
                asyncio.create_task(from_openai(ws, ai, sid)),
            ]
            with contextlib.suppress(WebSocketDisconnect):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await ws.close()

    routes: list[Any] = [
        Route(VOICE_PATH, voice, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        WebSocketRoute(MEDIA_PATH, media),
    ]
    return Starlette(routes=routes)


def main() -> None:
    """Serve the baseline bridge with uvicorn, as ``phone.serve`` serves Patter."""
    import uvicorn

    parser = argparse.ArgumentParser(description="The bench's baseline bridge.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fake-url", required=True, help="the fake engine's HTTP base URL")
    parser.add_argument("--scenario", choices=("duplex", "turns"), default="duplex")
    args = parser.parse_args()
    url = args.fake_url.replace("http://", "ws://", 1) + "/realtime?model=gpt-realtime-2"
    app = build_app(url, args.scenario == "turns")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", lifespan="off")


if __name__ == "__main__":
    main()
