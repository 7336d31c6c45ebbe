"""The PCM16 24 kHz option: μ-law from the carrier is converted both ways, compiled code only."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from conftest import Reader, config, open_session, without_id
from patter_openai_realtime import OpenAIRealtimeAdapter
from patter_openai_realtime.testing import FakeRealtimeServer, mulaw_speech
from patter_openai_realtime.wire import engine_format

from patter_core.audio import ulaw_decode
from patter_core.engine import AgentAudio, ResponseDone
from patter_core.errors import CallSetupError
from patter_core.specs import PCM16_24K, PCMU_8K, ModelSpec

PCM = {"type": "audio/pcm", "rate": 24000}


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


async def test_pcm16_option_converts_both_ways(server: FakeRealtimeServer) -> None:
    server.reply("A tone to convert back to mu-law.")
    session = await open_session(server, audio_format="pcm16")
    update = without_id(server.of_type("session.update")[0])
    assert update["session"]["audio"]["input"]["format"] == PCM
    assert update["session"]["audio"]["output"]["format"] == PCM

    # Caller → OpenAI: 20 ms of μ-law (160 bytes) becomes 20 ms of PCM16 24 kHz (960 bytes).
    await session.send_audio(mulaw_speech(20))
    append = await server.wait_for("input_audio_buffer.append")
    pcm = np.frombuffer(base64.b64decode(append["audio"]), dtype="<i2")
    assert len(pcm) == 480

    # OpenAI → caller: PCM16 deltas come out as μ-law 8 kHz with the same tone in them.
    reader = Reader(session)
    await session.create_response()
    events = await reader.until(ResponseDone)
    audio = [e for e in events if isinstance(e, AgentAudio)]
    ulaw = b"".join(base64.b64decode(a.payload) for a in audio)
    sent_pcm = sum(
        len(base64.b64decode(e["delta"]))
        for e in server.sent
        if e["type"] == "response.output_audio.delta"
    )
    assert len(ulaw) == sent_pcm // 6  # 48 bytes/ms in, 8 bytes/ms out
    decoded = np.frombuffer(ulaw_decode(ulaw), dtype="<i2")
    assert abs(dominant_hz(decoded, 8000) - 400) < 20
    assert np.sqrt(np.mean(decoded.astype(np.float64) ** 2)) > 2000

    # Truncation is measured in the engine's format: ms, whatever the bytes.
    done = events[-1]
    assert isinstance(done, ResponseDone)
    await session.truncate(done.item_ids[0], 10_000)
    truncate = await server.wait_for("conversation.item.truncate")
    assert truncate["audio_end_ms"] == len("A tone to convert back to mu-law.") * 40
    await session.close()


def test_auto_passes_the_carrier_format_through_when_the_model_takes_it() -> None:
    adapter = OpenAIRealtimeAdapter(api_key="k")
    both = ModelSpec("m", audio_formats=(PCMU_8K, PCM16_24K))
    assert engine_format(adapter, PCMU_8K, both) == PCMU_8K
    pcm_only = ModelSpec("m", audio_formats=(PCM16_24K,))
    assert engine_format(adapter, PCMU_8K, pcm_only) == PCM16_24K
    assert engine_format(adapter, PCMU_8K, None) == PCMU_8K


def test_auto_without_a_conversion_path_is_refused() -> None:
    adapter = OpenAIRealtimeAdapter(api_key="k")
    from patter_core.specs import PCMA_8K

    with pytest.raises(CallSetupError, match="no conversion"):
        engine_format(adapter, PCMA_8K, ModelSpec("m", audio_formats=(PCM16_24K,)))


async def test_pcmu_default_sends_no_pcm(server: FakeRealtimeServer) -> None:
    session = await open_session(server, config())
    assert session.audio_format == PCMU_8K == session.carrier_format
    await session.close()
