"""Audio: the μ-law codec against an independent G.711 oracle, the resamplers, payload sizes.

The oracle below is a plain, sample-at-a-time G.711 μ-law written from the ITU-T/Sun
reference algorithm (the one ``audioop`` used before Python 3.13 removed it).
"""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patter_core.audio import (
    Base64Converter,
    can_convert,
    converter_for,
    decoded_length,
    duration_ms,
    ulaw_decode,
    ulaw_encode,
)
from patter_core.errors import CompatibilityError
from patter_core.specs import PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat

# --- the oracle ----------------------------------------------------------------------------

BIAS = 0x84
CLIP = 8159  # largest 14-bit magnitude before the bias
SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def oracle_encode(sample: int) -> int:
    """One 16-bit linear sample to one μ-law byte (G.711, Sun reference implementation)."""
    value = sample >> 2  # to 14 bits, arithmetic shift: the sign is kept
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, CLIP) + (BIAS >> 2)
    segment = next((i for i, end in enumerate(SEGMENT_ENDS) if value <= end), 8)
    if segment == 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def oracle_decode(code: int) -> int:
    """One μ-law byte to a 16-bit linear sample."""
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + BIAS) << ((code & 0x70) >> 4)
    return BIAS - magnitude if code & 0x80 else magnitude - BIAS


ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2")
ALL_CODES = bytes(range(256))


def test_oracle_anchors() -> None:
    # Fixed points every G.711 μ-law implementation shares.
    assert oracle_encode(0) == 0xFF
    assert oracle_decode(0xFF) == 0 and oracle_decode(0x7F) == 0
    assert oracle_decode(0x80) == 32124 and oracle_decode(0x00) == -32124
    assert oracle_encode(32767) == 0x80 and oracle_encode(-32768) == 0x00


# --- the codec -----------------------------------------------------------------------------


def test_decode_matches_the_oracle_for_all_256_codes() -> None:
    decoded = np.frombuffer(ulaw_decode(ALL_CODES), dtype="<i2")

    assert decoded.tolist() == [oracle_decode(c) for c in range(256)]


def test_encode_matches_the_oracle_for_all_65536_samples() -> None:
    encoded = ulaw_encode(ALL_SAMPLES.tobytes())

    assert len(encoded) == 65_536
    expected = bytes(oracle_encode(s) for s in range(-32768, 32768))
    mismatches = [
        (int(ALL_SAMPLES[i]), encoded[i], expected[i])
        for i in range(65_536)
        if encoded[i] != expected[i]
    ]
    assert mismatches == []


def test_decode_then_encode_gives_back_every_code_but_negative_zero() -> None:
    again = ulaw_encode(ulaw_decode(ALL_CODES))

    assert [c for c in range(256) if again[c] != c] == [0x7F]  # −0 comes back as +0 (0xFF)
    assert again[0x7F] == 0xFF


def test_codec_sizes() -> None:
    assert len(ulaw_decode(bytes(160))) == 320  # 20 ms at 8 kHz: 160 bytes → 160 int16
    assert len(ulaw_encode(bytes(320))) == 160
    assert ulaw_decode(b"") == b"" and ulaw_encode(b"") == b""


# --- resampling ----------------------------------------------------------------------------


def tone(frequency: float, rate: int, samples: int, delay: float = 0.0) -> np.ndarray:
    """An amplitude-8000 sine, delayed by ``delay`` samples at 24 kHz."""
    t = (np.arange(samples) * (24_000 // rate) - delay) / 24_000
    return 8000.0 * np.sin(2 * math.pi * frequency * t)


def snr_db(signal: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((signal - reference) ** 2)))


def best_delay_snr(
    output: np.ndarray, frequency: float, rate: int, skip: int, max_delay: int = 240
) -> tuple[int, float]:
    """The delay (in 24 kHz samples) at which ``output`` best matches the tone, and the SNR."""
    scores = [
        (snr_db(output[skip:], tone(frequency, rate, len(output), d)[skip:]), d)
        for d in range(max_delay)
    ]
    snr, delay = max(scores)
    return delay, snr


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def as_int16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def pcm16(samples: np.ndarray) -> bytes:
    return np.rint(samples).astype("<i2").tobytes()


def test_upsampling_20ms_chunks_keeps_a_440hz_tone() -> None:
    caller = ulaw_encode(pcm16(tone(440, 8000, 8000)))  # one second of μ-law at 8 kHz
    up = converter_for(PCMU_8K, PCM16_24K)

    outputs = [up.convert(chunk) for chunk in chunks(caller, 160)]

    assert [len(o) for o in outputs] == [960] * 50  # 20 ms of PCM16 at 24 kHz, every time
    delay, snr = best_delay_snr(as_int16(b"".join(outputs)), 440, 24000, skip=600)
    assert snr > 35, snr  # μ-law alone limits this to about 38–40 dB
    assert delay < 120  # under 5 ms of filter latency


def test_downsampling_20ms_chunks_keeps_a_440hz_tone() -> None:
    agent = pcm16(tone(440, 24000, 24000))
    down = converter_for(PCM16_24K, PCMU_8K)

    outputs = [down.convert(chunk) for chunk in chunks(agent, 960)]

    assert [len(o) for o in outputs] == [160] * 50
    decoded = as_int16(ulaw_decode(b"".join(outputs)))
    delay, snr = best_delay_snr(decoded, 440, 8000, skip=200)
    assert snr > 35, snr
    assert delay < 120
    assert 0.97 < np.std(decoded[200:]) / np.std(tone(440, 8000, 8000)) < 1.03  # passband gain


def test_round_trip_through_the_phone_keeps_the_tone() -> None:
    agent = pcm16(tone(440, 24000, 24000))
    down, up = converter_for(PCM16_24K, PCMU_8K), converter_for(PCMU_8K, PCM16_24K)

    back = b"".join(up.convert(down.convert(chunk)) for chunk in chunks(agent, 960))

    assert len(back) == len(agent)
    delay, snr = best_delay_snr(as_int16(back), 440, 24000, skip=600)
    assert snr > 30, snr
    assert delay < 240


@pytest.mark.parametrize("frequency", [5000, 6000, 7000, 10000])
def test_downsampling_filters_out_what_8khz_cannot_carry(frequency: int) -> None:
    # Above 4 kHz a tone would fold back into the audible band (6 kHz → 2 kHz) without the
    # anti-alias filter.
    down = converter_for(PCM16_24K, PCMU_8K)
    passband = converter_for(PCM16_24K, PCMU_8K)

    folded = as_int16(ulaw_decode(down.convert(pcm16(tone(frequency, 24000, 24000)))))
    kept = as_int16(ulaw_decode(passband.convert(pcm16(tone(440, 24000, 24000)))))

    assert np.std(folded[200:]) < 0.01 * np.std(kept[200:])  # at least 40 dB down


def test_silence_stays_silence() -> None:
    up, down = converter_for(PCMU_8K, PCM16_24K), converter_for(PCM16_24K, PCMU_8K)

    assert up.convert(b"\xff" * 160) == bytes(960)
    assert down.convert(bytes(960)) == b"\xff" * 160


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=12))
def test_upsampling_in_any_chunks_equals_upsampling_at_once(cuts: list[int]) -> None:
    caller = ulaw_encode(pcm16(tone(440, 8000, 1000)))
    whole = converter_for(PCMU_8K, PCM16_24K).convert(caller)
    up = converter_for(PCMU_8K, PCM16_24K)

    pieces, start = [], 0
    for cut in [*sorted(cuts), len(caller)]:
        pieces.append(up.convert(caller[start:cut]))
        start = max(start, cut)

    assert b"".join(pieces) == whole
    assert len(whole) == 6 * len(caller)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1500), min_size=1, max_size=12))
def test_downsampling_in_any_chunks_equals_downsampling_at_once(cuts: list[int]) -> None:
    agent = pcm16(tone(440, 24000, 1500))
    whole = converter_for(PCM16_24K, PCMU_8K).convert(agent)
    down = converter_for(PCM16_24K, PCMU_8K)

    pieces, start = [], 0
    for cut in [*sorted(2 * c for c in cuts), len(agent)]:  # cut on whole samples
        pieces.append(down.convert(agent[start:cut]))
        start = max(start, cut)

    assert b"".join(pieces) == whole
    assert len(whole) == math.ceil(1500 / 3)


@pytest.mark.parametrize(("source", "target"), [(PCMU_8K, PCM16_24K), (PCM16_24K, PCMU_8K)])
def test_an_empty_chunk_converts_to_nothing_and_leaves_the_stream_alone(
    source: AudioFormat, target: AudioFormat
) -> None:
    data = (
        ulaw_encode(pcm16(tone(440, 8000, 480)))
        if source == PCMU_8K
        else pcm16(tone(440, 24000, 480))
    )
    steady, interrupted = converter_for(source, target), converter_for(source, target)

    expected = steady.convert(data[:160]) + steady.convert(data[160:])
    got = [
        interrupted.convert(data[:160]),
        interrupted.convert(b""),
        interrupted.convert(data[160:]),
    ]

    assert got[1] == b""
    assert b"".join(got) == expected


def test_each_converter_keeps_its_own_state() -> None:
    signal = ulaw_encode(pcm16(tone(440, 8000, 320)))
    first, second = converter_for(PCMU_8K, PCM16_24K), converter_for(PCMU_8K, PCM16_24K)

    first.convert(signal[:160])
    continued = first.convert(signal[160:])  # filter history from the first 20 ms
    fresh = second.convert(signal[160:])  # starts from silence

    assert continued != fresh
    assert fresh == converter_for(PCMU_8K, PCM16_24K).convert(signal[160:])


def test_base64_converter_converts_payloads() -> None:
    caller = ulaw_encode(pcm16(tone(440, 8000, 160)))
    payload = base64.b64encode(caller).decode()

    converted = Base64Converter(PCMU_8K, PCM16_24K)(payload)

    assert converted == base64.b64encode(converter_for(PCMU_8K, PCM16_24K).convert(caller)).decode()
    assert duration_ms(converted, PCM16_24K) == 20.0


def test_same_format_passes_through_untouched() -> None:
    data = bytes(range(256))

    assert converter_for(PCMU_8K, PCMU_8K).convert(data) is data
    assert Base64Converter(PCMU_8K, PCMU_8K)("/w==") == "/w=="


# --- which conversions exist ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (PCMU_8K, PCMU_8K, True),
        (PCMA_8K, PCMA_8K, True),
        (PCMU_8K, PCM16_24K, True),
        (PCM16_24K, PCMU_8K, True),
        (PCMA_8K, PCM16_24K, False),
        (PCM16_24K, PCMA_8K, False),
        (PCMU_8K, PCMA_8K, False),
        (AudioFormat("pcm16", 16000), PCM16_24K, False),
    ],
)
def test_can_convert(source: AudioFormat, target: AudioFormat, expected: bool) -> None:
    assert can_convert(source, target) is expected


@pytest.mark.parametrize(
    ("source", "target"),
    [(PCMA_8K, PCM16_24K), (PCMU_8K, PCMA_8K), (AudioFormat("pcm16", 16000), PCMU_8K)],
)
def test_converter_for_an_unknown_pair_says_what_is_supported(
    source: AudioFormat, target: AudioFormat
) -> None:
    with pytest.raises(CompatibilityError) as caught:
        converter_for(source, target)

    assert str(caught.value) == (
        f"no conversion from {source} to {target}; "
        "supported: pcm16@24000→pcmu@8000, pcmu@8000→pcm16@24000"
    )


# --- payload sizes without decoding --------------------------------------------------------


@pytest.mark.parametrize("size", [*range(0, 13), 159, 160, 161, 320, 959, 960])
def test_decoded_length_matches_decoding(size: int) -> None:
    payload = base64.b64encode((bytes(range(256)) * 4)[:size]).decode()

    assert decoded_length(payload) == len(base64.b64decode(payload)) == size


@pytest.mark.parametrize(
    ("size", "fmt", "ms"),
    [
        (160, PCMU_8K, 20.0),
        (8000, PCMU_8K, 1000.0),
        (80, PCMA_8K, 10.0),
        (960, PCM16_24K, 20.0),
        (48000, PCM16_24K, 1000.0),
        (0, PCMU_8K, 0.0),
        (1, PCMU_8K, 0.125),
    ],
)
def test_duration_of_a_payload(size: int, fmt: AudioFormat, ms: float) -> None:
    payload = base64.b64encode(bytes(size)).decode()

    assert duration_ms(payload, fmt) == ms
