"""Tables, capacity and the issue's targets, from a list of run results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Run = Mapping[str, Any]

P99_LIMIT_MS = 50.0
SATURATED = 0.9  # a server above this share of its core is saturated: its CPU ratio is moot
NOISY = 0.15  # other processes took more than this share of a core: the run says little


def trustworthy(run: Run) -> bool:
    """The generator kept up and nothing outside the bench took a sizeable share of a core."""
    noisy = run["cpu"].get("foreign_core_util", 0.0) > NOISY
    return not (run["loadgen"]["fell_behind"] or noisy)


def passes(run: Run) -> bool | None:
    """p99 < 50 ms with nothing lost; None for an untrustworthy run (no verdict)."""
    if not trustworthy(run):
        return None
    frames = run["frames"]
    return bool(
        run["failed_calls"] == 0
        and run["rtt_ms"]["p99"] < P99_LIMIT_MS
        and frames["lost"] == 0
        and frames["duplicated"] == 0
    )


def capacity(runs: Sequence[Run], server: str) -> int:
    """The largest N of the sweep at which ``server`` passes."""
    good = [r["calls"] for r in runs if r["server"] == server and passes(r)]
    return max(good, default=0)


def _verdict(run: Run) -> str:
    if run["loadgen"]["fell_behind"]:
        return "gen-behind"
    if not trustworthy(run):
        return "noisy"
    return "pass" if passes(run) else "FAIL"


def duplex_table(runs: Sequence[Run]) -> str:
    """One row per run: CPU, memory, round trip, frame accounting, the generator's health."""
    head = (
        "| N | server | s | CPU %core/call | server core | RSS KB/call | RTT p50 | p95 | p99 "
        "| max ms | lost/dup/reord | gen late p99 ms | harness core | others | verdict |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in sorted(runs, key=lambda r: (r["calls"], r["server"] != "ours")):
        rtt, fr, cpu = r["rtt_ms"], r["frames"], r["cpu"]
        harness = cpu.get("fake_core_util", 0.0) + cpu.get("loadgen_core_util", 0.0)
        lines.append(
            f"| {r['calls']} | {r['server']} | {r['seconds']:g} "
            f"| {100 * r['server_cpu_per_call_second']:.2f} | {100 * cpu['server_core_util']:.0f}% "
            f"| {r['rss_per_call_kb']:.0f} | {rtt['p50']:.2f} | {rtt['p95']:.2f} "
            f"| {rtt['p99']:.2f} | {rtt['max']:.1f} "
            f"| {fr['lost']}/{fr['duplicated']}/{fr['reordered']} "
            f"| {r['loadgen']['send_lateness_ms']['p99']:.2f} | {100 * harness:.0f}% "
            f"| {100 * cpu.get('foreign_core_util', 0.0):.0f}% | {_verdict(r)} |"
        )
    return "\n".join(lines)


def pairs(runs: Sequence[Run]) -> list[tuple[Run, Run]]:
    """(ours, baseline) runs with the same N and scenario."""
    base = {(r["scenario"], r["calls"]): r for r in runs if r["server"] == "baseline"}
    return [
        (r, base[(r["scenario"], r["calls"])])
        for r in sorted(runs, key=lambda r: r["calls"])
        if r["server"] == "ours" and (r["scenario"], r["calls"]) in base
    ]


def ratio_table(runs: Sequence[Run]) -> str:
    """Ours ÷ baseline at each N: CPU per call-second, RSS per call, p99 round trip."""
    lines = [
        "| N | CPU ratio | RSS/call ratio | p99 ratio | both unsaturated |",
        "|---|---|---|---|---|",
    ]
    for ours, base in pairs(runs):
        lines.append(
            f"| {ours['calls']} | {_ratio(ours, base, 'server_cpu_per_call_second'):.2f} "
            f"| {_ratio(ours, base, 'rss_per_call_kb'):.2f} "
            f"| {ours['rtt_ms']['p99'] / max(base['rtt_ms']['p99'], 1e-9):.2f} "
            f"| {'yes' if _unsaturated(ours, base) else 'no'} |"
        )
    return "\n".join(lines)


def _ratio(ours: Run, base: Run, key: str) -> float:
    return float(ours[key]) / max(float(base[key]), 1e-9)


def _unsaturated(ours: Run, base: Run) -> bool:
    return bool(max(ours["cpu"]["server_core_util"], base["cpu"]["server_core_util"]) < SATURATED)


def rss_slope(runs: Sequence[Run], server: str) -> float | None:
    """Least-squares KB of RSS per extra call across the sweep (loaded RSS against N)."""
    points = [(r["calls"], r["rss_loaded_kb"]) for r in runs if r["server"] == server]
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else None


def turns_table(runs: Sequence[Run]) -> str:
    """The turns figures (ms) for each server."""
    keys = [
        ("greeting_ms", "start → greeting audio"),
        ("greeting_added_ms", "greeting: engine → caller"),
        ("agent_audio_forward_ms", "agent audio: engine → caller"),
        ("turn_ms", "end of speech → answer audio − 500 ms VAD"),
        ("tool_turn_ms", "same, through a tool call"),
        ("clear_after_speech_started_ms", "speech_started → clear at caller"),
        ("truncate_minus_heard_ms", "truncate audio_end_ms − heard"),
    ]
    servers = sorted(
        (r for r in runs if "turns" in r), key=lambda r: (r["server"] != "ours", r["calls"])
    )
    lines = [
        "| figure (ms) | "
        + " | ".join(f"{r['server']} N={r['calls']} p50 / p99 / max" for r in servers)
        + " |"
    ]
    lines.append("|---|" + "---|" * len(servers))
    for key, label in keys:
        cells = []
        for r in servers:
            p = r["turns"][key]
            cells.append("—" if not p["n"] else f"{p['p50']:.1f} / {p['p99']:.1f} / {p['max']:.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for r in runs:
        cpu = r["server_cpu_per_call_second"] * 100
        lines.append(
            f"{r['server']}: {r['calls']} calls, {r['call_seconds']:g} call-seconds, "
            f"CPU {cpu:.2f} %core per call, RSS {r['rss_per_call_kb']:.0f} KB per call "
            f"(loaded {r['rss_loaded_kb']} KB), missing {r['turns']['missing']}, "
            f"generator p99 lateness {r['loadgen']['send_lateness_ms']['p99']:.2f} ms"
        )
    for server in dict.fromkeys(r["server"] for r in servers):
        slope = rss_slope(runs, server)
        if slope is not None:
            lines.append(f"{server}: RSS per additional call (slope over N) {slope:.0f} KB")
    return "\n".join(lines)


def targets(results: Mapping[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target of issue 7 this run can judge."""
    out: list[tuple[str, str, bool | None]] = []
    duplex = results.get("duplex", [])
    judged = [
        (o, b)
        for o, b in pairs(duplex)
        if _unsaturated(o, b) and o["calls"] >= 10 and trustworthy(o) and trustworthy(b)
    ]
    if judged:
        worst = max(_ratio(o, b, "server_cpu_per_call_second") for o, b in judged)
        where = ", ".join(
            f"N={o['calls']}: {_ratio(o, b, 'server_cpu_per_call_second'):.2f}" for o, b in judged
        )
        out.append(
            ("CPU per call-second ≤ 1.5× baseline", f"worst {worst:.2f} ({where})", worst <= 1.5)
        )
    if any(r["server"] == "baseline" for r in duplex):
        ours, base = capacity(duplex, "ours"), capacity(duplex, "baseline")
        met = ours >= 100 and ours >= 0.8 * base
        out.append(
            ("calls at p99 < 50 ms, 0 lost ≥ 0.8× baseline and ≥ 100", f"{ours} vs {base}", met)
        )
    turns = [r for r in results.get("turns", []) if r["server"] == "ours"]
    for scenario, runs, how in (
        ("duplex", duplex, "sweep slope"),
        ("turns", turns, "slope over N"),
    ):
        slope = rss_slope(runs, "ours")
        if slope is not None:
            label = f"RSS per additional call ≤ 100 KB, {scenario}"
            out.append((label, f"{slope:.0f} KB ({how})", slope <= 100))
    checks = [
        ("greeting ≤ 10 ms after the engine's first audio (p99)", "greeting_added_ms", 10.0),
        ("agent audio forwarded ≤ 2 ms p99", "agent_audio_forward_ms", 2.0),
        ("clear ≤ 5 ms after speech_started (p99)", "clear_after_speech_started_ms", 5.0),
    ]
    if turns:
        # Latency is judged at the smallest size; the larger runs exist for the memory slope.
        run = min(turns, key=lambda r: int(r["calls"]))
        for label, key, limit in checks:
            value = run["turns"][key]["p99"]
            out.append((label, f"{value:.1f} ms (N={run['calls']})", value <= limit))
        value = max(r["turns"]["truncate_abs_error_max_ms"] for r in turns)
        out.append(
            ("truncate within 40 ms of what was heard (max)", f"{value:.1f} ms", value <= 40.0)
        )
    for name, figures in (results.get("cold_start") or {}).items():
        if name.startswith("patter"):
            value = figures["median_ms"]
            out.append((f"`{name}` cold start ≤ 300 ms (median)", f"{value:.0f} ms", value <= 300))
    return out


def targets_table(results: Mapping[str, Any]) -> str:
    """The targets as a Markdown table."""
    lines = ["| target | measured | met |", "|---|---|---|"]
    for label, value, met in targets(results):
        lines.append(f"| {label} | {value} | {'—' if met is None else ('yes' if met else 'NO')} |")
    return "\n".join(lines)
