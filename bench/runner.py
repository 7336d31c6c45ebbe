"""One bench run: start the fake engine, the server under test and the load generator, pinned."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .turns import summarize

SERVERS = {"ours": "bench.ours", "baseline": "bench.baseline"}
ROOT = Path(__file__).resolve().parent.parent


def cpu_plan() -> dict[str, int]:
    """Which core each process runs on: the server under test alone on its own core."""
    count = len(os.sched_getaffinity(0))
    cores = sorted(os.sched_getaffinity(0))
    if count < 2:
        return {"server": cores[0], "loadgen": cores[0], "fake": cores[0]}
    return {"server": cores[1], "loadgen": cores[0], "fake": cores[2] if count > 2 else cores[0]}


def _pinned(core: int) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, {core})
        # Ask Linux to SIGTERM the child if the bench dies, so no server is left running.
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)

    return pin


def _spawn(
    module: str, args: Sequence[str], core: int, log: Path, stdout: int | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
        preexec_fn=_pinned(core),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server under test exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server under test never answered /health")


def _stop(proc: subprocess.Popen[str], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def affinity(pid: int) -> str:
    """The Cpus_allowed_list of a live process, as /proc reports it."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    return "?"


def run_once(
    server: str,
    scenario: str,
    calls: int,
    seconds: float,
    workdir: Path,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Run ``calls`` calls of ``scenario`` against ``server`` (ours or baseline)."""
    cores = cpu_plan()
    tag = f"{server}-{scenario}-{calls}"
    fake_log = workdir / f"{tag}.fake.json"
    out = workdir / f"{tag}.loadgen.json"
    fake = _spawn(
        "bench.fake",
        ["--scenario", scenario, "--log", str(fake_log)],
        cores["fake"],
        workdir / f"{tag}.fake.stderr",
        stdout=subprocess.PIPE,
    )
    procs: list[subprocess.Popen[str]] = [fake]
    spy: subprocess.Popen[str] | None = None
    try:
        assert fake.stdout is not None
        url = json.loads(fake.stdout.readline())["url"]
        port = _free_port()
        proc = _spawn(
            SERVERS[server],
            ["--port", str(port), "--fake-url", url, "--scenario", scenario],
            cores["server"],
            workdir / f"{tag}.server.stderr",
        )
        procs.append(proc)
        _wait_healthy(port, proc)
        pinned = {"server": affinity(proc.pid), "fake": affinity(fake.pid)}
        if profile is not None:
            from .profile import record

            spy = record(proc.pid, seconds + 4, profile, cores["loadgen"])
        gen = _spawn(
            "bench.loadgen",
            [
                *("--port", str(port), "--calls", str(calls), "--seconds", str(seconds)),
                *("--scenario", scenario, "--server-pid", str(proc.pid)),
                *("--fake-pid", str(fake.pid), "--out", str(out)),
            ],
            cores["loadgen"],
            workdir / f"{tag}.loadgen.stderr",
        )
        pinned["loadgen"] = affinity(gen.pid)
        code = gen.wait(timeout=seconds * 3 + 120)
        if code != 0:
            stderr = (workdir / f"{tag}.loadgen.stderr").read_text()[-2000:]
            raise RuntimeError(f"the load generator failed ({code}):\n{stderr}")
        if spy is not None:
            spy.wait(timeout=seconds + 60)
    finally:
        for p in reversed(procs):
            _stop(p)
    result: dict[str, Any] = json.loads(out.read_text())
    result.update(server=server, seconds=seconds, cores=pinned)
    if scenario == "turns":
        records = result.pop("turn_records")
        result["turns"] = summarize(records, json.loads(fake_log.read_text()))
    return result
