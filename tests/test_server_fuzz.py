"""Hypothesis throws garbage media-stream frames at a live server: calls end cleanly, it serves on.

The server runs in a background thread (its own event loop) for the whole module, so every
generated example is one more call on the same long-lived server.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from patter_openai_realtime import OpenAIRealtimeAdapter
from patter_openai_realtime.testing import FakeRealtimeServer, Say
from patter_twilio import Twilio
from patter_twilio.testing import Hangup, TwilioCallSimulator, WaitForAgent
from websockets.asyncio.client import connect

from patter_core import Patter
from patter_core.server import RunningServer, running

AUTH_TOKEN = "fuzz-token"
API_KEY = "sk-fuzz"
PUBLIC_URL = "https://fuzz.example.test"
_sids = itertools.count(1)


class LiveServer:
    """The fake engine and our server, running on a private loop in a thread."""

    def __init__(self, call_log: Path) -> None:
        self.call_log = call_log
        self.loop = asyncio.new_event_loop()
        self.ready: Future[RunningServer] = Future()
        self.stop = asyncio.Event()
        self.fake: FakeRealtimeServer | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))

    async def _main(self) -> None:
        try:
            await self._serve()
        except BaseException as exc:  # surface start-up failures to the test, not the thread
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        async with FakeRealtimeServer(api_key=API_KEY, default_reply=Say("Hi.")) as fake:
            self.fake = fake
            phone = Patter(carrier=Twilio(auth_token=AUTH_TOKEN), call_log=self.call_log)
            engine = OpenAIRealtimeAdapter(
                api_key=API_KEY,
                model="gpt-realtime-2",
                voice="marin",
                input_audio_transcription_model="gpt-realtime-whisper",
                base_url=fake.url,
            )
            agent = phone.agent(engine=engine, first_message="Hi.")
            async with running(phone, agent, public_url=PUBLIC_URL, grace_s=1) as server:
                self.ready.set_result(server)
                await self.stop.wait()

    def __enter__(self) -> RunningServer:
        self.thread.start()
        return self.ready.result(timeout=30)

    def __exit__(self, *_: Any) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with LiveServer(tmp_path_factory.mktemp("calls")) as server:
        yield server


def _media(payload: Any) -> str:
    return json.dumps({"event": "media", "streamSid": "MZfuzz", "media": {"payload": payload}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
frames = st.one_of(
    st.text(max_size=200),  # not JSON at all
    json_values.map(json.dumps),  # JSON of any shape
    st.dictionaries(
        st.sampled_from(["event", "streamSid", "media", "mark", "dtmf", "start", "stop"]),
        json_values,
    ).map(json.dumps),  # Twilio-ish keys with wrong values
    st.sampled_from(["media", "mark", "dtmf", "stop", "start", "connected", "clear", "bogus"]).map(
        lambda e: json.dumps({"event": e})
    ),  # known events missing their bodies
    st.text(alphabet="!@#$%^&*()", min_size=1, max_size=50).map(_media),  # invalid base64
    st.integers(min_value=0, max_value=3).map(lambda n: _media(["x"] * n)),  # wrong type
    st.just(_media("A" * 300_000)),  # oversized
    st.binary(min_size=1, max_size=64),  # binary frames (Twilio only sends text)
)


AGAIN = object()  # in ``after``: send the call's own start message once more


async def _call_with_frames(base_url: str, before: list[Any], after: list[Any]) -> int | None:
    """Dial like Twilio, but send ``before`` ahead of ``start`` and ``after`` behind it."""
    sid = f"CA{next(_sids):032d}"
    async with TwilioCallSimulator(base_url, AUTH_TOKEN, public_url=PUBLIC_URL) as sim:
        form = {
            "CallSid": sid,
            "AccountSid": "ACfuzz",
            "From": "+15550001111",
            "To": "+15550002222",
        }
        answer = await sim.post_webhook("/twilio/voice", form)
        stream = ET.fromstring(answer.text).find("./Connect/Stream")
        assert stream is not None, answer.text
        url = stream.attrib["url"]
        parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
        headers = {"X-Twilio-Signature": sim.sign(url)}
        start = {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZfuzz",
            "start": {
                "streamSid": "MZfuzz",
                "accountSid": "ACfuzz",
                "callSid": sid,
                "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        async with connect(sim.local_url(url), additional_headers=headers, max_size=None) as ws:
            for frame in [*before, json.dumps(start), *after]:
                await ws.send(json.dumps(start) if frame is AGAIN else frame)
            await ws.send(json.dumps({"event": "stop", "streamSid": "MZfuzz", "stop": {}}))
            async with asyncio.timeout(10):
                async for _ in ws:  # drain until the server ends the call
                    pass
            return ws.close_code


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=st.lists(frames, max_size=4), after=st.lists(frames, max_size=8))
def test_garbage_frames_never_break_a_call_or_the_server(
    live: RunningServer, before: list[Any], after: list[Any]
) -> None:
    ended_before = len(live.results)
    asyncio.run(_call_with_frames(live.base_url, before, after))
    # The server closes the socket first, then finishes its books on the call.
    deadline = time.monotonic() + 10
    while len(live.results) == ended_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(live.results) == ended_before + 1
    assert live.results[-1].end_reason  # the call ended deliberately, with a reason
    assert live.results[-1].end_reason != "internal error"


def test_after_the_fuzzing_a_normal_call_still_works(live: RunningServer) -> None:
    async def call() -> Any:
        async with TwilioCallSimulator(live.base_url, AUTH_TOKEN, public_url=PUBLIC_URL) as sim:
            return await sim.call([WaitForAgent(), Hangup()])

    recording = asyncio.run(call())
    assert recording.heard_ms > 0
    assert recording.ended_by == "hangup"


def test_media_before_start_and_a_second_start_are_ignored(live: RunningServer) -> None:
    silence = _media(base64.b64encode(bytes([0xFF]) * 160).decode())
    ended_before = len(live.results)
    asyncio.run(_call_with_frames(live.base_url, [silence, silence], [silence, AGAIN, silence]))
    deadline = time.monotonic() + 10
    while len(live.results) == ended_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.results[-1].end_reason == "caller hung up"  # not refused, not an error
