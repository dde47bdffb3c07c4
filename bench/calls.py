"""Call-control throughput and the latency the controller adds, over real sockets.

Three processes, as in production: the server (``hotline serve``), the Asterisk stand-in
with scripted callers and operators (``hotline simulate``), and redis-server. Callers
arrive as a Poisson process at ``--rate`` per second and talk long enough that about
``rate × (greeting + talk)`` calls are up at once.

Reports: calls placed/answered, peak concurrent calls, the controller's added latency
(StasisStart → first ARI command; operator's StasisStart → bridged), event-loop lag.
Targets (issue #2): ≥ 20 new calls/s, ≥ 1,000 concurrent, added latency p99 < 20 ms,
loop lag p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, free_port, print_table, start_redis, write_results


def seats_toml(n: int) -> str:
    lines = [
        'greeting_sound = "sound:hotline/welcome"',
        "wrapup_s = 1.0",
        "ring_timeout_s = 10.0",
        'log_level = "WARNING"',
    ]
    for i in range(n):
        op = 1001 + i
        lines += [
            "[[operators]]",
            f'id = "{op}"',
            f'endpoint = "PJSIP/{op}"',
            "skills = { general = 3, market = 3, labour = 3 }",
        ]
    return "\n".join(lines) + "\n"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="short run")
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--talk", type=float, default=None)
    p.add_argument("--seats", type=int, default=None)
    args = p.parse_args()
    duration = args.duration or (20.0 if args.quick else 90.0)
    talk = args.talk or (20.0 if args.quick else 55.0)
    seats = args.seats or int(args.rate * (talk + 10) * 1.25)
    bin_dir = Path(sys.executable).parent
    hotline = str(bin_dir / "hotline")

    redis_proc, redis_url = start_redis()
    cfg = Path(tempfile.mkdtemp(prefix="bench-calls-")) / "hotline.toml"
    cfg.write_text(seats_toml(seats))
    ari_port, ami_port, http_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "HOTLINE_CONFIG": str(cfg),
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_ARI_URL": f"http://127.0.0.1:{ari_port}",
        "HOTLINE_AMI_PORT": str(ami_port),
        "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_LOG_LEVEL": "WARNING",
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{cfg.parent / 'hotline.sqlite3'}",
    }
    server = subprocess.Popen([hotline, "serve"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{http_port}"
    sim = None
    try:
        for _ in range(100):
            try:
                get_json(f"{base}/api/calls")
                break
            except OSError:
                time.sleep(0.1)
        t0 = time.monotonic()
        sim = subprocess.run(
            [
                hotline,
                "simulate",
                "--ari-port",
                str(ari_port),
                "--ami-port",
                str(ami_port),
                "--server",
                base,
                "--seats",
                str(seats),
                "--rate",
                str(args.rate),
                "--duration",
                str(duration),
                "--talk",
                str(talk),
                "--patience",
                "600",
                "--answer-delay",
                "0.5",
                "--greeting",
                "2.0",
                "--seed",
                "1",
                "--arrivals",
                "uniform",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=duration + talk * 8 + 180,
        )
        wall = time.monotonic() - t0
        latency = get_json(f"{base}/api/debug/latency")
    finally:
        server.terminate()
        server.wait(10)
        redis_proc.terminate()
    if sim is None or sim.returncode != 0:
        print(sim.stderr[-3000:] if sim else "simulator did not run", file=sys.stderr)
        return 1
    stats = json.loads(sim.stdout.strip().splitlines()[-1])
    first = latency.get("stasis_start_to_first_command", {})
    bridged = latency.get("agent_answer_to_bridged", {})
    queued = latency.get("flow_to_queued", {})
    lag = latency.get("loop_lag", {})
    placed_rate = stats["calls"] / duration
    summary = {
        "calls_placed": stats["calls"],
        "calls_answered": stats["answered"],
        "calls_abandoned": stats["abandoned"],
        "calls_fallback": stats["fallback_calls"],
        "new_calls_per_s": round(placed_rate, 2),
        "peak_concurrent_calls": stats["max_active_callers"],
        "answered_within_15s": stats.get("answered_within_15s"),
        "first_command_p50_ms": first.get("p50_ms"),
        "first_command_p99_ms": first.get("p99_ms"),
        "flow_to_queued_p50_ms": queued.get("p50_ms"),
        "flow_to_queued_p99_ms": queued.get("p99_ms"),
        "bridged_p50_ms": bridged.get("p50_ms"),
        "bridged_p99_ms": bridged.get("p99_ms"),
        "loop_lag_p50_ms": lag.get("p50_ms"),
        "loop_lag_p99_ms": lag.get("p99_ms"),
        "wall_s": round(wall, 1),
    }
    print_table(
        "bench/calls: controller over real sockets (server, stand-in, redis: 3 procs)",
        [
            ("calls placed / answered", f"{stats['calls']} / {stats['answered']}", ""),
            ("new calls per second", placed_rate, ">= 20"),
            ("peak concurrent calls", stats["max_active_callers"], ">= 1000"),
            ("StasisStart→first command p50 ms", first.get("p50_ms"), ""),
            ("StasisStart→first command p99 ms", first.get("p99_ms"), "< 20"),
            ("IVR flow done→queued p50 ms", queued.get("p50_ms"), ""),
            ("IVR flow done→queued p99 ms", queued.get("p99_ms"), "< 20"),
            ("answer→bridged p50 ms", bridged.get("p50_ms"), ""),
            ("answer→bridged p99 ms", bridged.get("p99_ms"), "< 20"),
            ("event-loop lag p99 ms", lag.get("p99_ms"), "< 50"),
        ],
    )
    path = write_results(
        "calls",
        {
            "rate_per_s": args.rate,
            "duration_s": duration,
            "talk_mean_s": talk,
            "seats": seats,
            "greeting_s": 2.0,
            "answer_delay_s": 0.5,
            "arrivals": "uniform",
            "quick": args.quick,
        },
        summary,
    )
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
