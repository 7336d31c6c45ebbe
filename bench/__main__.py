"""``python -m bench``: the duplex sweep, the turns scenario and the CLI's cold start.

With no options it runs everything (about ten minutes on two cores) and prints the tables;
see docs/performance.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import coldstart, hotpath, report
from .profile import summarize
from .runner import cpu_plan, run_once

DEFAULT_SWEEP = "1,10,50,100,150,175,200,225,250"
DEFAULT_TURNS_CALLS = "20,40"


def _counts(text: str) -> list[int]:
    """Call counts from ``"1,10,50"``."""
    return [int(n) for n in text.split(",") if n]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Patter's benchmark: our server against the thinnest bridge, same harness.",
    )
    parser.add_argument(
        "--scenario",
        choices=("duplex", "turns", "all"),
        default="all",
        help="duplex: every frame echoed back by the fake engine; turns: greeting, user "
        "turns, barge-in, a tool call; all (default): both, plus the cold start",
    )
    parser.add_argument("--calls", type=int, help="one duplex run with N calls (no sweep)")
    parser.add_argument(
        "--sweep",
        type=_counts,
        default=DEFAULT_SWEEP,
        help=f"duplex call counts (default {DEFAULT_SWEEP})",
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="streamed seconds per duplex call (default 8)"
    )
    parser.add_argument(
        "--large-seconds",
        type=float,
        default=5.0,
        help="streamed seconds per call for N >= 100 (default 5; keeps a sweep short)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        help="rerun a duplex run whose generator fell behind or whose machine was busy (default 1)",
    )
    parser.add_argument(
        "--turns-calls",
        type=_counts,
        default=DEFAULT_TURNS_CALLS,
        help=f"turns call counts (default {DEFAULT_TURNS_CALLS}; two or more give the RSS slope)",
    )
    parser.add_argument(
        "--turns-seconds", type=float, default=16.0, help="seconds per turns call (default 16)"
    )
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run bench/baseline.py after each of our runs (default on)",
    )
    parser.add_argument(
        "--cold-start",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time `patter plugins` / `patter models` (default: with --scenario all)",
    )
    parser.add_argument("--json", type=Path, help="write every result to this JSON file")
    parser.add_argument(
        "--profile",
        type=Path,
        help="one extra duplex run of ours (--profile-calls calls) under py-spy; "
        "collapsed stacks written here and summarized (not part of the tables)",
    )
    parser.add_argument("--profile-calls", type=int, default=50)
    parser.add_argument("--from-json", type=Path, help="print the tables of an earlier --json")
    parser.add_argument("--workdir", type=Path, help="keep the processes' logs here")
    return parser


def _duplex(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    counts = [args.calls] if args.calls else args.sweep
    servers = ["ours", "baseline"] if args.baseline else ["ours"]
    runs = []
    for n in counts:
        seconds = args.large_seconds if n >= 100 and not args.calls else args.seconds
        for server in servers:
            began = time.monotonic()
            run = run_once(server, "duplex", n, seconds, workdir)
            for _ in range(args.retries):
                if report.trustworthy(run):
                    break
                print(f"duplex N={n} {server}: generator behind or machine busy; again", flush=True)
                run = run_once(server, "duplex", n, seconds, workdir)
            run["wall_s"] = round(time.monotonic() - began, 1)
            runs.append(run)
            print(
                f"duplex N={n:<4} {server:<8} p99 {run['rtt_ms']['p99']:7.2f} ms  "
                f"lost {run['frames']['lost']}  CPU {100 * run['server_cpu_per_call_second']:.2f} "
                f"%core/call  ({run['wall_s']} s)",
                flush=True,
            )
    return runs


def _turns(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    servers = ["ours", "baseline"] if args.baseline else ["ours"]
    runs = []
    for n in args.turns_calls:
        for server in servers:
            run = run_once(server, "turns", n, args.turns_seconds, workdir)
            runs.append(run)
            print(f"turns N={n} {server}: RSS {run['rss_loaded_kb']} KB loaded", flush=True)
    return runs


def main() -> int:
    """Run what the options ask for, print the tables, optionally write JSON."""
    args = _parser().parse_args()
    if args.from_json:
        _print(json.loads(args.from_json.read_text()), args)
        return 0
    cores = cpu_plan()
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "pinning": cores,
        }
    }
    print(
        f"pinning: server under test on CPU {cores['server']}, load generator on CPU "
        f"{cores['loadgen']}, fake engine on CPU {cores['fake']} (sched_setaffinity)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="patter-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.scenario in ("duplex", "all"):
            results["duplex"] = _duplex(args, workdir)
        if args.scenario in ("turns", "all"):
            results["turns"] = _turns(args, workdir)
        if args.profile:
            run_once("ours", "duplex", args.profile_calls, 12.0, workdir, args.profile)
            results["profile"] = summarize(args.profile)
    if args.cold_start or (args.cold_start is None and args.scenario == "all"):
        results["cold_start"] = coldstart.measure()
    if args.scenario == "all":
        results["hotpath"] = hotpath.measure()
    _print(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
        print(f"\nresults written to {args.json}")
    return 0


def _print(results: dict[str, Any], args: argparse.Namespace) -> None:
    """Every table for the results at hand."""
    if results.get("duplex"):
        print("\n## Duplex\n\n" + report.duplex_table(results["duplex"]))
        if any(r["server"] == "baseline" for r in results["duplex"]):
            print("\n### Ours ÷ baseline\n\n" + report.ratio_table(results["duplex"]))
            ours = report.capacity(results["duplex"], "ours")
            base = report.capacity(results["duplex"], "baseline")
            print(f"\ncapacity (p99 < 50 ms, 0 lost): ours {ours}, baseline {base}")
    if results.get("turns"):
        print("\n## Turns\n\n" + report.turns_table(results["turns"]))
    if results.get("cold_start"):
        print("\n## Cold start (ms)\n")
        for name, figures in results["cold_start"].items():
            print(f"{name:<16} median {figures['median_ms']:6.1f}  max {figures['max_ms']:6.1f}")
    if results.get("hotpath"):
        print("\n## Python per frame, no sockets (µs)\n\n" + hotpath.table(results["hotpath"]))
    if results.get("profile"):
        print(f"\n## Profile of ours, duplex, {args.profile_calls} calls\n\n{results['profile']}")
    print("\n## Targets (issue 7)\n\n" + report.targets_table(results))


if __name__ == "__main__":
    sys.exit(main())
