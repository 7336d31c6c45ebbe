"""Cold start of the ``patter`` command: wall time of fresh subprocesses, several runs each."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "patter plugins": [str(Path(sys.executable).parent / "patter"), "plugins"],
    "patter models": [str(Path(sys.executable).parent / "patter"), "models"],
}


def measure(runs: int = 10) -> dict[str, Any]:
    """Median, min and max wall milliseconds per command (one untimed run first)."""
    out: dict[str, Any] = {}
    for name, argv in COMMANDS.items():
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append((time.perf_counter() - began) * 1000.0)
        out[name] = {
            "runs": runs,
            "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1),
        }
    return out
