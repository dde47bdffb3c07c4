"""The desk's live updates under load: event fan-out to 500 event-stream clients, and ring →
panel on the seat's stream.

Three processes, as in production: the server (``hotline serve``), redis-server, and (for the
ring phase) the Asterisk stand-in with scripted callers and operators (``hotline simulate``).
The clients are in this process: one aiohttp ClientSession with an unlimited connector holds
500 ``GET /api/events?operator=<seat>`` streams, one per seat (1001-1500), each authenticated
with the admin's API token (an operator's own token would be forced to the same filter).

1. Fan-out: this process XADDs 200 events/s into the server's Redis stream (fields type, ts
   and data, as the store's ``publish`` does), each addressed to one seat in turn, with its
   publish time in its data. Delivery latency = receive time - publish time (one clock).
   The server's CPU is measured over the window (psutil; % of one core).
2. Ring → panel: with the 200 events/s still flowing, the stand-in places calls to the 500
   ready seats; the server rings a seat and publishes ``desk.offer`` with the panel (the
   caller's history from the ticket database, the IVR path, what they said while waiting);
   pop latency = its arrival on that seat's stream - ``rang_at`` (the server's ring time,
   taken when the stand-in accepted the originate).
3. Boards (unless --no-boards): the same 500 clients with no filter, each taking every event
   (``--board-rate`` events/s, so rate × 500 deliveries/s).

Targets (issue #14): delivery p99 < 100 ms at 500 clients and 200 events/s; pop p99 < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, get_json, pct, print_table, seats_toml, start_stack, write_results

TOKEN = "bench-desk-admin-token"
FIRST_SEAT = 1001
STREAM = "hotline:events"
TICK = "bench.tick"


@dataclass
class Sink:
    """What the clients saw: (publish time, latency s) per tick, latency per offer."""

    ticks: list[tuple[float, float]] = field(default_factory=list)
    offers: dict[str, float] = field(default_factory=dict)  # call id → pop latency s
    offers_wrong_seat: int = 0
    expected: int = 0
    connected: int = 0
    dropped: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)


async def client(
    http: aiohttp.ClientSession, url: str, seat: str, sink: Sink, gate: asyncio.Semaphore
) -> None:
    """One browser tab's event stream: reconnects with its last id if cut, like the desk."""
    last, first = "", True
    while True:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if last:
            headers["Last-Event-ID"] = last
        try:
            async with gate:
                resp = await http.get(url, headers=headers, timeout=aiohttp.ClientTimeout())
            async with resp:
                resp.raise_for_status()
                if first:
                    sink.connected += 1
                    first = False
                    if sink.connected >= sink.expected:
                        sink.all_in.set()
                last = await read_stream(resp, seat, sink, last)
        except (TimeoutError, aiohttp.ClientError):
            pass
        sink.dropped += 1
        await asyncio.sleep(0.5)


async def read_stream(resp: aiohttp.ClientResponse, seat: str, sink: Sink, last: str) -> str:
    kind, data = "", ""
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            last = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and data:
            record(kind, data, seat, sink, time.time())
            kind, data = "", ""
    return last


def record(kind: str, data: str, seat: str, sink: Sink, now: float) -> None:
    if kind == TICK:
        sent = json.loads(data)["sent"]
        sink.ticks.append((sent, now - sent))
    elif kind == "desk.offer":
        panel = json.loads(data)
        if seat and panel.get("operator") != seat:
            sink.offers_wrong_seat += 1
        sink.offers.setdefault(panel["call_id"], now - float(panel["rang_at"]))


async def publisher(
    redis_url: str, rate: float, seats: list[str], stop: asyncio.Event, sent: list[float]
) -> None:
    """``rate`` events/s on an absolute schedule, each to the next seat in turn."""
    r = aioredis.Redis.from_url(redis_url)
    t0, n = time.monotonic(), 0
    try:
        while not stop.is_set():
            due = t0 + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.time()
            data = {"operator": seats[n % len(seats)], "sent": now, "n": n}
            await r.xadd(
                STREAM,
                {"type": TICK, "ts": f"{now:.3f}", "data": json.dumps(data)},
                maxlen=100_000,
                approximate=True,
            )
            sent.append(now)
            n += 1
    finally:
        await r.aclose()


class Cpu:
    """CPU time of some processes over a window, in % of one core."""

    def __init__(self, **pids: int) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.start: dict[str, float] = {}
        self.t0 = 0.0

    def _times(self) -> dict[str, float]:
        out = {}
        for name, p in self.procs.items():
            t = p.cpu_times()
            out[name] = t.user + t.system
        return out

    def begin(self) -> None:
        self.start, self.t0 = self._times(), time.monotonic()

    def end(self) -> dict[str, float]:
        now, wall = self._times(), time.monotonic() - self.t0
        return {name: round(100 * (now[name] - self.start[name]) / wall, 1) for name in now}


@dataclass
class Run:
    base: str
    redis_url: str
    seats: list[str]
    cpu: Cpu
    sink: Sink = field(default_factory=Sink)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def connect(self, http: aiohttp.ClientSession, filtered: bool) -> None:
        self.sink = Sink(expected=len(self.seats))
        gate = asyncio.Semaphore(50)  # connect 50 at a time, as tabs opening over a minute
        for seat in self.seats:
            query = f"?operator={seat}" if filtered else ""
            url = f"{self.base}/api/events{query}"
            self.tasks.append(
                asyncio.create_task(client(http, url, seat if filtered else "", self.sink, gate))
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sink.all_in.wait(), 60)

    async def disconnect(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


async def fanout(run: Run, rate: float, seconds: float, warmup: float = 2.0) -> dict[str, Any]:
    """Publish at ``rate`` for warmup + seconds (+ 1 s to drain); latencies of the events
    published inside the window."""
    stop, sent = asyncio.Event(), list[float]()
    pub = asyncio.create_task(publisher(run.redis_url, rate, run.seats, stop, sent))
    await asyncio.sleep(warmup)
    w0 = time.time()
    run.cpu.begin()
    await asyncio.sleep(seconds)
    w1 = time.time()
    cpu = run.cpu.end()
    stop.set()
    await pub
    await asyncio.sleep(1.0)
    return window(run.sink, sent, w0, w1, cpu)


def window(sink: Sink, sent: list[float], w0: float, w1: float, cpu: dict) -> dict[str, Any]:
    lat = [d * 1000 for s, d in sink.ticks if w0 <= s < w1]
    published = sum(w0 <= s < w1 for s in sent)
    return {
        "published": published,
        "events_per_s": round(published / (w1 - w0), 1),
        "delivered": len(lat),
        "p50_ms": round(pct(lat, 0.5), 2),
        "p99_ms": round(pct(lat, 0.99), 2),
        "max_ms": round(max(lat, default=float("nan")), 2),
        "cpu_percent": cpu,
        "dropped_streams": sink.dropped,
    }


async def ring_phase(run: Run, stack: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Calls through the stand-in while the ticks still flow: offer → seat's stream."""
    duration = 10.0 if args.quick else 30.0
    hotline = str(Path(sys.executable).parent / "hotline")
    opts = {
        "--ari-port": stack.ari_port,
        "--ami-port": stack.ami_port,
        "--server": stack.base,
        "--token": TOKEN,
        "--seats": len(run.seats),
        "--rate": args.call_rate,
        "--duration": duration,
        "--talk": 4.0,
        "--patience": 600,
        "--answer-delay": 1.0,
        "--greeting": 0.5,
        "--seed": 1,
        "--arrivals": "uniform",
    }
    cmd = [hotline, "simulate", *(str(x) for kv in opts.items() for x in kv)]
    stop, sent = asyncio.Event(), list[float]()
    pub = asyncio.create_task(publisher(run.redis_url, args.rate, run.seats, stop, sent))
    w0 = time.time()
    run.cpu.begin()
    sim = await asyncio.create_subprocess_exec(
        *cmd, env=stack.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(sim.communicate(), duration + 120)
    w1 = time.time()
    cpu = run.cpu.end()
    stop.set()
    await pub
    await asyncio.sleep(1.0)
    if sim.returncode != 0:
        raise RuntimeError(f"hotline simulate failed: {err.decode()[-2000:]}")
    stats = json.loads(out.decode().strip().splitlines()[-1])
    pops = [d * 1000 for d in run.sink.offers.values()]
    ticks = window(run.sink, sent, w0, w1, cpu)
    return {
        "calls_placed": stats.get("calls"),
        "calls_answered": stats.get("answered"),
        "offers_received": len(pops),
        "offers_on_a_wrong_seat": run.sink.offers_wrong_seat,
        "pop_p50_ms": round(pct(pops, 0.5), 2),
        "pop_p99_ms": round(pct(pops, 0.99), 2),
        "pop_max_ms": round(max(pops, default=float("nan")), 2),
        "ticks_during_calls": ticks,
        "call_rate_per_s": args.call_rate,
        "duration_s": duration,
    }


async def bench(args: argparse.Namespace, stack: Any) -> dict[str, Any]:
    seats = [str(FIRST_SEAT + i) for i in range(args.clients)]
    seconds = 10.0 if args.quick else 30.0
    me = psutil.Process()
    run = Run(
        stack.base,
        stack.redis_url,
        seats,
        Cpu(server=stack.server.pid, redis=stack.redis.pid, bench=me.pid),
    )
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        t = time.monotonic()
        await run.connect(http, filtered=True)
        connect_s = time.monotonic() - t
        if run.sink.connected < len(seats):
            raise RuntimeError(f"only {run.sink.connected} of {len(seats)} streams connected")
        fan = await fanout(run, args.rate, seconds)
        fan["connect_all_s"] = round(connect_s, 1)
        ring = await ring_phase(run, stack, args)
        await run.disconnect()
        boards = None
        if args.boards:
            await run.connect(http, filtered=False)
            boards = await fanout(run, args.board_rate, seconds)
            boards["deliveries_per_s"] = round(boards["delivered"] / seconds, 0)
            await run.disconnect()
    return {"fanout": fan, "ring": ring, "boards": boards, "seconds": seconds}


def wait_healthy(base: str) -> None:
    for _ in range(200):
        try:
            get_json(f"{base}/healthz")
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def report(res: dict[str, Any], args: argparse.Namespace) -> None:
    fan, ring, boards = res["fanout"], res["ring"], res["boards"]
    summary = {
        "clients": args.clients,
        "events_per_s": fan["events_per_s"],
        "delivery_p50_ms": fan["p50_ms"],
        "delivery_p99_ms": fan["p99_ms"],
        "pop_p99_ms": ring["pop_p99_ms"],
        "server_cpu_percent": fan["cpu_percent"]["server"],
    }
    settings = {
        "clients": args.clients,
        "events_per_s": args.rate,
        "window_s": res["seconds"],
        "seats": args.clients,
        "call_rate_per_s": args.call_rate,
        "calls_duration_s": ring["duration_s"],
        "board_events_per_s": args.board_rate if args.boards else None,
        "clients_auth": "admin API token each; GET /api/events?operator=<own seat>",
        "clients_process": "one bench process, one aiohttp ClientSession, TCPConnector(limit=0)",
        "event": "XADD hotline:events {type, ts, data} from the bench, one seat per event in turn",
        "cpu": "psutil user+system over the window, % of one core",
        "quick": args.quick,
    }
    rows = [
        ("event-stream clients", args.clients, "500"),
        ("events published per s", fan["events_per_s"], "200"),
        ("events delivered in window", f"{fan['delivered']} / {fan['published']}", ""),
        ("delivery p50 ms", fan["p50_ms"], ""),
        ("delivery p99 ms", fan["p99_ms"], "< 100"),
        ("delivery max ms", fan["max_ms"], ""),
        ("CPU % server / redis / bench clients", _j(fan["cpu_percent"]), ""),
        (
            "calls placed / answered / offers seen",
            _j(ring, "calls_placed", "calls_answered", "offers_received"),
            "",
        ),
        ("ring → panel on seat's stream p50 ms", ring["pop_p50_ms"], ""),
        ("ring → panel on seat's stream p99 ms", ring["pop_p99_ms"], "< 200"),
        ("ring → panel max ms", ring["pop_max_ms"], ""),
        ("delivery p99 ms during calls", ring["ticks_during_calls"]["p99_ms"], "< 100"),
        (
            "CPU % server / redis / bench during calls",
            _j(ring["ticks_during_calls"]["cpu_percent"]),
            "",
        ),
    ]
    if boards:
        rows += [
            (
                f"boards: {args.board_rate:g} ev/s to all {args.clients}, deliveries/s",
                boards["deliveries_per_s"],
                "",
            ),
            (
                "boards: delivered in window",
                f"{boards['delivered']} / {boards['published'] * args.clients}",
                "",
            ),
            ("boards: delivery p50 / p99 ms", f"{boards['p50_ms']} / {boards['p99_ms']}", ""),
            ("boards: CPU % server / redis / bench", _j(boards["cpu_percent"]), ""),
        ]
    print_table("desk event streams (bench/desk.py)", rows)
    path = write_results("desk", settings, summary, notes=res)  # type: ignore[arg-type]
    print(f"\nwrote {path}")


def _j(d: dict, *keys: str) -> str:
    return " / ".join(str(d.get(k)) for k in (keys or tuple(d)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10 s windows instead of 30 s")
    p.add_argument("--clients", type=int, default=500)
    p.add_argument("--rate", type=float, default=200.0, help="events per second")
    p.add_argument("--call-rate", type=float, default=5.0, help="calls per second (ring phase)")
    p.add_argument("--board-rate", type=float, default=20.0, help="events/s to every client")
    p.add_argument("--no-boards", dest="boards", action="store_false")
    args = p.parse_args()
    log = Path(tempfile.mkdtemp(prefix="bench-desk-log-")) / "server.log"
    env = {"HOTLINE_ADMIN_TOKEN": TOKEN, "HOTLINE_RECONNECT_MAX_S": "1"}
    with log.open("wb") as log_file:
        stack = start_stack(seats_toml(args.clients), "bench-desk-", env, log_file)
        try:
            wait_healthy(stack.base)
            res = asyncio.run(bench(args, stack))
        finally:
            with contextlib.suppress(Exception):
                stack.stop()
    res["server_log"] = str(log)
    report(res, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
