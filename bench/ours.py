"""Patter's real server as the process under test: ``phone.serve`` with a Twilio agent.

Run: ``python -m bench.ours --port P --fake-url U --scenario duplex|turns``. Duplex runs
without turn detection (the fake echoes every frame); turns adds a greeting and a tool.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from .common import ACCOUNT_SID, API_KEY, AUTH_TOKEN, GREETING, PUBLIC_URL, TOOL_NAME


async def weather(arguments: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The turns scenario's tool: answers at once."""
    return {"city": arguments.get("city", ""), "sky": "sunny", "celsius": 20}


def main() -> None:
    """Build the agent and serve it until SIGTERM."""
    from patter_openai_realtime import OpenAIRealtimeAdapter, ServerVad
    from patter_twilio import Twilio

    from patter_core import Patter, Tool

    parser = argparse.ArgumentParser(description="Patter's server under test.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fake-url", required=True, help="the fake engine's HTTP base URL")
    parser.add_argument("--scenario", choices=("duplex", "turns"), default="duplex")
    args = parser.parse_args()
    turns = args.scenario == "turns"

    phone = Patter(carrier=Twilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN), call_log=False)
    engine = OpenAIRealtimeAdapter(
        api_key=API_KEY,
        base_url=args.fake_url,
        model="gpt-realtime-2",
        voice="marin",
        input_audio_transcription_model="gpt-realtime-whisper",
        turn_detection=ServerVad() if turns else None,
    )
    tools = [
        Tool(
            name=TOOL_NAME,
            description="The weather in a city.",
            parameters={"type": "object", "properties": {"city": {"type": "string"}}},
            handler=weather,
        )
    ]
    agent = phone.agent(
        engine=engine,
        system_prompt="You are the benchmark's agent.",
        first_message=GREETING if turns else "",
        tools=tools if turns else (),
    )
    asyncio.run(phone.serve(agent, host="127.0.0.1", port=args.port, public_url=PUBLIC_URL))


if __name__ == "__main__":
    main()
