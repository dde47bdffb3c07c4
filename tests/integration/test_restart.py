"""The server killed (SIGKILL of a real process) with calls connected, queued and in the
IVR; some end while it is down; a new server process starts on the same Redis and the same
stand-in. Every operator ends in the right state, every surviving caller is answered or
keeps their place (hearing music, not silence), no operator leg is left without a caller,
and every call's record has the right outcome, including those that ended in the outage."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from hotline.simulator.model import SimChannel
from tests.conftest import ADMIN, TEST_ADMIN_TOKEN, add_seats, clean_env, free_port, wait_for

SEATS = [str(1001 + i) for i in range(5)]


class ServerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("a") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hotline.cli", "serve", env=self.env, stderr=err
            )

    async def stop(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.wait(), 20)

    async def kill(self) -> None:
        """However the test ends, no server outlives it."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def server_env(tmp: Path, standin: Any, redis_url: str, port: int) -> dict[str, str]:
    config = tmp / "hotline.toml"
    config.write_text(
        "".join(f'[[operators]]\nid = "{s}"\nendpoint = "PJSIP/{s}"\n\n' for s in SEATS),
        encoding="utf-8",
    )
    env = clean_env()
    env.update(
        HOTLINE_CONFIG=str(config),
        HOTLINE_ARI_URL=standin.ari_url,
        HOTLINE_AMI_PORT=str(standin.ami_port),
        REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'hotline.sqlite3'}",
        HOTLINE_DATA_DIR=str(tmp / "var"),
        HOTLINE_HTTP_PORT=str(port),
        HOTLINE_ASR_ENABLED="false",
        HOTLINE_WRAPUP_S="0.3",
        HOTLINE_ROUTER_TICK_S="0.2",
        HOTLINE_RECONNECT_INITIAL_S="0.05",
        HOTLINE_RECONNECT_MAX_S="0.5",
        HOTLINE_ANNOUNCE_FIRST_S="0",
        HOTLINE_DESCRIBE_AFTER_S="0",
        HOTLINE_LOG_LEVEL="INFO",
        HOTLINE_ADMIN_TOKEN=TEST_ADMIN_TOKEN,
    )
    return env


async def api(url: str, method: str = "GET", body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession(headers=ADMIN) as http,
        http.request(method, url, json=body) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def operators(base: str) -> dict[str, dict[str, Any]]:
    return {op["id"]: op for op in await api(f"{base}/api/agents")}


def bridged(ch: SimChannel) -> bool:
    return ch.bridged_with_agent.is_set()


async def test_given_a_killed_server_then_a_new_one_reconciles_operators_calls_and_records(
    standin, redis, redis_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    sim = standin.sim
    add_seats(standin, len(SEATS))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = ServerProcess(server_env(tmp_path, standin, redis_url, port), tmp_path / "log.txt")
    try:
        await server.start()
        await wait_for(lambda: sim.app_connected, timeout=30, what="server connected")
        for op_id in SEATS:
            await api(f"{base}/api/agents/{op_id}/state", "POST", {"state": "ready"})

        talking = []
        for i in range(5):
            caller = sim.incoming_call(f"1390000000{i}")
            await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
            talking.append(caller)
        queued = [sim.incoming_call(f"1391000000{i}") for i in range(3)]
        await wait_for(lambda: _waiting(base, 3), what="three callers queued")
        sim.sounds["hotline/welcome"] = 3.0  # the next caller is still in the greeting
        in_ivr = sim.incoming_call("13920000000")
        await wait_for(lambda: "sound:hotline/welcome" in in_ivr.heard, what="greeting playing")
        answered_by = {op["call_id"]: op["id"] for op in (await operators(base)).values()}
        assert set(answered_by) >= {c.id for c in talking}

        killed_at = time.time()
        await server.stop(signal.SIGKILL)
        await wait_for(lambda: not sim.app_connected, what="app gone")
        sim.remote_hangup(talking[0].id)  # a conversation ends while no server watches
        sim.remote_hangup(queued[0].id)  # a waiting caller gives up
        await asyncio.sleep(0.3)

        await server.start()
        await wait_for(lambda: sim.app_connected, timeout=30, what="server reconnected")
        # The freed seat takes the longest waiter; the next keeps their place, with music.
        await asyncio.wait_for(queued[1].bridged_with_agent.wait(), 10)
        await wait_for(lambda: queued[2].moh, timeout=3, what="music for the caller still waiting")
        assert not bridged(queued[2]) and not bridged(in_ivr)
        # No operator leg is left up without its caller.
        await wait_for(
            lambda: (
                _agent_legs(sim)
                == sum(bridged(c) and c.id in sim.channels for c in sim_callers(sim))
            ),
            what="no orphan operator legs",
        )
        expected = {talking[1].id, talking[2].id, talking[3].id, talking[4].id, queued[1].id}
        await wait_for(lambda: _on_call(base, expected), what="operators on the calls that exist")

        sim.remote_hangup(talking[1].id)
        await asyncio.wait_for(queued[2].bridged_with_agent.wait(), 10)
        sim.remote_hangup(talking[2].id)
        await asyncio.wait_for(in_ivr.bridged_with_agent.wait(), 15)
        assert sim.stats.fallback_calls == 0
        for caller in [*talking[3:], *queued[1:], in_ivr]:
            sim.remote_hangup(caller.id)
        await wait_for(lambda: _all_free(base), what="every operator free again")
        await server.stop(signal.SIGTERM)

        rows = _records(tmp_path / "hotline.sqlite3")
        assert rows[queued[0].id]["outcome"] == "abandoned"
        for caller in talking:  # answered before the crash, whenever they ended
            row = rows[caller.id]
            assert row["outcome"] == "answered", (caller.id, row)
            assert row["operator_id"] == answered_by[caller.id]
            assert row["answered_at"] is not None and _epoch(row["answered_at"]) < killed_at
        for caller in [*queued[1:], in_ivr]:
            assert rows[caller.id]["outcome"] == "answered"
            assert _epoch(rows[caller.id]["answered_at"]) > killed_at
        assert len(rows) == 9

    finally:
        await server.kill()


def sim_callers(sim: Any) -> list[SimChannel]:
    return [c for c in sim.channels.values() if c.kind == "caller"]


def _agent_legs(sim: Any) -> int:
    return sum(1 for c in sim.channels.values() if c.kind == "agent")


async def _waiting(base: str, n: int) -> bool:
    calls = await api(f"{base}/api/calls")
    return sum(1 for c in calls if c.get("state") == "queued") == n


async def _on_call(base: str, calls: set[str]) -> bool:
    ops = await operators(base)
    return {op["call_id"] for op in ops.values() if op["state"] == "on_call"} == calls


async def _all_free(base: str) -> bool:
    ops = await operators(base)
    return all(op["state"] in ("ready", "wrap_up") for op in ops.values())


def _records(db: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {r["call_id"]: dict(r) for r in conn.execute("SELECT * FROM calls")}


def _epoch(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()
