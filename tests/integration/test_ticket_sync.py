"""Outbox sync against a local HTTP server that fails, times out and repeats; a sender
killed mid-send; deadline notices sent exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hotline.tickets import workflow as wf
from hotline.tickets.models import Kind, NewTicket, Urgency
from hotline.tickets.notices import NoticeScheduler
from hotline.tickets.sync import SIGNATURE, TIMESTAMP, OutboxSender, sign
from tests.conftest import ROOT, TicketEnv, make_ticket_env

SECRET = "outbox-secret"


class Remote:
    """A work-order platform: dedups by Idempotency-Key, checks signatures, misbehaves on cue."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []  # every delivery, duplicates included
        self.accepted: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self.hang_keys: set[str] = set()
        self.down = False
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        key = request.headers["Idempotency-Key"]
        ts = request.headers[TIMESTAMP]
        if sign(SECRET, ts, raw) != request.headers[SIGNATURE]:
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.down:
            return web.Response(status=503, text="maintenance")
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500, text="boom")
        if key in self.hang_keys:
            self.hang_keys.discard(key)
            await asyncio.sleep(3600)
        payload = json.loads(raw)
        self.received.append(payload)
        self.accepted.setdefault(key, payload)
        return web.json_response({"ok": True, "duplicate": len(self.received) > len(self.accepted)})

    def per_ticket(self) -> dict[str, list[int]]:
        """First-delivery order of versions per ticket."""
        seen: set[tuple[str, int]] = set()
        out: dict[str, list[int]] = defaultdict(list)
        for p in self.received:
            k = (p["number"], p["version"])
            if k not in seen:
                seen.add(k)
                out[p["number"]].append(p["version"])
        return out


@pytest.fixture
async def remote() -> AsyncIterator[tuple[Remote, str]]:
    r = Remote()
    app = web.Application()
    app.router.add_post("/events", r.handle)
    server = TestServer(app)
    await server.start_server()
    yield r, str(server.make_url("/events"))
    await server.close()


@pytest.fixture
async def outbox_env(database_url: str) -> AsyncIterator[TicketEnv]:
    env = await make_ticket_env(database_url, outbox=True)
    yield env
    await env.engine.dispose()


async def make_traffic(env: TicketEnv, tickets: int = 4) -> list[str]:
    numbers = []
    for i in range(tickets):
        n = (await env.service.create(NewTicket(content=f"问题 {i}"), env.actors["operator"]))[
            "number"
        ]
        await env.service.act(n, wf.Dispatch(lead=env.depts["water"]), env.actors["operator"])
        await env.service.act(n, wf.SignFor(), env.actors["water"])
        await env.service.act(n, wf.Comment(f"进展 {i}"), env.actors["water"])
        numbers.append(n)
    return numbers


def sender(env: TicketEnv, url: str, **kw: Any) -> OutboxSender:
    kw.setdefault("base_backoff_s", 0.01)
    kw.setdefault("max_backoff_s", 0.05)
    return OutboxSender(env.engine, url=url, secret=SECRET, clock=env.clock, **kw)


async def drain(s: OutboxSender, env: TicketEnv, rounds: int = 200) -> None:
    for _ in range(rounds):
        await s.run_once()
        if await s.pending() == 0:
            return
        env.clock.advance(seconds=1)  # lets backoffs and leases expire
    raise AssertionError(f"{await s.pending()} events still pending")


async def test_given_failures_and_an_outage_when_sending_then_all_arrive_in_order(
    outbox_env: TicketEnv, remote: tuple[Remote, str]
) -> None:
    r, url = remote
    numbers = await make_traffic(outbox_env)
    r.fail_next = 5
    s = sender(outbox_env, url)
    await s.run_once()
    r.down = True
    for _ in range(5):
        await s.run_once()
        outbox_env.clock.advance(seconds=1)
    assert await s.pending() > 0  # nothing is lost while the remote is down
    r.down = False
    await drain(s, outbox_env)
    await s.close()
    assert len(r.accepted) == 4 * 4
    assert r.per_ticket() == {n: [1, 2, 3, 4] for n in numbers}
    assert s.failed >= 5 and r.bad_signatures == 0


async def test_given_a_timeout_then_the_event_is_resent_with_the_same_key(
    outbox_env: TicketEnv, remote: tuple[Remote, str]
) -> None:
    r, url = remote
    n = (await outbox_env.service.create(NewTicket(content="超时"), outbox_env.actors["operator"]))[
        "number"
    ]
    r.hang_keys.add(f"{n}:1:ticket.created")
    s = sender(outbox_env, url, timeout_s=0.5)
    await s.run_once()
    assert s.failed == 1 and r.received == []
    await drain(s, outbox_env)
    await s.close()
    assert [p["event"] for p in r.received] == ["ticket.created"]


async def test_given_a_sender_killed_mid_send_then_another_delivers_everything_once(
    outbox_env: TicketEnv, remote: tuple[Remote, str], database_url: str
) -> None:
    r, url = remote
    numbers = await make_traffic(outbox_env, tickets=3)
    first_key = f"{numbers[0]}:1:ticket.created"
    r.hang_keys.add(first_key)
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_SYNC_URL": url,
        "HOTLINE_SYNC_SECRET": SECRET,
        "HOTLINE_SYNC_LEASE_S": "2",
        "HOTLINE_SYNC_INTERVAL_S": "0.05",
        "HOTLINE_AUTO_MIGRATE": "false",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline.cli",
        "sync",
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if len(r.received) >= 2:  # other tickets went through; the first one hangs
                break
            await asyncio.sleep(0.05)
        assert len(r.received) >= 2
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == -signal.SIGKILL
    assert await sender(outbox_env, url).pending() > 0
    # A new sender (another process or instance) waits out the lease, then resends.
    # The killed process leased rows by the wall clock; the new sender looks past the lease.
    outbox_env.clock.now = datetime.now(UTC) + timedelta(seconds=5)
    s = sender(outbox_env, url)
    await drain(s, outbox_env)
    await s.close()
    assert len(r.accepted) == 3 * 4
    assert r.per_ticket() == {n: [1, 2, 3, 4] for n in numbers}


async def test_notices_are_sent_once_across_passes_and_restarts(tickets: TicketEnv) -> None:
    sent: list[tuple[str, str]] = []

    async def send(n: Any) -> None:
        sent.append((n.number, n.kind))

    def scheduler() -> NoticeScheduler:
        return NoticeScheduler(
            tickets.engine, calendar=tickets.service.calendar, clock=tickets.clock, send=send
        )

    s, act = tickets.service, tickets.actors
    normal = (await s.create(NewTicket(content="咨询", kind=Kind.CONSULTATION), act["operator"]))[
        "number"
    ]
    await s.act(normal, wf.Dispatch(lead=tickets.depts["water"]), act["operator"])
    urgent = (
        await s.create(NewTicket(content="燃气泄漏", urgency=Urgency.URGENT), act["operator"])
    )["number"]
    await s.act(urgent, wf.Dispatch(lead=tickets.depts["water"]), act["operator"])
    assert await scheduler().run_once() == []
    tickets.clock.advance(minutes=31)  # the urgent contact deadline passes
    await scheduler().run_once()
    assert sent == [(urgent, "contact_overdue")]
    tickets.clock.advance(days=1)  # Tue 10:41: the urgent reply (24 h) is overdue
    await scheduler().run_once()
    await scheduler().run_once()  # a second pass, as after a restart
    assert sent == [(urgent, "contact_overdue"), (urgent, "overdue")]
    tickets.clock.advance(days=1)  # Wed 10:41: two working days before Thursday's end
    await scheduler().run_once()
    assert sent[-1] == (normal, "reminder") and len(sent) == 3
    # An approved extension moves the deadline: a new reminder for the new date, not a repeat.
    await s.act(normal, wf.SignFor(), act["water"])
    await s.act(normal, wf.RequestExtension(3, "需协调"), act["water"])
    await s.act(normal, wf.DecideExtension(True), act["dispatcher"])
    # Due end of Fri 27th + 3 working days = end of Tue 1 Dec; reminded from Mon 30th.
    tickets.clock.advance(days=3)  # Sat 28th: the old deadline has passed, the new has not
    await scheduler().run_once()
    assert len(sent) == 3
    tickets.clock.advance(days=2)  # Mon 30th
    await scheduler().run_once()
    assert sent.count((normal, "reminder")) == 2 and len(sent) == 4
    await asyncio.gather(scheduler().run_once(), scheduler().run_once())
    assert len(sent) == 4
