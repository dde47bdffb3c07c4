"""Scripted callers and operators that make traffic through the stand-in.

Callers arrive as a Poisson process, wait with exponential patience, talk for an
exponential time once bridged to an operator, then hang up. Operators are SIP seats that
answer after a delay (or not at all) and log in at the server's desk API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from .model import SeatScript, SimAsterisk

log = logging.getLogger(__name__)


@dataclass
class TrafficProfile:
    calls_per_second: float = 0.5
    total_calls: int | None = None
    duration_s: float | None = None
    patience_mean_s: float = 90.0
    talk_mean_s: float = 20.0
    talk_min_s: float = 1.0
    talk_max_factor: float = 4.0  # handling times are bounded: cap at this × the mean
    lines: dict[str, float] = field(
        default_factory=lambda: {"12345": 0.8, "12315": 0.1, "12333": 0.1}
    )
    dtmf: str = ""
    speech_wav: str = ""
    # (caller's side, operator's side) WAVs; each call takes one at random
    conversations: list[tuple[str, str]] = field(default_factory=list)
    seed: int | None = None
    arrivals: str = "poisson"  # or "uniform": evenly spaced, for sustained-rate tests


@dataclass
class CallerResult:
    outcome: str
    wait_s: float
    talk_s: float = 0.0
    channel_id: str = ""


@dataclass
class TrafficResults:
    outcomes: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    results: list[CallerResult] = field(default_factory=list)

    def add(self, r: CallerResult) -> None:
        self.results.append(r)
        self.outcomes[r.outcome] += 1
        if r.outcome == "answered":
            self.waits.append(r.wait_s)


async def run_caller(
    sim: SimAsterisk,
    number: str,
    line: str,
    patience_s: float,
    talk_s: float,
    results: TrafficResults,
    dtmf: str = "",
    speech: str = "",
    answer_speech: str = "",
) -> CallerResult:
    start = time.monotonic()
    ch = sim.incoming_call(number, line, speech=speech, answer_speech=answer_speech)
    for i, digit in enumerate(dtmf):
        sim.later(1.0 + 0.3 * i, sim.send_dtmf, ch.id, digit)
    bridged = asyncio.ensure_future(ch.bridged_with_agent.wait())
    gone = asyncio.ensure_future(ch.gone.wait())
    done, pending = await asyncio.wait(
        {bridged, gone}, timeout=patience_s, return_when=asyncio.FIRST_COMPLETED
    )
    for p in pending:
        p.cancel()
    wait = time.monotonic() - start
    if bridged in done:
        sim.stats.answered += 1
        try:
            await asyncio.wait_for(ch.gone.wait(), timeout=talk_s)
            result = CallerResult("answered", wait, time.monotonic() - start - wait)
        except TimeoutError:
            sim.remote_hangup(ch.id)
            result = CallerResult("answered", wait, talk_s)
        sim.stats.completed += 1
    elif gone in done:
        result = CallerResult("dropped", wait)  # the system hung up on the caller
    else:
        sim.stats.abandoned += 1
        sim.remote_hangup(ch.id)
        result = CallerResult("abandoned", wait)
    result.channel_id = ch.id
    results.add(result)
    return result


async def generate_calls(
    sim: SimAsterisk, profile: TrafficProfile, results: TrafficResults
) -> None:
    """Place calls until ``total_calls`` or ``duration_s`` is reached; wait for all."""
    rng = random.Random(profile.seed)
    lines, weights = zip(*profile.lines.items(), strict=True)
    callers: set[asyncio.Task[CallerResult]] = set()
    start = time.monotonic()
    n = 0
    next_at = start
    while True:
        if profile.total_calls is not None and n >= profile.total_calls:
            break
        if profile.duration_s is not None and time.monotonic() - start >= profile.duration_s:
            break
        next_at += (
            1 / profile.calls_per_second
            if profile.arrivals == "uniform"
            else rng.expovariate(profile.calls_per_second)
        )
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        number = f"138{rng.randrange(10**8):08d}"
        line = rng.choices(lines, weights)[0]
        patience = rng.expovariate(1 / profile.patience_mean_s)
        talk = min(
            max(profile.talk_min_s, rng.expovariate(1 / profile.talk_mean_s)),
            profile.talk_max_factor * profile.talk_mean_s,
        )
        said, answer = profile.speech_wav, ""
        if profile.conversations:
            said, answer = rng.choice(profile.conversations)
        t = asyncio.ensure_future(
            run_caller(sim, number, line, patience, talk, results, profile.dtmf, said, answer)
        )
        callers.add(t)
        t.add_done_callback(callers.discard)
    if callers:
        await asyncio.gather(*callers, return_exceptions=True)


def add_seats(
    sim: SimAsterisk,
    count: int,
    first: int = 1001,
    answer_delay_s: float = 1.0,
    answer_prob: float = 1.0,
) -> list[str]:
    names = []
    for i in range(count):
        ep = sim.add_endpoint(str(first + i), SeatScript(answer_delay_s, answer_prob))
        names.append(ep.name)
    return names


async def login_operators(
    server_url: str, operator_ids: list[str], attempts: int = 50, token: str = ""
) -> int:
    """Scripted operators sign in at the desk API and go ready (``token``: a supervisor's
    API token, when the server has accounts)."""
    ok = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(headers=headers) as http:
        for op_id in operator_ids:
            for _ in range(attempts):
                try:
                    async with http.post(
                        f"{server_url}/api/agents/{op_id}/state", json={"state": "ready"}
                    ) as resp:
                        if resp.status < 500:
                            ok += resp.status == 200
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
    return ok
