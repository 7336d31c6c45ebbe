"""The load generator process: N simulated Twilio calls on one real-time frame clock.

Run as ``python -m bench.loadgen --port P --calls N --seconds S --scenario duplex|turns
--server-pid PID --out PATH``. Each call is a signed voice webhook, then a signed media
WebSocket carrying ``connected``, ``start`` and tagged 20 ms frames on an absolute schedule
(call i is offset by i/N of a frame, so the load is spread as real calls spread it).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from .caller import PROBE_K, Call
from .common import (
    AUTH_TOKEN,
    FRAME_S,
    PUBLIC_URL,
    VOICE_PATH,
    WARMUP_INDEX,
    core_busy_seconds,
    cpu_seconds,
    frame_rest,
    percentiles,
    rss_kb,
)
from .wsclient import WsClient

SEND, MARKS = 0, 1
SETUP_CONCURRENCY = 16
DRAIN_S = 1.0
FELL_BEHIND_P99_MS = 5.0  # the generator "fell behind" when p99 send lateness exceeds this


class Scheduler:
    """One timer loop for every call: frames on their due times, mark echoes when played."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, int, Call]] = []
        self._seq = itertools.count()

    def push(self, due: float, kind: int, call: Call) -> None:
        heapq.heappush(self.heap, (due, next(self._seq), kind, call))

    def mark_due(self, due: float, call: Call) -> None:
        self.push(due, MARKS, call)

    async def run(self, until: float) -> None:
        """Fire due entries until ``until`` (monotonic); a call's frames stop after its last."""
        heap = self.heap
        while True:
            now = time.monotonic()
            if now >= until:
                return
            while heap and heap[0][0] <= now:
                due, _, kind, call = heapq.heappop(heap)
                if kind == SEND:
                    if call.send_frame(due):
                        self.push(due + FRAME_S, SEND, call)
                else:
                    call.echo_due(now)
            delay = (heap[0][0] if heap else now + 0.005) - time.monotonic()
            await asyncio.sleep(min(max(delay, 0.0), 0.005, until - time.monotonic()))


async def place(call: Call, http: Any, base_url: str) -> None:
    """The signed voice webhook, the TwiML's stream, and the signed media WebSocket."""
    from patter_twilio.signatures import Params, compute_signature

    form = {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call.call_sid,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+15551230000",
        "To": "+15555550100",
    }
    signature = compute_signature(AUTH_TOKEN, PUBLIC_URL + VOICE_PATH, Params(form.items()))
    response = await http.post(
        base_url + VOICE_PATH, data=form, headers={"X-Twilio-Signature": signature}
    )
    response.raise_for_status()
    stream = ElementTree.fromstring(response.text).find("./Connect/Stream")
    if stream is None:
        raise RuntimeError(f"no <Connect><Stream> in the TwiML: {response.text[:200]}")
    stream_url = stream.get("url", "")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    headers = {"X-Twilio-Signature": compute_signature(AUTH_TOKEN, stream_url)}
    local = urlsplit(base_url)
    call.ws = await WsClient.connect(
        local.hostname or "127.0.0.1",
        local.port or 80,
        urlsplit(stream_url).path,
        headers,
        call.on_text,
    )
    call.send_connected_and_start(parameters)


async def place_all(calls: list[Call], base_url: str) -> int:
    """Place every call, a few at a time; returns how many failed."""
    import httpx

    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    failed = 0

    async def one(call: Call, http: httpx.AsyncClient) -> None:
        nonlocal failed
        async with gate:
            try:
                await place(call, http, base_url)
            except Exception as exc:
                failed += 1
                print(f"call {call.index} failed to set up: {exc!r}", flush=True)

    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
        await asyncio.gather(*(one(c, http) for c in calls))
    return failed


def hang_up(calls: list[Call]) -> None:
    """Send ``stop`` and a close frame on every stream."""
    for call in calls:
        call.send_stop()
        if call.ws is not None:
            call.ws.close()


async def wait_closed(calls: list[Call], timeout: float = 10.0) -> None:
    """Wait for the server to close every stream; abort the ones it leaves open."""
    waits = [c.ws.closed for c in calls if c.ws is not None]
    if waits:
        await asyncio.wait(waits, timeout=timeout)
    for call in calls:
        if call.ws is not None and not call.ws.closed.done():
            call.ws.abort()


class Sampler:
    """CPU time of the server under test, the fake engine and this process over a window."""

    def __init__(self, server_pid: int, fake_pid: int) -> None:
        self.pids = {"server": server_pid, "fake": fake_pid, "loadgen": os.getpid()}
        self.cpu0: dict[str, float] = {}
        self.cores0: dict[int, float] = {}
        self.t0 = 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items() if pid}
        self.cores0 = core_busy_seconds()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        out = {"window_s": round(wall, 3)}
        for name, pid in self.pids.items():
            if pid:
                out[f"{name}_cpu_s"] = round(cpu_seconds(pid) - self.cpu0[name], 4)
                out[f"{name}_core_util"] = round(out[f"{name}_cpu_s"] / wall, 4)
        # What else ran: each core's busy time minus the bench processes pinned to it.
        own = {c: 0.0 for c in self.cores0}
        for name, pid in self.pids.items():
            if pid:
                for core in os.sched_getaffinity(pid):
                    own[core] += out[f"{name}_cpu_s"] / len(os.sched_getaffinity(pid))
        busy = core_busy_seconds()
        out["foreign_core_util"] = round(
            max(max(0.0, busy[c] - self.cores0[c] - own[c]) for c in own) / wall, 3
        )
        return out


async def warm_up(base_url: str, rests: tuple[str, str], scheduler: Scheduler, turns: bool) -> None:
    """One call first, so lazy imports and first-use costs are not billed to the run.

    In the turns scenario it runs one whole cycle of the script (greeting, answer, barge-in,
    tool call), so the figures per call are what each *additional* call costs.
    """
    from .turns import CYCLE_S, script

    seconds = CYCLE_S + 4.0 if turns else 1.0
    call = Call(WARMUP_INDEX, int(seconds / FRAME_S), rests, scheduler.mark_due, agent_tags=turns)
    if await place_all([call], base_url):
        raise RuntimeError("the warm-up call could not be placed")
    if turns:
        ticker = asyncio.create_task(scheduler.run(time.monotonic() + seconds + 10.0))
        scheduler.push(time.monotonic(), SEND, call)
        await script(call, call.started_at + seconds)
        ticker.cancel()
    else:
        call.send_media(PROBE_K)
        await asyncio.wait_for(call.probe.wait(), 20.0)
    hang_up([call])
    await wait_closed([call])


async def _duplex(
    args: argparse.Namespace, calls: list[Call], scheduler: Scheduler, sampler: Sampler
) -> dict[str, Any]:
    """Every call set up and answering, then all stream together for ``--seconds``."""
    result: dict[str, Any] = {
        "failed_calls": await place_all(calls, f"http://127.0.0.1:{args.port}")
    }
    for call in calls:
        call.send_media(PROBE_K)
    await asyncio.wait_for(asyncio.gather(*(c.probe.wait() for c in calls)), 60.0)
    result["rss_connected_kb"] = rss_kb(args.server_pid)
    t0 = time.monotonic() + 0.2
    for i, call in enumerate(calls):
        scheduler.push(t0 + i * FRAME_S / len(calls), SEND, call)
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    sampler.start()
    await scheduler.run(t0 + args.seconds)
    result["cpu"] = sampler.stop()
    result["rss_loaded_kb"] = rss_kb(args.server_pid)
    await scheduler.run(time.monotonic() + DRAIN_S)
    result["call_seconds"] = args.calls * args.seconds
    result["rtt_ms"] = percentiles([x for c in calls for x in c.rtt_ms])
    totals: dict[str, int] = {}
    for call in calls:
        for key, value in call.loss().items():
            totals[key] = totals.get(key, 0) + value
    result["frames"] = totals
    if args.trace:
        _trace(calls, t0, args.trace)
    return result


def _trace(calls: list[Call], t0: float, path: str) -> None:
    """Worst round trip per 100 ms of the run, to see whether the tail is spread or bunched."""
    worst: dict[int, float] = {}
    for call in calls:
        for at, rtt in zip(call.rtt_at, call.rtt_ms, strict=True):
            slot = int((at - t0) * 10)
            worst[slot] = max(worst.get(slot, 0.0), rtt)
    with open(path, "w") as handle:
        json.dump([[slot / 10, round(ms, 2)] for slot, ms in sorted(worst.items())], handle)


async def _turns(
    args: argparse.Namespace, calls: list[Call], scheduler: Scheduler, sampler: Sampler
) -> dict[str, Any]:
    """Calls start a few at a time; each streams and runs its turns script from its start."""
    from .turns import script

    sampler.start()
    setup = asyncio.create_task(place_all(calls, f"http://127.0.0.1:{args.port}"))
    ticker = asyncio.create_task(scheduler.run(time.monotonic() + args.seconds + 60.0))
    scripts = []
    for i, call in enumerate(calls):
        while not call.started_at and not setup.done():
            await asyncio.sleep(0.005)
        if not call.started_at:
            continue  # its set-up failed
        scheduler.push(call.started_at + i * FRAME_S / len(calls), SEND, call)
        scripts.append(asyncio.create_task(script(call, call.started_at + args.seconds)))
    result: dict[str, Any] = {"failed_calls": await setup}
    plans = await asyncio.gather(*scripts)
    result["cpu"] = sampler.stop()
    result["rss_loaded_kb"] = rss_kb(args.server_pid)
    ticker.cancel()
    result["call_seconds"] = round(sum(c.k for c in calls) * FRAME_S, 2)
    started = [c for c in calls if c.started_at]
    result["turn_records"] = [
        {**c.turns_record(), **plan} for c, plan in zip(started, plans, strict=True)
    ]
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, place the calls, stream, hang up; the figures the generator can see."""
    turns = args.scenario == "turns"
    rests = (frame_rest(tone=False), frame_rest(tone=True))
    scheduler = Scheduler()
    await warm_up(f"http://127.0.0.1:{args.port}", rests, scheduler, turns)
    await asyncio.sleep(0.5)
    rss_idle = rss_kb(args.server_pid)
    frames = int(args.seconds / FRAME_S)
    calls = [
        Call(i, frames, rests, scheduler.mark_due, agent_tags=turns) for i in range(args.calls)
    ]
    sampler = Sampler(args.server_pid, args.fake_pid)
    body = _turns if turns else _duplex
    result = await body(args, calls, scheduler, sampler)
    hang_up(calls)
    await wait_closed(calls)
    lateness = percentiles([x for c in calls for x in c.lateness_ms])
    call_seconds = max(float(result["call_seconds"]), 1e-9)
    result.update(
        scenario=args.scenario,
        calls=args.calls,
        rss_idle_kb=rss_idle,
        rss_per_call_kb=round((result["rss_loaded_kb"] - rss_idle) / max(1, args.calls), 1),
        server_cpu_per_call_second=round(result["cpu"]["server_cpu_s"] / call_seconds, 5),
        loadgen={
            "send_lateness_ms": lateness,
            "fell_behind": lateness["p99"] > FELL_BEHIND_P99_MS,
            "marks_echoed": sum(c.marks_echoed for c in calls),
            "unexpected_messages": sum(c.other for c in calls),
        },
    )
    return result


def main() -> None:
    """Parse the options, run, and write the result as JSON."""
    parser = argparse.ArgumentParser(description="The bench's load generator.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scenario", choices=("duplex", "turns"), default="duplex")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--fake-pid", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--trace", help="write the worst round trip per 100 ms here (duplex)")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    with open(args.out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
