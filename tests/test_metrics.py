"""Metrics: a scripted call's turns, latencies, percentiles and costs against hand computation.

Prices here are literal test tables (the values the plugins declared on 2026-11-24), so the
expected figures do not move when a plugin updates its prices.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patter_core.engine import TokenUsage
from patter_core.metrics import (
    DOC_END,
    DOC_START,
    MetricsCollector,
    Percentiles,
    percentile,
    pricing_table_markdown,
    render_docs,
    write_docs,
)
from patter_core.pricing import Pricing
from patter_core.registry import Registry
from patter_core.specs import MinutePrice, PriceTable, TokenPrice

D = Decimal
DOCS = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"

PRICING = Pricing(
    {
        "openai_realtime": PriceTable(
            name="openai_realtime",
            models={
                "gpt-realtime-mini": TokenPrice(
                    text_input=D("0.60"),
                    text_cached_input=D("0.06"),
                    text_output=D("2.40"),
                    audio_input=D("10.00"),
                    audio_cached_input=D("0.30"),
                    audio_output=D("20.00"),
                ),
                "gpt-realtime-2": TokenPrice(
                    text_input=D("4.00"),
                    text_cached_input=D("0.40"),
                    text_output=D("24.00"),
                    audio_input=D("32.00"),
                    audio_cached_input=D("0.40"),
                    audio_output=D("64.00"),
                ),
                "gpt-realtime-whisper": MinutePrice(per_minute=D("0.017"), increment_s=1),
            },
            source="test",
            as_of=dt.date(2026, 11, 24),
        ),
        "twilio": PriceTable(
            name="twilio",
            models={"inbound": MinutePrice(per_minute=D("0.0085"))},
            source="test",
            as_of=dt.date(2026, 11, 24),
        ),
    }
)

# Token usage of each response in the scripted call.
U0 = TokenUsage(input_text=400, output_text=20, output_audio=50)  # the greeting
U1 = TokenUsage(input_text=500, cached_text=400, input_audio=120, output_text=30, output_audio=90)
U2 = TokenUsage(input_text=600, cached_text=500, input_audio=200, cached_audio=100, output_text=25)
U3 = TokenUsage(input_text=700, cached_text=600, output_text=15, output_audio=60)
U4 = TokenUsage(input_text=800, input_audio=300, output_audio=10)  # cancelled by a barge-in
U5 = TokenUsage(
    input_text=900,
    cached_text=800,
    input_audio=350,
    cached_audio=300,
    output_text=20,
    output_audio=120,
)


def scripted_call(model: str = "gpt-realtime-mini", pricing: Pricing = PRICING) -> MetricsCollector:
    """Five turns: greeting, question, tool call cut by a barge-in, cancelled reply, answer."""
    m = MetricsCollector(
        pricing,
        engine="openai_realtime",
        model=model,
        transcription_model="gpt-realtime-whisper",
        carrier="twilio",
        call_id="CA1",
        started_at=100.0,
    )
    # Turn 0: the first message, no caller speech before it.
    m.response_started("r0", 100.20)
    m.agent_audio_sent("a0", "r0", 100.50)
    m.agent_audio_sent("a0", "r0", 100.52)
    m.agent_transcript("a0", "Hi, how can I help?", "r0")
    m.response_done("r0", "completed", U0, 100.60)
    # Turn 1: a question and its answer.
    m.user_speech_started("u1", 102.00)
    m.user_speech_stopped("u1", 103.00)
    m.response_started("r1", 103.25)
    m.agent_audio_sent("a1", "r1", 103.70)
    m.agent_transcript("a1", "We open at nine.", "r1")
    m.response_done("r1", "completed", U1, 104.00)
    m.user_transcript("u1", "What are your hours?", 1.5)
    # Turn 2: a tool call (r2, no audio), then the answer (r3) with a preamble item, cut off.
    m.user_speech_started("u2", 106.00)
    m.user_speech_stopped("u2", 107.00)
    m.response_started("r2", 107.10)
    m.response_done("r2", "completed", U2, 107.40)
    m.response_started("r3", 109.00)
    m.agent_audio_sent("a3a", "r3", 109.40)
    m.agent_audio_sent("a3b", "r3", 109.60)
    m.agent_transcript("a3a", "One moment.", "r3")
    m.agent_transcript("a3b", "Booked for eight.", "r3")
    m.response_done("r3", "completed", U3, 109.70)
    m.user_transcript("u2", "Book a table for two.", 1.2)
    m.user_speech_started("u3", 110.000)  # barge-in while a3b plays
    m.clear_sent(110.004)
    m.interrupted(["a3b"])
    # Turn 3: the caller speaks again before the reply's first audio: r4 is cancelled.
    m.user_speech_stopped("u3", 111.00)
    m.response_started("r4", 111.10)
    m.user_speech_started("u4", 111.20)
    m.response_done("r4", "cancelled", U4, 111.30)
    m.user_transcript("u3", "Actually wait", 0.8)
    # Turn 4: the final answer; its transcript arrives after the response is done.
    m.user_speech_stopped("u4", 112.00)
    m.response_started("r5", 112.20)
    m.agent_audio_sent("a5", "r5", 112.85)
    m.agent_transcript("a5", "Seven it is.", "r5")
    m.response_done("r5", "completed", U5, 113.00)
    m.user_transcript("u4", "Make it seven.", 0.9)
    return m


def test_turns_of_the_scripted_call() -> None:
    turns = scripted_call().turns()
    assert [t.index for t in turns] == [0, 1, 2, 3, 4]
    assert [t.user_text for t in turns] == [
        "",
        "What are your hours?",
        "Book a table for two.",
        "Actually wait",
        "Make it seven.",
    ]
    assert [t.agent_text for t in turns] == [
        "Hi, how can I help?",
        "We open at nine.",
        "One moment. Booked for eight.",
        "",
        "Seven it is.",
    ]
    # latency = first audio sent - end of the caller's speech
    #   turn 1: 103.70 - 103.00 = 700 ms; turn 2: 109.40 - 107.00 = 2400 ms (tool time
    #   included: the caller waited that long); turn 4: 112.85 - 112.00 = 850 ms.
    assert [t.latency_ms for t in turns] == [None, 700.0, 2400.0, None, 850.0]
    # engine TTFA = first audio - start of the response that produced it
    #   0: 100.50 - 100.20 = 300; 1: 103.70 - 103.25 = 450; 2: 109.40 - 109.00 (r3) = 400;
    #   4: 112.85 - 112.20 = 650.
    assert [t.engine_ttfa_ms for t in turns] == [300.0, 450.0, 400.0, None, 650.0]
    assert [t.interrupted for t in turns] == [False, False, True, True, False]
    # barge-in reaction = clear sent - speech started: 110.004 - 110.000 = 4 ms.
    assert [t.barge_in_reaction_ms for t in turns] == [None, None, 4.0, None, None]
    assert [t.responses for t in turns] == [1, 1, 2, 1, 1]
    assert [t.user_speech_end_at for t in turns] == [None, 103.0, 107.0, 111.0, 112.0]
    assert turns[2].first_audio_at == 109.40
    assert turns[2].usage == U2 + U3
    assert [t.transcription_seconds for t in turns] == [0.0, 1.5, 1.2, 0.8, 0.9]


def test_turn_costs_include_the_first_message_and_cancelled_responses() -> None:
    turns = scripted_call().turns()
    # gpt-realtime-mini, USD per 1M tokens: text 0.60 (cached 0.06) / out 2.40,
    # audio 10.00 (cached 0.30) / out 20.00.
    # U0: 400*0.60 + 20*2.40 + 50*20 = 240 + 48 + 1000 = 1288
    # U1: 100*0.60 + 400*0.06 + 120*10 + 30*2.40 + 90*20 = 60+24+1200+72+1800 = 3156
    # U2: 100*0.60 + 500*0.06 + 100*10 + 100*0.30 + 25*2.40 = 60+30+1000+30+60 = 1180
    # U3: 100*0.60 + 600*0.06 + 15*2.40 + 60*20 = 60+36+36+1200 = 1332
    # U4: 800*0.60 + 300*10 + 10*20 = 480+3000+200 = 3680 (cancelled: still billed)
    # U5: 100*0.60 + 800*0.06 + 50*10 + 300*0.30 + 20*2.40 + 120*20 = 60+48+500+90+48+2400 = 3146
    assert [t.cost for t in turns] == [
        D("0.001288"),
        D("0.003156"),
        D("0.002512"),  # (1180 + 1332) / 1M: both responses of the tool turn
        D("0.00368"),
        D("0.003146"),
    ]


def test_call_metrics_of_the_scripted_call() -> None:
    metrics = scripted_call().snapshot(130.5)
    assert metrics.call_id == "CA1" and metrics.model == "gpt-realtime-mini"
    assert metrics.duration_s == 30.5
    assert metrics.responses == 6 and metrics.cancelled_responses == 1
    assert metrics.usage == U0 + U1 + U2 + U3 + U4 + U5
    # Totals: text in 3900 (cached 2300), audio in 970 (cached 400), text out 110, audio out 330.
    # (3900-2300)*0.60 + 2300*0.06 + (970-400)*10 + 400*0.30 + 110*2.40 + 330*20
    #   = 960 + 138 + 5700 + 120 + 264 + 6600 = 13782 -> $0.013782
    assert metrics.cost.engine == D("0.013782")
    assert metrics.cost.engine == sum(t.cost for t in metrics.turns)
    # Transcription: 1.5 + 1.2 + 0.8 + 0.9 = 4.4 s, billed per started second = 5 s at $0.017/min.
    assert metrics.transcription_seconds == pytest.approx(4.4)
    assert metrics.cost.transcription == D(5) * D("0.017") / D(60)
    # Carrier: 30.5 s rounds up to one whole minute at $0.0085.
    assert metrics.carrier_billed_minutes == D(1)
    assert metrics.cost.carrier == D("0.0085")
    assert metrics.cost.total == D("0.013782") + D("0.0085") + D(5) * D("0.017") / D(60)
    assert metrics.priced


def test_latency_percentiles_of_the_scripted_call() -> None:
    metrics = scripted_call().snapshot(130.5)
    # latencies sorted [700, 850, 2400], nearest rank ceil(p/100*3): p50 -> 2nd, p90+ -> 3rd.
    assert metrics.latency == Percentiles(3, 850.0, 2400.0, 2400.0, 2400.0)
    # TTFA sorted [300, 400, 450, 650]: p50 -> rank 2 (400); p90 -> ceil(3.6) = 4 (650).
    assert metrics.engine_ttfa == Percentiles(4, 400.0, 650.0, 650.0, 650.0)
    assert metrics.barge_in_reaction == Percentiles(1, 4.0, 4.0, 4.0, 4.0)


def test_gpt_realtime_2_prices_the_same_call_with_its_own_table() -> None:
    metrics = scripted_call("gpt-realtime-2").snapshot(130.5)
    # 1600*4.00 + 2300*0.40 + 570*32.00 + 400*0.40 + 110*24.00 + 330*64.00
    #   = 6400 + 920 + 18240 + 160 + 2640 + 21120 = 49480 -> $0.04948
    assert metrics.cost.engine == D("0.04948")
    # The greeting: 400*4.00 + 20*24.00 + 50*64.00 = 1600 + 480 + 3200 = 5280 -> $0.00528
    assert metrics.turns[0].cost == D("0.00528")


def test_user_price_overrides_change_the_figures() -> None:
    pricing = PRICING.with_overrides(
        {
            "openai_realtime": {"models": {"gpt-realtime-mini": {"audio_output": "10.00"}}},
            "twilio": {"models": {"inbound": {"per_minute": "0.007"}}},
        }
    )
    metrics = scripted_call(pricing=pricing).snapshot(130.5)
    # Audio out now 10 instead of 20 per 1M: 13782 - 330*10 = 10482 -> $0.010482.
    assert metrics.cost.engine == D("0.010482")
    assert metrics.cost.carrier == D("0.007")


def test_running_snapshot_mid_call() -> None:
    m = MetricsCollector(PRICING, engine="openai_realtime", model="gpt-realtime-mini")
    m.response_started("r0", 0.1)
    m.agent_audio_sent("a0", "r0", 0.4)
    m.response_done("r0", "completed", U0, 0.5)
    m.user_speech_started("u1", 2.0)
    first = m.snapshot(2.5)
    assert [t.index for t in first.turns] == [0, 1]
    assert first.cost.engine == D("0.001288")
    assert first.cost.carrier == 0  # no carrier given
    m.user_speech_stopped("u1", 3.0)
    m.response_started("r1", 3.1)
    m.agent_audio_sent("a1", "r1", 3.5)
    m.response_done("r1", "completed", U1, 3.6)
    second = m.snapshot(4.0)
    assert second.cost.engine == D("0.001288") + D("0.003156")
    assert second.turns[1].latency_ms == 500.0


def test_a_repeated_response_done_is_billed_once() -> None:
    m = MetricsCollector(PRICING, engine="openai_realtime", model="gpt-realtime-mini")
    m.response_done("r0", "completed", U0, 1.0)
    m.response_done("r0", "completed", U0, 1.0)
    assert m.snapshot(2.0).cost.engine == D("0.001288")
    assert m.turns()[0].responses == 1


def test_text_input_opens_a_turn_and_late_transcripts_find_their_turn() -> None:
    m = MetricsCollector(PRICING, engine="openai_realtime", model="gpt-realtime-mini")
    m.user_speech_started("u1", 1.0)
    m.user_speech_stopped("u1", 2.0)
    m.user_input("The caller pressed the key 5.", 3.0)
    m.response_started("r1", 3.2)
    m.agent_audio_sent("a1", "r1", 3.5)
    m.user_transcript("u1", "Hello?")  # the ASR finished after the next turn began
    turns = m.turns()
    assert [(t.index, t.user_text) for t in turns] == [
        (0, "Hello?"),
        (1, "The caller pressed the key 5."),
    ]
    assert turns[1].latency_ms == 500.0


def test_events_without_response_ids_still_land_in_a_turn() -> None:
    m = MetricsCollector(PRICING, engine="openai_realtime", model="gpt-realtime-mini")
    m.agent_audio_sent("a0", "", 1.0)
    m.agent_transcript("a0", "Hello.")
    m.response_done("", "completed", U0, 1.5)
    m.user_transcript("", "Hi.")
    [turn] = m.turns()
    assert (turn.index, turn.user_text, turn.agent_text, turn.cost) == (
        0,
        "Hi.",
        "Hello.",
        D("0.001288"),
    )
    assert turn.engine_ttfa_ms is None  # no response start was reported


def test_an_unpriced_model_reports_zero_cost_not_an_error() -> None:
    m = MetricsCollector(PRICING, engine="acme", model="voice-1", carrier="twilio")
    m.response_done("r0", "completed", U0, 1.0)
    metrics = m.snapshot(61.0)
    assert not metrics.priced
    assert metrics.cost.engine == 0 and metrics.turns[0].cost == 0
    # The carrier's bill is still known: 61 s rounds up to 2 minutes at $0.0085.
    assert metrics.carrier_billed_minutes == D(2)
    assert metrics.cost.total == metrics.cost.carrier == D("0.0170")


# ---------------------------------------------------------------- percentiles


@pytest.mark.parametrize(
    ("p", "expected"), [(5, 15), (30, 20), (40, 20), (50, 35), (90, 50), (100, 50)]
)
def test_nearest_rank_textbook_example(p: float, expected: float) -> None:
    assert percentile([35, 20, 15, 50, 40], p) == expected


def test_percentile_edge_cases() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([1, 2], 50) == 1  # ceil(0.5 * 2) = 1: the lower value
    assert Percentiles.of([None, None]) == Percentiles(0, None, None, None, None)
    with pytest.raises(ValueError):
        percentile([1], 0)
    with pytest.raises(ValueError):
        percentile([1], 101)


@given(
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=60),
    st.integers(1, 100),
)
def test_nearest_rank_definition(values: list[int], p: int) -> None:
    """The result is a sample value with at least p% of the sample at or below it, and the
    smallest such value."""
    result = percentile(values, p)
    assert result in values
    at_or_below = sum(v <= result for v in values)
    below = sum(v < result for v in values)
    assert at_or_below * 100 >= p * len(values)
    assert below * 100 < p * len(values)


# ---------------------------------------------------------------- the pricing table in the docs


def test_pricing_table_markdown_shape() -> None:
    table = pricing_table_markdown(PRICING)
    assert table.startswith("### `openai_realtime`\n")
    assert "| `gpt-realtime-mini` | 0.60 | 0.06 | 2.40 | 10.00 | 0.30 | 20.00 | - | - |" in table
    assert "| `gpt-realtime-whisper` | 0.017 | 1 s |" in table
    assert "| `inbound` | 0.0085 | 60 s |" in table
    assert table.index("`openai_realtime`") < table.index("`twilio`")


def test_render_docs_replaces_only_the_marked_block() -> None:
    text = f"intro\n{DOC_START}\nold table\n{DOC_END}\noutro\n"
    assert render_docs(text, "new\n") == f"intro\n{DOC_START}\nnew\n{DOC_END}\noutro\n"
    with pytest.raises(ValueError, match="pricing-table"):
        render_docs("no markers here", "x")


def test_write_docs_reports_whether_it_changed_the_file(tmp_path: Path) -> None:
    doc = tmp_path / "metrics.md"
    doc.write_text(f"# Metrics\n{DOC_START}\nstale\n{DOC_END}\n")
    assert write_docs(doc, PRICING) is True
    assert pricing_table_markdown(PRICING) in doc.read_text()
    assert write_docs(doc, PRICING) is False


def test_docs_pricing_table_matches_the_registry() -> None:
    """docs/metrics.md shows the installed price tables; regenerate with
    ``python -m patter_core.metrics --write-docs`` (or run this test with PATTER_WRITE_DOCS=1)."""
    pricing = Registry().pricing()
    if os.environ.get("PATTER_WRITE_DOCS") == "1":
        write_docs(DOCS, pricing)
    text = DOCS.read_text(encoding="utf-8")
    assert render_docs(text, pricing_table_markdown(pricing)) == text, (
        "docs/metrics.md's pricing table differs from the registry; run "
        "`python -m patter_core.metrics --write-docs` from the repository root"
    )


def test_write_docs_command(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "metrics.md"
    doc.parent.mkdir()
    doc.write_text(f"{DOC_START}\n{DOC_END}\n")
    command = [sys.executable, "-m", "patter_core.metrics", "--write-docs"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "docs/metrics.md: updated" in done.stdout
    assert "| Model |" in doc.read_text()
    usage = subprocess.run(command[:3], cwd=tmp_path, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stdout
