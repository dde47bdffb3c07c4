"""Command line: ``hotline serve | demo | simulate`` and the ticket and ASR commands.

Each command imports what it needs when it runs, so ``hotline --help`` answers at once.
A mistake in the settings or a refused request ends in one line on stderr, ``hotline: …``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .asr import cli as asr_cli
from .errors import HotlineError
from .tickets import cli as ticket_cli

if TYPE_CHECKING:
    from .config import OperatorSeat, Settings
    from .simulator.standin import StandIn

log = logging.getLogger("hotline")


DEMO_TOKEN = "demo-admin-token"
ONE_SHOT = frozenset({"migrate", "kb", "user", "departments", "transcribe"})
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def demo_seats(count: int, first: int = 1001) -> list[OperatorSeat]:
    """A small hotline: generalists, and specialists for the merged 12315 and 12333 lines."""
    from .config import OperatorSeat

    seats = []
    for i in range(count):
        n = first + i
        if i % 6 == 4:
            skills = {"market": 5, "general": 2}
        elif i % 6 == 5:
            skills = {"labour": 5, "general": 2}
        else:
            skills = {"general": 3 + (i % 3 == 0), "market": 1, "labour": 1}
        seats.append(OperatorSeat(id=str(n), endpoint=f"PJSIP/{n}", name=f"坐席{n}", skills=skills))
    return seats


async def _run_server(settings: Settings, stop: asyncio.Event) -> None:
    from aiohttp import web

    from .app import create_app

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info("hotline listening on http://%s:%d", settings.http_host, settings.http_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(args: argparse.Namespace) -> int:
    from .config import load_settings

    settings = load_settings()
    await _run_server(settings, _stop_event())
    return 0


async def _demo_speech(settings: Settings) -> list[tuple[str, str]]:
    """Scripted conversations for the demo's callers, so live transcripts appear."""
    from .simulator import speech

    if not settings.asr_enabled:
        print("  (HOTLINE_ASR_ENABLED=false: demo calls are silent, no transcripts)", flush=True)
        return []
    if not speech.available():
        print("  (no espeak-ng/sox: demo calls are silent, so no transcripts)", flush=True)
        return []
    folder = Path(settings.data_dir) / "demo-speech"
    return await asyncio.to_thread(speech.conversations, folder)


def _sounds() -> Any:
    """The stand-in finds the sounds a deployment mounts into Asterisk, and no others."""
    from .simulator.media import SoundCatalogue

    folder = DEPLOY.parent / "asterisk-config" / "sounds"
    return SoundCatalogue.from_dirs(folder) if folder.is_dir() else SoundCatalogue()


async def demo(args: argparse.Namespace) -> int:
    """Everything on one machine: stand-in, embedded Redis, the server, scripted traffic."""
    from .config import load_settings
    from .simulator.model import SeatScript, SimAsterisk
    from .simulator.standin import StandIn
    from .simulator.traffic import TrafficProfile, TrafficResults, generate_calls, login_operators

    base = load_settings()  # a mistake in the settings stops us before any port opens
    recordings = Path(base.data_dir) / "recordings"  # the stand-in writes, the server reads
    recordings.mkdir(parents=True, exist_ok=True)
    sim = SimAsterisk(sounds={"hotline/welcome": 2.0}, seed=args.seed, catalogue=_sounds())
    sim.recordings_dir = str(recordings)
    seats = demo_seats(args.seats)
    for seat in seats:
        sim.add_endpoint(seat.id, SeatScript(answer_delay_s=args.answer_delay, answer_prob=0.97))
    standin = await StandIn(
        sim,
        ari_port=args.ari_port,
        ami_port=args.ami_port,
        user=base.ari_user,
        password=base.ari_password,
        ami_user=base.ami_user,
        ami_secret=base.ami_secret,
    ).start()
    settings = load_settings(
        ari_url=standin.ari_url,
        ami_port=standin.ami_port,
        http_port=args.port,
        operators=seats,
        wrapup_s=args.wrapup,
        admin_token=DEMO_TOKEN,
        recordings_dir=str(recordings),
    )
    await ticket_cli.seed_demo(settings, DEPLOY)
    accounts = await ticket_cli.seed_demo_users(settings, [s.id for s in seats])
    stop = _stop_event()
    server = asyncio.create_task(_run_server(settings, stop))
    base_url = f"http://{settings.http_host}:{settings.http_port}"
    await login_operators(base_url, [s.id for s in seats], token=DEMO_TOKEN)
    print(demo_screen(settings, standin, base_url, args, accounts), flush=True)
    profile = TrafficProfile(
        conversations=await _demo_speech(settings),
        calls_per_second=args.rate,
        talk_mean_s=args.talk,
        patience_mean_s=args.patience,
        duration_s=args.duration or None,
        seed=args.seed,
    )
    results = TrafficResults()
    traffic = asyncio.create_task(generate_calls(sim, profile, results))
    start = time.monotonic()
    while not stop.is_set() and not (args.duration and traffic.done()):
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=args.report_every)
        st = sim.stats
        print(
            f"[{time.monotonic() - start:6.0f}s] calls {st.calls}  answered {st.answered}  "
            f"abandoned {st.abandoned}  fallback {st.fallback_calls}  "
            f"live channels {len(sim.channels)}",
            flush=True,
        )
    traffic.cancel()
    stop.set()
    await server
    await standin.stop()
    print(json.dumps({"outcomes": dict(results.outcomes)}, ensure_ascii=False))
    return 0


async def simulate(args: argparse.Namespace) -> int:
    """The stand-in alone, with traffic, for a server running elsewhere."""
    from .simulator.model import SeatScript, SimAsterisk
    from .simulator.standin import StandIn
    from .simulator.traffic import TrafficProfile, TrafficResults, generate_calls, login_operators

    sim = SimAsterisk(
        sounds={"hotline/welcome": args.greeting}, seed=args.seed, catalogue=_sounds()
    )
    ids = [str(1001 + i) for i in range(args.seats)]
    for op_id in ids:
        sim.add_endpoint(op_id, SeatScript(answer_delay_s=args.answer_delay))
    standin = await StandIn(sim, ari_port=args.ari_port, ami_port=args.ami_port).start()
    print(json.dumps({"ari_url": standin.ari_url, "ami_port": standin.ami_port}), flush=True)
    if args.server:
        while not sim.app_connected:  # noqa: ASYNC110 - the stand-in has no event for it
            await asyncio.sleep(0.1)
        await login_operators(args.server, ids, token=args.token)
    results = TrafficResults()
    profile = TrafficProfile(
        calls_per_second=args.rate,
        total_calls=args.calls or None,
        duration_s=args.duration or None,
        talk_mean_s=args.talk,
        patience_mean_s=args.patience,
        seed=args.seed,
        arrivals=args.arrivals,
    )
    await generate_calls(sim, profile, results)
    await standin.stop()
    summary: dict[str, Any] = {"outcomes": dict(results.outcomes), **sim.stats.as_dict()}
    if results.waits:
        w = sorted(results.waits)
        summary["wait_p50_s"] = w[len(w) // 2]
        summary["answered_within_15s"] = sum(x <= 15 for x in w) / len(w)
    print(json.dumps(summary), flush=True)
    return 0


def demo_screen(
    settings: Settings,
    standin: StandIn,
    base: str,
    args: argparse.Namespace,
    accounts: list[tuple[str, str, str]],
) -> str:
    """The demo's first screen: what is running, where, with which credentials."""
    st, data, token = settings, Path(settings.data_dir), settings.admin_token
    operators = [u for u, role, _ in accounts if role == "operator"]
    others = "  ".join(f"{u} ({role})" for u, role, _ in accounts if role != "operator")
    seats = f"{operators[0]} … {operators[-1]}" if len(operators) > 1 else "".join(operators)
    return f"""
hotline demo is up; Ctrl-C stops it
  desk        {base}/login   operator desk {base}/desk
  boards      supervisor {base}/board   wallboard {base}/wallboard   departments {base}/portal
  accounts    password {ticket_cli.DEMO_PASSWORD!r} for every demo account (demo mode only)
              operators (username = seat) {seats}
              {others}
              every seat is scripted (its phone answers by itself): sign in as one to watch its calls
  health      {base}/healthz   metrics {base}/metrics (Prometheus)
  operators   {base}/api/agents   live calls {base}/api/calls
  tickets     {base}/api/openapi.json
  admin token {token}  (send "Authorization: Bearer {token}")
  transcripts {base}/api/events?types=transcript.  (Server-Sent Events, same token)
  stand-in    ARI {standin.ari_url}/ari  app {st.ari_app}  user {st.ari_user}  password {st.ari_password}
              AMI {standin.host}:{standin.ami_port}  username {st.ami_user}  secret {st.ami_secret}
  data        {data}/  database {st.database_url}
              recordings {st.recordings_dir}/  embedded Redis {data / "redis.rdb"}
  logs        this terminal (stderr) at {st.log_level}; HOTLINE_LOG_LEVEL=DEBUG for more
  reset       stop it, then `rm -rf {data}` (`make clean` also removes .venv)
  traffic     {args.rate} calls/s, {args.seats} scripted operators
"""  # noqa: E501 - the screen's lines are wider than code's


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hotline", description="12345 hotline contact-centre server")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the server against the configured Asterisk")
    d = sub.add_parser(
        "demo",
        help="stand-in + embedded Redis + server + scripted calls",
        description="The whole system on one machine: an Asterisk stand-in, the server with "
        "embedded Redis and SQLite, and scripted callers and operators. Data, recordings and "
        "the database live under var/ (HOTLINE_DATA_DIR, DATABASE_URL); rm -rf var resets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d.add_argument("--port", type=int, default=8080, help="the server's HTTP port (API, metrics)")
    d.add_argument("--ari-port", type=int, default=8088, help="the stand-in's ARI port")
    d.add_argument("--ami-port", type=int, default=5038, help="the stand-in's AMI port")
    d.add_argument("--seats", type=int, default=12, help="scripted operators, logged in ready")
    d.add_argument("--rate", type=float, default=0.3, help="new calls per second")
    d.add_argument("--talk", type=float, default=20.0, help="mean talk time, s")
    d.add_argument("--patience", type=float, default=90.0, help="mean caller patience, s")
    d.add_argument("--answer-delay", type=float, default=1.5, help="operators' answer delay, s")
    d.add_argument("--wrapup", type=float, default=3.0, help="wrap-up after each call, s")
    d.add_argument("--duration", type=float, default=0.0, help="stop after this many s; 0: never")
    d.add_argument("--report-every", type=float, default=10.0, help="print counts every N s")
    d.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed for repeatable traffic; %(default)s: new each run",
    )
    s = sub.add_parser(
        "simulate",
        help="the Asterisk stand-in with scripted traffic",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("--ari-port", type=int, default=8088, help="ARI port")
    s.add_argument("--ami-port", type=int, default=5038, help="AMI port")
    s.add_argument("--server", default="", help="hotline base URL, to log operators in")
    s.add_argument(
        "--token",
        default=os.environ.get("HOTLINE_ADMIN_TOKEN", ""),
        help="a supervisor's or admin's API token for --server (default: $HOTLINE_ADMIN_TOKEN)",
    )
    s.add_argument("--seats", type=int, default=20, help="scripted operators")
    s.add_argument("--rate", type=float, default=1.0, help="new calls per second")
    s.add_argument("--calls", type=int, default=0, help="stop after this many calls; 0: no limit")
    s.add_argument("--duration", type=float, default=0.0, help="stop after this many s; 0: never")
    s.add_argument("--talk", type=float, default=20.0, help="mean talk time, s")
    s.add_argument("--patience", type=float, default=90.0, help="mean caller patience, s")
    s.add_argument("--answer-delay", type=float, default=1.0, help="operators' answer delay, s")
    s.add_argument("--greeting", type=float, default=2.0, help="length of the greeting, s")
    s.add_argument("--seed", type=int, default=None, help="random seed; %(default)s: new each run")
    s.add_argument("--arrivals", choices=["poisson", "uniform"], default="poisson")
    p.set_defaults(handlers={"serve": serve, "demo": demo, "simulate": simulate})
    p.get_default("handlers").update(ticket_cli.register(sub))
    p.get_default("handlers").update(asr_cli.register(sub))
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .config import ConfigError, load_settings
    from .logs import setup_logging

    try:
        settings = load_settings()
        # A one-shot command prints its own result; "database migrated to head" is noise there.
        quiet = ("hotline.tickets.db",) if args.cmd in ONE_SHOT else ()
        setup_logging(settings.log_level, settings.log_format, quiet)
        return int(asyncio.run(args.handlers[args.cmd](args)))
    except HotlineError as exc:  # a mistake to fix, not a bug: no traceback
        print(f"hotline: {' '.join(exc.message.split())}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


if __name__ == "__main__":
    sys.exit(main())
