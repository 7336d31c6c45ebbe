"""Script items, WAV loading and the simulated playback buffer, without sockets."""

from __future__ import annotations

import wave
from pathlib import Path

import attrs
import numpy as np
import pytest
from patter_twilio.testing import Audio, Dtmf, Silence, Speech, WaitForAgent, read_wav_ulaw, tone
from patter_twilio.testing.recording import Player
from patter_twilio.testing.script import FRAME_BYTES, frames_of, render

from patter_core.audio import ulaw_decode, ulaw_encode


def pcm(ulaw: bytes) -> np.ndarray:
    return np.frombuffer(ulaw_decode(ulaw), dtype="<i2").astype(np.float64)


def write_pcm_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def peak_hz(ulaw: bytes) -> float:
    spectrum = np.abs(np.fft.rfft(pcm(ulaw)))
    return float(np.argmax(spectrum) * 8000 / len(pcm(ulaw)))


def test_speech_is_loud_and_silence_is_silent() -> None:
    speech = b"".join(render(Speech(ms=200)))
    assert len(speech) == 1600
    assert np.sqrt(np.mean(pcm(speech) ** 2)) > 5000  # far above any VAD threshold
    assert peak_hz(speech) == pytest.approx(440, abs=10)
    silence = b"".join(render(Silence(ms=200)))
    assert not pcm(silence).any()


def test_frames_are_160_bytes_and_the_last_is_padded_with_silence() -> None:
    frames = frames_of(b"\x00" * 170)
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    assert frames[1] == b"\x00" * 10 + b"\xff" * 150
    assert len(render(Speech(ms=21))) == 2
    assert render(Silence(ms=0)) == []


def test_records_are_frozen_and_validated() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Speech(ms=10).ms = 20  # type: ignore[misc]
    with pytest.raises(ValueError):
        Dtmf("x")
    with pytest.raises(ValueError):
        Silence(ms=-1)
    with pytest.raises(ValueError):
        Speech(ms=10, level=2.0)
    assert WaitForAgent().timeout_ms == 10_000
    assert "bytes>" in repr(Audio(b"\xff" * 8))


def test_tone_is_shared_between_calls() -> None:
    assert tone(100) is tone(100)


def test_wav_ulaw_passes_through(tmp_path: Path) -> None:
    data = bytes(range(256))
    fmt = bytes.fromhex("0700 0100 401f0000 401f0000 0100 0800")
    body = b"WAVEfmt " + len(fmt).to_bytes(4, "little") + fmt + b"LIST" + (3).to_bytes(4, "little")
    body += b"abc\x00" + b"data" + len(data).to_bytes(4, "little") + data
    path = tmp_path / "u.wav"
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    assert read_wav_ulaw(path) == data
    assert Audio.from_wav(path).ms == 32


def test_wav_pcm16_at_8k_is_encoded_to_ulaw(tmp_path: Path) -> None:
    samples = (np.sin(np.arange(800) * 2 * np.pi * 500 / 8000) * 12000).astype(np.int16)
    write_pcm_wav(tmp_path / "a.wav", samples, 8000)
    assert read_wav_ulaw(tmp_path / "a.wav") == ulaw_encode(samples.astype("<i2").tobytes())


def test_wav_pcm16_stereo_at_16k_is_mixed_and_resampled(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    left = np.sin(2 * np.pi * 1000 * t) * 10000
    stereo = np.stack([left, left], axis=1).reshape(-1)
    write_pcm_wav(tmp_path / "s.wav", stereo, 16000, channels=2)
    ulaw = read_wav_ulaw(tmp_path / "s.wav")
    assert len(ulaw) == 8000  # one second at 8 kHz
    assert peak_hz(ulaw) == pytest.approx(1000, abs=5)
    assert np.sqrt(np.mean(pcm(ulaw) ** 2)) == pytest.approx(10000 / np.sqrt(2), rel=0.05)


def test_unsupported_wav_files_say_what_to_use(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "8bit.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 100)
    with pytest.raises(ValueError, match="16-bit PCM"):
        read_wav_ulaw(tmp_path / "8bit.wav")
    (tmp_path / "x.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match="RIFF"):
        read_wav_ulaw(tmp_path / "x.wav")


# ---------------------------------------------------------------------------- Player


def test_player_plays_in_order_and_marks_fall_due_after_their_audio() -> None:
    player = Player()
    player.add_audio(0.0, b"\x01" * 800)  # 100 ms
    player.add_mark(0.0, "a")
    player.add_audio(10.0, b"\x02" * 400)  # queued behind: 100..150 ms
    player.add_mark(10.0, "b")
    assert player.next_due() == 100.0
    assert player.echo_due(99.9) == []
    assert player.echo_due(120.0) == ["a"]
    assert player.played_ms(120.0) == pytest.approx(120.0)
    assert player.echo_due(150.0) == ["b"]
    player.finish(400.0)
    chunks, heard = player.heard()
    assert [(c.start_ms, c.end_ms, c.played) for c in chunks] == [(0, 100, 800), (100, 150, 400)]
    assert heard == b"\x01" * 800 + b"\x02" * 400
    # played_ms is what had played when the echo went out (the first was echoed late, at 120).
    assert [m.played_ms for m in player.marks] == [pytest.approx(120.0), pytest.approx(150.0)]


def test_player_clear_cuts_playback_and_flushes_marks() -> None:
    player = Player()
    player.add_audio(0.0, b"\x01" * 800)
    player.add_mark(0.0, "a")
    player.add_audio(0.0, b"\x02" * 800)
    player.add_mark(0.0, "b")
    assert player.clear(50.0) == ["a", "b"]
    [cleared] = player.clears
    assert (cleared.t_ms, cleared.dropped_ms, cleared.played_ms) == (50.0, 150.0, 50.0)
    assert all(m.flushed and m.echoed_ms == 50.0 for m in player.marks)
    player.add_audio(60.0, b"\x03" * 80)  # after a clear, new audio plays at once
    assert player.busy_until == 70.0
    player.finish(1000.0)
    _, heard = player.heard()
    assert heard == b"\x01" * 400 + b"\x03" * 80


def test_player_finish_drops_what_was_still_queued() -> None:
    player = Player()
    player.add_audio(0.0, b"\x01" * 8000)
    player.finish(250.0)
    chunks, heard = player.heard()
    assert len(heard) == 2000 and chunks[0].played_ms == 250.0
