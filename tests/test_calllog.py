"""The call log (atomic JSON lines, torn-line tolerance) and the `patter calls` commands."""

from __future__ import annotations

import datetime as dt
import json
import stat
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from test_metrics import PRICING, scripted_call

from patter_core.calllog import DEFAULT_DIR, ENV_DIR, CallLog, call_record
from patter_core.carrier import InboundCall
from patter_core.cli import main
from patter_core.engine import TokenUsage
from patter_core.metrics import MetricsCollector
from patter_core.pricing import CostBreakdown
from patter_core.records import CallResult, TranscriptEntry

UTC = dt.UTC
DAY1 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DAY2 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def record(call_id: str, **fields: Any) -> dict[str, Any]:
    return {"call_id": call_id, "caller": "+15555550111", **fields}


def test_append_and_read_back(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls")
    path = log.append(record("CA1", cost={"total": Decimal("0.0123")}), at=DAY1)
    assert path == tmp_path / "calls" / "calls-2026-11-24.jsonl"
    [line] = path.read_text().splitlines()
    assert json.loads(line) == {
        "logged_at": "2026-11-24T09:00:00+00:00",
        "call_id": "CA1",
        "caller": "+15555550111",
        "cost": {"total": "0.0123"},  # Decimal written as exact text, not a float
    }
    assert log.get("CA1") == json.loads(line)
    assert log.get("CA2") is None


def test_files_are_private_to_their_owner(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "calls")
    path = log.append(record("CA1"), at=DAY1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "calls").stat().st_mode) == 0o700


def test_one_file_per_utc_day(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    # 23:30 in New York on the 24th is already the 25th in UTC.
    new_york = dt.timezone(dt.timedelta(hours=-5))
    late = dt.datetime(2026, 11, 24, 23, 30, tzinfo=new_york)
    assert log.append(record("CA1"), at=late).name == "calls-2026-11-25.jsonl"


def test_recent_is_newest_first_across_days(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    log.append(record("CA1"), at=DAY1)
    log.append(record("CA2"), at=DAY1 + dt.timedelta(hours=1))
    log.append(record("CA3"), at=DAY2)
    assert [r["call_id"] for r in log.recent(10)] == ["CA3", "CA2", "CA1"]
    assert [r["call_id"] for r in log.recent(2)] == ["CA3", "CA2"]
    assert [r["call_id"] for r in log.find("CA")] == ["CA3", "CA2", "CA1"]


def test_a_torn_last_line_is_skipped_and_earlier_calls_survive(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    path = log.append(record("CA1"), at=DAY1)
    log.append(record("CA2"), at=DAY1)
    # A writer that crashed halfway through its line:
    with path.open("ab") as f:
        f.write(b'{"call_id": "CA3", "caller": "+1555')
    assert [r["call_id"] for r in log.recent(10)] == ["CA2", "CA1"]
    # The next record starts on a line of its own instead of being glued to the torn one.
    log.append(record("CA4"), at=DAY1)
    assert [r["call_id"] for r in log.recent(10)] == ["CA4", "CA2", "CA1"]
    lines = path.read_bytes().split(b"\n")
    assert lines[2] == b'{"call_id": "CA3", "caller": "+1555'
    assert json.loads(lines[3])["call_id"] == "CA4"


def test_lines_that_are_not_call_records_are_skipped(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    path = log.append(record("CA1"), at=DAY1)
    with path.open("a") as f:
        f.write('[1, 2, 3]\n{"no_call_id": true}\nnot json at all\n\n')
    log.append(record("CA2"), at=DAY1)
    assert [r["call_id"] for r in log.recent(10)] == ["CA2", "CA1"]


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    big = "x" * 20_000  # well above a pipe buffer: a split write would show

    def writer(n: int) -> None:
        for i in range(25):
            log.append(record(f"CA{n}-{i}", padding=big), at=DAY1)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "calls-2026-11-24.jsonl").read_text().splitlines()
    assert len(lines) == 150
    assert {json.loads(line)["call_id"] for line in lines} == {
        f"CA{n}-{i}" for n in range(6) for i in range(25)
    }


def test_a_record_needs_a_call_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="call_id"):
        CallLog(tmp_path).append({"caller": "+1"})
    assert list(tmp_path.iterdir()) == []


def test_directory_from_the_environment_or_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_DIR, raising=False)
    assert CallLog().directory == Path(DEFAULT_DIR)
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "elsewhere"))
    assert CallLog().directory == tmp_path / "elsewhere"
    assert CallLog(tmp_path / "given").directory == tmp_path / "given"


def test_a_missing_directory_reads_as_empty(tmp_path: Path) -> None:
    log = CallLog(tmp_path / "never-written")
    assert log.recent() == [] and log.get("CA1") is None


# ---------------------------------------------------------------- a real call's record


def finished_call() -> dict[str, Any]:
    metrics = scripted_call().snapshot(130.5)
    result = CallResult(
        call=InboundCall("CA0123456789", "+15555550111", "+15555550100"),
        stream_id="MZ1",
        started_at=dt.datetime(2026, 11, 24, 14, 3, 22, tzinfo=UTC).timestamp(),
        duration_s=30.5,
        transcript=(
            TranscriptEntry("agent", "Hi, how can I help?", "a0", 1.0),
            TranscriptEntry("user", "What are your hours?", "u1", 2.0),
            TranscriptEntry("user", "What are", "u1", 2.0, final=False),
            TranscriptEntry("agent", "Booked for eight.", "a3b", 3.0, interrupted=True),
        ),
        usage=metrics.usage,
        transcription_seconds=metrics.transcription_seconds,
        cost=metrics.cost,
        end_reason="caller hung up",
    )
    return call_record(result, metrics)


def test_call_record_of_a_finished_call() -> None:
    r = json.loads(json.dumps(finished_call()))  # plain JSON all the way down
    assert r["call_id"] == "CA0123456789"
    assert r["started_at"] == "2026-11-24T14:03:22+00:00"
    assert r["ended_at"] == "2026-11-24T14:03:52.500000+00:00"
    assert (r["caller"], r["callee"], r["direction"]) == ("+15555550111", "+15555550100", "inbound")
    assert r["transcript"] == [
        {"role": "agent", "text": "Hi, how can I help?", "interrupted": False},
        {"role": "user", "text": "What are your hours?", "interrupted": False},
        {"role": "agent", "text": "Booked for eight.", "interrupted": True},
    ]
    # 0.013782 engine + 0.0085 carrier + 5 s of transcription at 0.017/min
    total = Decimal("0.013782") + Decimal("0.0085") + Decimal(5) * Decimal("0.017") / 60
    assert Decimal(r["cost"]["total"]) == total
    assert r["metrics"]["cost"]["total"] == r["cost"]["total"]
    assert [t["index"] for t in r["metrics"]["turns"]] == [0, 1, 2, 3, 4]
    assert r["metrics"]["latency"]["p50"] == 850.0
    assert r["usage"]["output_audio"] == 330


def test_call_record_without_metrics_or_price() -> None:
    result = CallResult(
        call=None,
        stream_id="MZ9",
        started_at=0.0,
        duration_s=0.0,
        transcript=(),
        usage=TokenUsage(),
        transcription_seconds=0.0,
        cost=None,
        end_reason="refused",
    )
    r = call_record(result, None, agent="support")
    assert (r["call_id"], r["cost"], r["metrics"], r["agent"]) == ("MZ9", None, None, "support")
    unpriced = CostBreakdown(engine=Decimal("0.5"))
    assert call_record(attrs.evolve(result, cost=unpriced))["cost"] == {
        "engine": "0.5",
        "transcription": "0",
        "carrier": "0",
        "currency": "USD",
        "total": "0.5",
    }


# ---------------------------------------------------------------- `patter calls`


@pytest.fixture
def logged(tmp_path: Path) -> Path:
    log = CallLog(tmp_path / "log")
    log.append(finished_call(), at=DAY1)
    log.append(
        record(
            "CA99",
            started_at="2026-11-25T08:00:00+00:00",
            duration_s=4.2,
            end_reason="engine error: boom",
            cost={"total": "0.001"},
        ),
        at=DAY2,
    )
    return log.directory


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["calls", *args], catch_exceptions=False)


def test_patter_calls_lists_recent_calls(logged: Path) -> None:
    done = invoke("--dir", str(logged))
    assert done.exit_code == 0
    header, newest, oldest = done.output.splitlines()
    assert header.split() == ["TIME", "(UTC)", "CALL", "ID", "CALLER", "DURATION", "COST", "END"]
    assert newest.split() == [
        "2026-11-25",
        "08:00:00",
        "CA99",
        "+15555550111",
        "0:04",
        "$0.0010",
        "engine",
        "error:",
        "boom",
    ]
    assert oldest.split()[:6] == [
        "2026-11-24",
        "14:03:22",
        "CA0123456789",
        "+15555550111",
        "0:30",  # 30.5 s, whole seconds shown
        "$0.0237",  # 0.022282 + 0.085/60 = 0.0236986... to 4 places
    ]
    assert oldest.endswith("caller hung up")


def test_patter_calls_limit_and_json(logged: Path) -> None:
    done = invoke("--dir", str(logged), "-n", "1", "--json")
    assert done.exit_code == 0
    assert [c["call_id"] for c in json.loads(done.output)["calls"]] == ["CA99"]


def test_patter_calls_reads_the_environment_directory(
    logged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DIR, str(logged))
    assert "CA99" in invoke().output


def test_patter_calls_with_an_empty_log(tmp_path: Path) -> None:
    done = invoke("--dir", str(tmp_path / "none"))
    assert done.exit_code == 0 and "No calls logged in" in done.output


def test_patter_calls_show_prints_transcript_metrics_and_cost(logged: Path) -> None:
    done = invoke("show", "CA0123456789", "--dir", str(logged))
    assert done.exit_code == 0
    out = done.output
    assert "Call CA0123456789 (inbound)" in out
    assert "from      +15555550111  to +15555550100" in out
    assert "model     openai_realtime gpt-realtime-mini" in out
    assert "agent: Hi, how can I help?" in out
    assert " user: What are your hours?" in out
    assert "agent: Booked for eight.  [interrupted]" in out
    rows = [line.split() for line in out.splitlines()]
    turn_rows = [row for row in rows if row and row[0].isdigit()]
    assert [row[0] for row in turn_rows] == ["0", "1", "2", "3", "4"]
    assert turn_rows[1] == ["1", "700", "ms", "450", "ms", "-", "$0.003156"]
    assert turn_rows[2] == ["2", "2400", "ms", "400", "ms", "4", "ms", "$0.002512", "interrupted"]
    assert "latency p50/p90/p95/p99: 850 ms / 2400 ms / 2400 ms / 2400 ms (n=3)" in out
    assert ["engine", "$0.013782"] in rows
    assert ["transcription", "$0.001417"] in rows  # 5 s * 0.017 / 60 = 0.0014166...
    assert ["carrier", "$0.008500"] in rows
    assert ["total", "$0.023699"] in rows  # 0.0236986... to 6 places
    assert "carrier billed minutes: 1" in out


def test_patter_calls_show_by_prefix_and_group_dir(logged: Path) -> None:
    done = invoke("--dir", str(logged), "show", "CA01")
    assert done.exit_code == 0 and "Call CA0123456789" in done.output
    as_json = invoke("--dir", str(logged), "show", "CA99", "--json")
    assert json.loads(as_json.output)["end_reason"] == "engine error: boom"


def test_patter_calls_show_unknown_and_ambiguous(logged: Path) -> None:
    missing = invoke("show", "CA42", "--dir", str(logged))
    assert missing.exit_code == 1 and "no call 'CA42'" in missing.output
    ambiguous = invoke("show", "CA", "--dir", str(logged))
    assert ambiguous.exit_code == 1
    assert "'CA' matches several calls: CA99, CA0123456789" in ambiguous.output


def test_an_unpriced_call_shows_as_such(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    metrics = MetricsCollector(PRICING, engine="acme", model="x").snapshot(5.0)
    log.append(record("CA7", metrics=None, cost=None, duration_s=metrics.duration_s), at=DAY1)
    out = invoke("show", "CA7", "--dir", str(tmp_path)).output
    assert "(not priced)" in out and "(empty)" in out
    listed = invoke("--dir", str(tmp_path)).output.splitlines()[1].split()
    assert listed[3:5] == ["0:05", "-"]
