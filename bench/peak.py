"""Peak hour in virtual time, driven by the production routing policy.

A discrete-event simulation (Poisson arrivals, exponential handling, optional exponential
patience) calls ``hotline.queue.policy.pick_operator`` / ``pick_task`` with the simulated
clock, the same code the router runs. No I/O, no sleeping: hours take seconds.

1. Hefei peak hour: 1,000 calls/h, mean handling 300 s, 92 fully cross-skilled operators,
   no abandonment. Service level at 15 s must land within 1 point of Erlang C (83.2 %),
   reported with a 95 % confidence interval over hourly batches.
2. Five skills, 70 % generalists (proficiency 2 in every skill), 30 % specialists
   (proficiency 5 in one), patience exponential with mean 120 s: service level, answer
   rate, abandon rate, average wait and the share answered by a specialist, for
   no widening (the first level forever: specialists only), the default widening (5 s,
   10 s) and a fully pooled queue, against the pooled Erlang C figure.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import ROOT, print_table, write_results

from hotline.queue.models import Operator, OperatorState, Task, WideningStep
from hotline.queue.policy import PolicyConfig, pick_operator, pick_task
from hotline.queue.sla import service_level

READY, BUSY = OperatorState.READY, OperatorState.ON_CALL
NO_WIDENING = (WideningStep(0.0, 3, 0),)  # the default first level, forever
DEFAULT = (WideningStep(0.0, 3, 0), WideningStep(5.0, 1, 0), WideningStep(10.0, 1, 1))
POOLED = (WideningStep(0.0, 1, 1),)


@dataclass
class Stats:
    offered: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    wait_sum: float = 0.0
    by_specialist: int = 0


@dataclass
class Sim:
    ops: dict[str, Operator]
    skills_of_call: list[str]
    policy: PolicyConfig
    rate_per_s: float
    handle_mean_s: float
    patience_mean_s: float | None
    rng: random.Random
    target_s: float = 15.0
    events: list[tuple[float, int, str, str]] = field(default_factory=list)
    waiting: dict[str, Task] = field(default_factory=dict)
    seq: int = 0
    batches: list[Stats] = field(default_factory=list)

    def push(self, t: float, kind: str, ref: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, ref))

    def stats_at(self, t: float, warmup_s: float, batch_s: float) -> Stats | None:
        if t < warmup_s:
            return None
        i = int((t - warmup_s) // batch_s)
        while len(self.batches) <= i:
            self.batches.append(Stats())
        return self.batches[i]

    def assign(self, task: Task, op: Operator, now: float, warmup: float, batch: float) -> None:
        del self.waiting[task.call_id]
        self.ops[op.id] = op.with_state(BUSY, now)
        st = self.stats_at(task.enqueued_at, warmup, batch)
        if st is not None:
            wait = now - task.enqueued_at
            st.answered += 1
            st.wait_sum += wait
            st.within += wait <= self.target_s
            st.by_specialist += op.skills.get(task.skill, 0) >= 5
        self.push(now + self.rng.expovariate(1 / self.handle_mean_s), "done", op.id)

    def run(self, hours: float, warmup_s: float = 3600.0, batch_s: float = 3600.0) -> None:
        end = warmup_s + hours * 3600
        self.push(self.rng.expovariate(self.rate_per_s), "arrive", "")
        n = 0
        steps = [s.after_s for s in self.policy.widening if s.after_s > 0]
        while self.events:
            now, _, kind, ref = heapq.heappop(self.events)
            if kind == "arrive":
                if now > end:
                    continue
                n += 1
                cid = f"c{n}"
                skill = self.rng.choice(self.skills_of_call)
                skills = (skill,) if skill == "general" else (skill, "general")
                task = Task(cid, skill, skills, enqueued_at=now)
                self.waiting[cid] = task
                st = self.stats_at(now, warmup_s, batch_s)
                if st is not None:
                    st.offered += 1
                ready = [o for o in self.ops.values() if o.state is READY]
                a = pick_operator(task, ready, now, self.policy)
                if a is not None:
                    self.assign(task, a.operator, now, warmup_s, batch_s)
                else:
                    for s in steps:
                        self.push(now + s, "widen", cid)
                    if self.patience_mean_s:
                        self.push(
                            now + self.rng.expovariate(1 / self.patience_mean_s), "abandon", cid
                        )
                self.push(now + self.rng.expovariate(self.rate_per_s), "arrive", "")
            elif kind == "done":
                op = self.ops[ref].with_state(READY, now)
                self.ops[ref] = op
                a = pick_task(op, self.waiting.values(), now, self.policy)
                if a is not None:
                    self.assign(a.task, op, now, warmup_s, batch_s)
            elif kind == "widen" and ref in self.waiting:
                ready = [o for o in self.ops.values() if o.state is READY]
                a = pick_operator(self.waiting[ref], ready, now, self.policy)
                if a is not None:
                    self.assign(a.task, a.operator, now, warmup_s, batch_s)
            elif kind == "abandon" and ref in self.waiting:
                task = self.waiting.pop(ref)
                st = self.stats_at(task.enqueued_at, warmup_s, batch_s)
                if st is not None:
                    st.abandoned += 1


def summarize(batches: list[Stats], short_abandon_s: float = 0.0) -> dict[str, float]:
    full = [b for b in batches if b.offered][:-1] or [b for b in batches if b.offered]
    sls = [b.within / b.offered for b in full]
    n = len(sls)
    mean = statistics.fmean(sls)
    half = 1.96 * statistics.stdev(sls) / math.sqrt(n) if n > 1 else float("nan")
    tot = Stats()
    for b in full:
        for k in vars(tot):
            setattr(tot, k, getattr(tot, k) + getattr(b, k))
    return {
        "service_level": mean,
        "service_level_ci95": half,
        "batches": n,
        "answer_rate": tot.answered / tot.offered,
        "abandon_rate": tot.abandoned / tot.offered,
        "avg_wait_s": tot.wait_sum / max(tot.answered, 1),
        "specialist_share": tot.by_specialist / max(tot.answered, 1),
        "calls": tot.offered,
    }


def hefei(hours: float, seed: int) -> dict[str, float]:
    ops = {f"op{i}": Operator(f"op{i}", "", {"general": 3}, state=READY) for i in range(92)}
    sim = Sim(ops, ["general"], PolicyConfig(), 1000 / 3600, 300.0, None, random.Random(seed))
    sim.run(hours)
    return summarize(sim.batches)


def five_skills(widening: tuple[WideningStep, ...], hours: float, seed: int) -> dict[str, float]:
    skills = [f"s{i}" for i in range(5)]
    ops = {}
    for i in range(92):
        if i < 64:  # 70 % generalists
            held = {s: 2 for s in skills} | {"general": 3}
        else:
            held = {skills[i % 5]: 5}
        ops[f"op{i}"] = Operator(f"op{i}", "", held, state=READY)
    sim = Sim(
        ops, skills, PolicyConfig(widening=widening), 1000 / 3600, 300.0, 120.0, random.Random(seed)
    )
    sim.run(hours)
    return summarize(sim.batches)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--hours", type=float, default=None)
    p.add_argument("--seed", type=int, default=12345)
    args = p.parse_args()
    hours = args.hours or (40 if args.quick else 4000)
    erlang = service_level(92, 1000 / 3600, 300, 15)
    h = hefei(hours, args.seed)
    rows = [
        ("Erlang C service level @15 s", erlang, "83.2 %"),
        ("simulated service level", h["service_level"], "within 1 pt"),
        ("95 % CI half-width", h["service_level_ci95"], f"{h['batches']} hourly batches"),
        ("|simulated − Erlang C| (points)", abs(h["service_level"] - erlang) * 100, "< 1"),
        ("average wait s", h["avg_wait_s"], ""),
    ]
    variants = {"no_widening": NO_WIDENING, "widening": DEFAULT, "pooled": POOLED}
    multi = {name: five_skills(w, hours / 4, args.seed + 1) for name, w in variants.items()}
    print_table(f"bench/peak: Hefei peak hour, {hours:g} simulated hours", rows)
    print(
        "\n5 skills, 70 % generalists, patience mean 120 s (pooled Erlang C bound "
        f"{erlang:.3f}, no abandonment)"
    )
    print(
        f"  {'variant':<12}{'SL@15s':>9}{'±CI95':>8}{'answered':>10}{'abandoned':>11}"
        f"{'avg wait s':>12}{'specialist':>12}"
    )
    for name, m in multi.items():
        print(
            f"  {name:<12}{m['service_level']:>9.3f}{m['service_level_ci95']:>8.3f}"
            f"{m['answer_rate']:>10.3f}{m['abandon_rate']:>11.3f}{m['avg_wait_s']:>12.1f}"
            f"{m['specialist_share']:>12.3f}"
        )
    summary: dict[str, float | int | None] = {
        "erlang_c_service_level": round(erlang, 4),
        "hefei_service_level": round(h["service_level"], 4),
        "hefei_service_level_ci95": round(h["service_level_ci95"], 4),
        "hefei_gap_points": round(abs(h["service_level"] - erlang) * 100, 3),
        "hefei_avg_wait_s": round(h["avg_wait_s"], 2),
        "hefei_calls": int(h["calls"]),
    }
    for name, m in multi.items():
        for k in (
            "service_level",
            "service_level_ci95",
            "answer_rate",
            "abandon_rate",
            "avg_wait_s",
            "specialist_share",
        ):
            summary[f"skills5_{name}_{k}"] = round(m[k], 4)
    path = write_results(
        "peak",
        {
            "hours": hours,
            "seed": args.seed,
            "calls_per_hour": 1000,
            "handle_mean_s": 300,
            "operators": 92,
            "skills5_generalist_share": 0.7,
            "patience_mean_s": 120,
            "warmup_s": 3600,
            "batch_s": 3600,
            "widening_default": "0s prof>=3 primary; 5s prof>=1 primary; 10s prof>=1 + general",
            "no_widening": "prof>=3 primary skill only, forever (generalists never eligible)",
            "pooled": "prof>=1, primary or general, at once",
            "quick": args.quick,
        },
        summary,
    )
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
