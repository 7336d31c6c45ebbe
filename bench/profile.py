"""A py-spy profile of our server under duplex load, summed by function and by layer."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

LAYERS = (
    "patter_core",
    "patter_twilio",
    "patter_openai_realtime",
    "websockets",
    "uvicorn",
    "starlette",
    "asyncio",
    "selectors",
    "json",
    "random",
)


def record(pid: int, seconds: float, path: Path, core: int) -> subprocess.Popen[str]:
    """Start py-spy sampling ``pid`` at 100 Hz for ``seconds``; collapsed stacks to ``path``."""
    import os

    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        raise SystemExit("--profile needs py-spy: /work/venv/bin/pip install py-spy")
    return subprocess.Popen(
        [
            *(str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds))),
            *("--rate", "100", "--format", "raw", "-o", str(path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    )


def _layer(frame: str) -> str:
    match = re.search(r"\(([^)]*)\)", frame)
    where = match.group(1) if match else frame
    return next((name for name in LAYERS if name in where), where.split("/")[0] or "?")


def summarize(path: Path, top: int = 15) -> str:
    """Busy samples (idle epoll waits left out) by layer and by function, self time."""
    by_function: Counter[str] = Counter()
    by_layer: Counter[str] = Counter()
    idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = re.sub(r":\d+\)", ")", stack.split(";")[-1])
        if "EpollSelector.select" in leaf:
            idle += int(count)
            continue
        by_function[leaf] += int(count)
        by_layer[_layer(leaf)] += int(count)
    busy = sum(by_function.values()) or 1
    lines = [f"{busy} busy samples, {idle} idle; self time by layer:"]
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in by_layer.most_common(10)]
    lines.append("self time by function:")
    lines += [f"  {100 * n / busy:5.1f}%  {name}" for name, n in by_function.most_common(top)]
    return "\n".join(lines)
