"""Call-control throughput and the latency the controller adds, over real sockets.

Three processes, as in production: the server (``hotline serve``), the Asterisk stand-in
with scripted callers and operators (``hotline simulate``), and redis-server. Callers
arrive as a Poisson process at ``--rate`` per second and talk long enough that about
``rate × (greeting + talk)`` calls are up at once.

Reports: calls placed/answered, peak concurrent calls, the controller's added latency
(StasisStart → first ARI command; operator's StasisStart → bridged), event-loop lag.
Targets (issue #2): ≥ 20 new calls/s, ≥ 1,000 concurrent, added latency p99 < 20 ms,
loop lag p99 < 50 ms.

A second phase, with its own three processes, turns the waiting-caller features on (position
and wait announcements, the invitation to describe the problem and its recording), sends
calls in waves to fewer seats than they need, and has operators answer after a random delay:
many answers land while the caller hears a prompt or is being recorded, which Asterisk would
let finish before a bridge add on the same channel unless the server stops it first (issue
#11). It reports operator answer → bridged for those calls, the calls that fell back to the
dialplan, and counts showing the prompts played and the descriptions were recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BENCH_TOKEN,
    ROOT,
    count_events,
    get_json,
    get_text,
    log_warnings,
    metric_total,
    pct,
    print_table,
    seats_toml,
    start_stack,
    write_results,
)

Phase = tuple[dict[str, Any], dict[str, Any], list[tuple[str, Any, str]]]


def main_phase(args: argparse.Namespace) -> Phase | None:
    """20 calls/s with ample seats: throughput, peak concurrency, the controller's latency."""
    duration = args.duration or (20.0 if args.quick else 90.0)
    talk = args.talk or (20.0 if args.quick else 55.0)
    seats = args.seats or int(args.rate * (talk + 10) * 1.25)
    stack = start_stack(seats_toml(seats), "bench-calls-")
    opts = {
        "--ari-port": stack.ari_port,
        "--ami-port": stack.ami_port,
        "--server": stack.base,
        "--seats": seats,
        "--rate": args.rate,
        "--duration": duration,
        "--talk": talk,
        "--patience": "600",
        "--answer-delay": "0.5",
        "--greeting": "2.0",
        "--seed": "1",
        "--arrivals": "uniform",
    }
    hotline = str(Path(sys.executable).parent / "hotline")
    sim = None
    try:
        stack.wait_up()
        t0 = time.monotonic()
        sim = subprocess.run(
            [hotline, "simulate", *itertools.chain(*((k, str(v)) for k, v in opts.items()))],
            env=stack.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=duration + talk * 8 + 180,
        )
        wall = time.monotonic() - t0
        latency = get_json(f"{stack.base}/api/debug/latency")
    finally:
        stack.stop()
    if sim is None or sim.returncode != 0:
        print(sim.stderr[-3000:] if sim else "simulator did not run", file=sys.stderr)
        return None
    stats = json.loads(sim.stdout.strip().splitlines()[-1])
    settings = {
        "rate_per_s": args.rate,
        "duration_s": duration,
        "talk_mean_s": talk,
        "seats": seats,
        "greeting_s": 2.0,
        "answer_delay_s": 0.5,
        "arrivals": "uniform",
        "quick": args.quick,
    }
    return main_report(stats, latency, duration, wall, settings)


def main_report(
    stats: dict[str, Any], latency: dict[str, Any], duration: float, wall: float, settings: dict
) -> Phase:
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
    rows = [
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
    ]
    return summary, settings, rows


# -- the waiting-caller phase ----------------------------------------------------------------

# The waiting-caller features, on: a position/wait announcement 5 s into the queue and every
# 20 s, the invitation to describe the problem at 3 s whatever the estimated wait, and up to
# 15 s of recording after the beep. With the stand-in's 2 s a sound file a caller hears the
# invitation at 3-5 s, is recorded 5-20 s, hears the position and wait at 25-37 s (the 5 s
# one finds the invitation playing and waits for the next) and again from 45 s. (With 20 s
# of recording it still runs at 25 s by a few ms, and the first announcement comes at 45 s.)
WAITING_ENV = {
    "HOTLINE_ANNOUNCE_FIRST_S": "5",
    "HOTLINE_ANNOUNCE_EVERY_S": "20",
    "HOTLINE_DESCRIBE_AFTER_S": "3",
    "HOTLINE_DESCRIBE_MIN_WAIT_S": "0",
    "HOTLINE_DESCRIBE_MAX_S": "15",
}


def waiting_settings(quick: bool) -> dict[str, Any]:
    """Fewer seats than the calls need, and operators who answer after a random 0.5-8.5 s.

    A steady shortfall is not enough: served first come first served, every caller then
    waits about the same time, so the answers all land at one point of what the callers
    hear (a steady 40 % shortfall put every one in the recording). Calls come in waves
    instead, 45 s of 8 calls/s and 45 s of 0.5/s, twice: the queue builds to waits of
    about 45 s and drains, and answers land at every moment of the invitation, recording,
    music and announcements. Quick: one 20 s surge of 5 calls/s on 15 seats (waits pass
    25 s, when the first announcement plays, near its end)."""
    segments = [[5.0, 20.0]] if quick else [[8.0, 45.0], [0.5, 45.0]] * 2  # [calls/s, s]
    return {
        "segments": segments,
        "arrivals": "poisson",
        "duration_s": sum(seconds for _, seconds in segments),
        "tail_s": 18.0 if quick else 30.0,  # then callers still up are hung up
        "seats": 15 if quick else 62,
        "talk_mean_s": 15.0,
        "talk_max_factor": 3.0,
        "patience_mean_s": 60.0,
        "answer_delay_s": 0.5,
        "answer_jitter_s": 8.0,  # uniform; the ring timeout is 10 s
        "greeting_s": 2.0,
        "seed": 2,
        "server_env": dict(WAITING_ENV),
    }


MEDIA_KIND = (("hotline/describe-invite", "invitation"), ("hotline/queue-", "announcement"))


def media_kind(media: str) -> str:
    return next((kind for part, kind in MEDIA_KIND if part in media), "other")


class WaitingProbe:
    """Watches the stand-in: what waiting callers heard and had recorded, what the caller
    was doing when the server stopped it to bridge an operator who had just answered, and
    how long from that operator's answer to the bridge (as the stand-in sees it)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.counts: Counter[str] = Counter()
        self.recorded_s = 0.0
        self.answered_at: dict[str, float] = {}  # operator channel → when it answered
        self.stopped: dict[str, tuple[str, float]] = {}  # caller → what the server stopped
        self.bridged_ms: dict[str, list[float]] = defaultdict(list)  # by what was stopped
        self.add_ms: list[float] = []  # each addChannel's time in the stand-in
        self._natural_stop = False
        self._emit, self._stop_pb, self._stop_rec = sim.emit, sim.stop_playback, sim.stop_recording
        self._stop_if_live, self._add = sim._stop_if_live, sim.add_to_bridge
        sim.emit, sim.stop_playback, sim.stop_recording = self.emit, self.stop_pb, self.stop_rec
        sim._stop_if_live, sim.add_to_bridge = self.stop_if_live, self.add

    def emit(self, type_: str, fields: dict, channel: Any = None, always: bool = False) -> None:
        if type_ == "PlaybackStarted":
            self.counts[f"{media_kind(fields['playback']['media_uri'])}s"] += 1
        elif type_ == "PlaybackFinished" and fields["playback"]["state"] == "failed":
            self.counts[f"{media_kind(fields['playback']['media_uri'])}s_failed"] += 1
        elif type_ == "RecordingFinished" and fields["recording"]["target_uri"].startswith(
            "channel:"
        ):
            self.counts["recordings"] += 1
            self.counts["recordings_1s"] += fields["recording"]["duration"] >= 1
            self.recorded_s += fields["recording"]["duration"]
        elif type_ == "StasisStart" and channel is not None and channel.kind == "agent":
            self.answered_at[channel.id] = time.monotonic()
        elif type_ == "ChannelDestroyed" and channel is not None:
            self.answered_at.pop(channel.id, None)
            self.stopped.pop(channel.id, None)
        self._emit(type_, fields, channel, always)

    def stop_pb(self, pb_id: str) -> None:
        pb = self.sim.playbacks.get(pb_id)
        if pb is not None:
            kind = media_kind(pb["media_uri"])
            if pb["state"] in ("playing", "continuing"):
                self.stopped[pb["target_uri"].removeprefix("channel:")] = (kind, time.monotonic())
            else:
                self.counts[f"{kind}s_stopped_queued"] += 1
        self._stop_pb(pb_id)

    def stop_rec(self, name: str) -> None:
        rec = self.sim.live_recordings.get(name)
        if rec is not None and not self._natural_stop and rec["target_uri"].startswith("channel:"):
            if rec["state"] == "recording":
                target = rec["target_uri"].removeprefix("channel:")
                self.stopped[target] = ("recording", time.monotonic())
            else:
                self.counts["recordings_stopped_queued"] += 1
        self._stop_rec(name)

    def stop_if_live(self, name: str) -> None:  # a recording reached its maximum length
        self._natural_stop = True
        try:
            self._stop_if_live(name)
        finally:
            self._natural_stop = False

    async def add(self, bridge_id: str, channel_ids: list[str]) -> None:
        t = time.monotonic()
        try:
            await self._add(bridge_id, channel_ids)
        except Exception:
            self.counts["adds_failed"] += 1
            raise
        now = time.monotonic()
        self.add_ms.append((now - t) * 1000)
        what = "nothing"  # music on hold, or between prompts
        for cid in channel_ids:
            hit = self.stopped.pop(cid, None)
            if hit is not None and now - hit[1] < 10.0:
                what = hit[0]
        for cid in channel_ids:
            answered = self.answered_at.pop(cid, None)
            if answered is not None:
                self.bridged_ms[what].append((now - answered) * 1000)


def _dist(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 0.5), 3),
        "p99_ms": round(pct(values, 0.99), 3),
        "max_ms": round(max(values), 3),
    }


async def waiting_standin(p: dict[str, Any]) -> dict[str, Any]:
    """The stand-in process of the waiting phase: ``hotline simulate`` with random answer
    delays, calls in waves, a deadline, and the probe."""
    from hotline.cli import _sounds
    from hotline.simulator.model import SeatScript, SimAsterisk
    from hotline.simulator.standin import StandIn
    from hotline.simulator.traffic import TrafficResults, login_operators

    sim = SimAsterisk(
        sounds={"hotline/welcome": p["greeting_s"]}, seed=p["seed"], catalogue=_sounds()
    )
    ids = [str(1001 + i) for i in range(p["seats"])]
    for op_id in ids:
        script = SeatScript(
            answer_delay_s=p["answer_delay_s"], answer_delay_jitter_s=p["answer_jitter_s"]
        )
        sim.add_endpoint(op_id, script)
    probe = WaitingProbe(sim)
    standin = await StandIn(sim, ari_port=p["ari_port"], ami_port=p["ami_port"]).start()
    while not sim.app_connected:  # noqa: ASYNC110 - the stand-in has no event for it
        await asyncio.sleep(0.1)
    await login_operators(p["server"], ids, token=BENCH_TOKEN)
    results = TrafficResults()
    traffic_from = time.time()
    cut = await waves(sim, p, results)
    # Let the server finish the last calls (operator legs, bridges) before the stand-in goes:
    # stopping under it would fail those steps and count as fallbacks.
    for _ in range(100):
        if not sim.channels and not sim.bridges:
            break
        await asyncio.sleep(0.1)
    left = {"channels": len(sim.channels), "bridges": len(sim.bridges)}
    traffic_to = time.time()
    with contextlib.suppress(TimeoutError):  # its web runner can wait ~30 s on the websocket
        await asyncio.wait_for(standin.stop(), 3.0)
    waits = sorted(results.waits)
    return {
        **sim.stats.as_dict(),
        "outcomes": dict(results.outcomes),
        "hung_up_at_deadline": cut,
        "left_at_stop": left,
        "traffic_s": round(traffic_to - traffic_from, 1),
        "traffic_window": [traffic_from, traffic_to],
        "wait_p50_s": round(pct(waits, 0.5), 1) if waits else None,
        "wait_p90_s": round(pct(waits, 0.9), 1) if waits else None,
        "wait_max_s": round(waits[-1], 1) if waits else None,
        "probe": dict(probe.counts),
        "recorded_s": probe.recorded_s,
        "bridged_by_activity": {k: _dist(v) for k, v in sorted(probe.bridged_ms.items())},
        "bridged_during_activity": _dist(
            [x for k, v in probe.bridged_ms.items() if k != "nothing" for x in v]
        ),
        "add_in_standin": _dist(probe.add_ms),
    }


async def waves(sim: Any, p: dict[str, Any], results: Any) -> int:
    """Place the calls of each [calls/s, seconds] segment in turn; at the deadline hang up
    the callers still there. Returns how many that was."""
    from hotline.simulator.traffic import TrafficProfile, generate_calls

    async def segment(at: float, rate: float, seconds: float, seed: int) -> None:
        await asyncio.sleep(at)
        profile = TrafficProfile(
            calls_per_second=rate,
            duration_s=seconds,
            talk_mean_s=p["talk_mean_s"],
            talk_max_factor=p["talk_max_factor"],
            patience_mean_s=p["patience_mean_s"],
            seed=seed,
            arrivals=p["arrivals"],
        )
        await generate_calls(sim, profile, results)

    starts = itertools.accumulate([0.0] + [seconds for _, seconds in p["segments"]])
    segments = zip(p["segments"], starts, strict=False)
    gen = asyncio.gather(
        *(segment(at, rate, s, p["seed"] + i) for i, ((rate, s), at) in enumerate(segments))
    )
    try:
        await asyncio.wait_for(asyncio.shield(gen), p["duration_s"] + p["tail_s"])
    except TimeoutError:
        callers = [c.id for c in list(sim.channels.values()) if c.kind == "caller"]
        for cid in callers:
            sim.remote_hangup(cid)
        await gen
        return len(callers)
    return 0


NO_AUDIO = "not transcribed: FileNotFoundError"  # the stand-in writes no recording files


def waiting_phase(args: argparse.Namespace) -> tuple[Phase, dict[str, Any]] | None:
    """Callers who wait, hear announcements and leave a description, while operators answer
    at random moments: operator answer → bridged, and whether any call fell back."""
    ws = waiting_settings(args.quick)
    t_phase = time.monotonic()
    log_file = Path(tempfile.mkdtemp(prefix="bench-calls-waiting-log-")) / "server.log"
    with log_file.open("wb") as log:
        stack = start_stack(seats_toml(ws["seats"]), "bench-calls-waiting-", ws["server_env"], log)
        child = None
        try:
            stack.wait_up()
            params = {k: v for k, v in ws.items() if k != "server_env"}
            params.update(ari_port=stack.ari_port, ami_port=stack.ami_port, server=stack.base)
            t0 = time.monotonic()
            child = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--waiting-standin"],
                input=json.dumps(params),
                env=stack.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=ws["duration_s"] + ws["tail_s"] + 180,
            )
            wall = time.monotonic() - t0
            server = {
                "latency": get_json(f"{stack.base}/api/debug/latency"),
                "metrics": get_text(f"{stack.base}/metrics"),
                "published": count_events(stack.redis_url, "call.description"),
            }
        finally:
            stack.stop()
    if child is None or child.returncode != 0:
        print(child.stderr[-3000:] if child else "stand-in did not run", file=sys.stderr)
        return None
    st = json.loads(child.stdout.strip().splitlines()[-1])
    warnings, no_audio, top = log_warnings(log_file, tuple(st["traffic_window"]), NO_AUDIO)
    st["warnings"] = warnings
    server.update(wall=wall, phase=time.monotonic() - t_phase)
    notes = {"log": str(log_file), "log_top": top, "no_audio": no_audio, "standin": st}
    return waiting_report(ws, st, server), notes


def waiting_report(ws: dict[str, Any], st: dict[str, Any], server: dict[str, Any]) -> Phase:
    probe, by, busy = st["probe"], st["bridged_by_activity"], st["bridged_during_activity"]
    bridged = server["latency"].get("agent_answer_to_bridged", {})
    lag = server["latency"].get("loop_lag", {})
    fallback_server = int(metric_total(server["metrics"], "hotline_calls_fallback_total"))
    errors = int(metric_total(server["metrics"], "hotline_session_errors_total"))
    during = {k: by.get(k, {}).get("n", 0) for k in ("invitation", "recording", "announcement")}
    summary = {
        "waiting_calls_placed": st["calls"],
        "waiting_calls_answered": st["answered"],
        "waiting_calls_abandoned": st["abandoned"],
        "waiting_calls_fallback": st["fallback_calls"],
        "waiting_calls_fallback_server": fallback_server,
        "waiting_wait_p50_s": st["wait_p50_s"],
        "waiting_wait_p90_s": st["wait_p90_s"],
        "waiting_announcements": probe.get("announcements", 0),
        "waiting_invitations": probe.get("invitations", 0),
        "waiting_descriptions_recorded": probe.get("recordings", 0),
        "waiting_descriptions_published": server["published"],
        "waiting_answered_during_announcement": during["announcement"],
        "waiting_answered_during_invitation": during["invitation"],
        "waiting_answered_during_recording": during["recording"],
        "waiting_bridged_n": bridged.get("n"),
        "waiting_bridged_p50_ms": bridged.get("p50_ms"),
        "waiting_bridged_p99_ms": bridged.get("p99_ms"),
        "waiting_bridged_max_ms": bridged.get("max_ms"),
        "waiting_busy_bridged_p99_ms": busy["p99_ms"],
        "waiting_loop_lag_p99_ms": lag.get("p99_ms"),
        "waiting_wall_s": round(server["wall"], 1),
        "waiting_phase_s": round(server["phase"], 1),
    }
    return summary, dict(ws), waiting_rows(ws, st, summary, errors)


def waiting_rows(ws: dict, st: dict, sm: dict, errors: int) -> list[tuple[str, Any, str]]:
    probe, music = st["probe"], st["bridged_by_activity"].get("nothing", {}).get("n", 0)
    failed = sum(v for k, v in probe.items() if k.endswith("_failed"))
    queued_stops = sum(v for k, v in probe.items() if k.endswith("_stopped_queued"))
    answered = [sm[f"waiting_answered_during_{k}"] for k in ("invitation", "recording")]
    answered += [sm["waiting_answered_during_announcement"], music]
    rec = f"{probe.get('recordings', 0)} ({probe.get('recordings_1s', 0)})"
    calls = _j(st["calls"], st["answered"], st["abandoned"])
    waits = _j(ws["seats"], st["wait_p50_s"], st["wait_p90_s"])
    played = _j(probe.get("announcements", 0), probe.get("invitations", 0))
    recorded = _j(rec, sm["waiting_descriptions_published"])
    fallback = _j(st["fallback_calls"], sm["waiting_calls_fallback_server"])
    errs = _j(failed, errors, st["warnings"])
    stops = _j(queued_stops, probe.get("adds_failed", 0))
    busy = sm["waiting_busy_bridged_p99_ms"]
    return [
        ("calls placed / answered / abandoned", calls, ""),
        ("seats / wait p50 / p90 s", waits, ""),
        ("announcements / invitations played", played, "> 0"),
        ("descriptions recorded (≥ 1 s) / published", recorded, "> 0"),
        ("answers during invitation / recording / announcement / music", _j(*answered), ""),
        ("calls fallen back (stand-in / server)", fallback, "0"),
        ("answer→bridged p50 ms", sm["waiting_bridged_p50_ms"], ""),
        ("answer→bridged p99 ms", sm["waiting_bridged_p99_ms"], "< 20"),
        ("answer→bridged max ms", sm["waiting_bridged_max_ms"], ""),
        ("… answers that cut a prompt/recording, p99 ms (stand-in)", busy, ""),
        ("event-loop lag p99 ms", sm["waiting_loop_lag_p99_ms"], "< 50"),
        ("playbacks failed / session errors / log warnings", errs, "0"),
        ("stops of a queued prompt or recording / failed adds", stops, ""),
    ]


def _j(*values: Any) -> str:
    return " / ".join(str(v) for v in values)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="short run")
    p.add_argument("--rate", type=float, default=20.0)
    p.add_argument("--duration", type=float, default=None)
    p.add_argument("--talk", type=float, default=None)
    p.add_argument("--seats", type=int, default=None)
    p.add_argument(
        "--waiting-only",
        action="store_true",
        help="only the waiting-caller phase; prints its table, writes no results",
    )
    p.add_argument("--waiting-standin", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.waiting_standin:  # the waiting phase's stand-in process: settings on stdin
        out = asyncio.run(waiting_standin(json.loads(sys.stdin.read())))
        print(json.dumps(out), flush=True)
        return 0

    main_run = None
    if not args.waiting_only:
        main_run = main_phase(args)
        if main_run is None:
            return 1
        summary, settings, rows = main_run
        print_table(
            "bench/calls: controller over real sockets (server, stand-in, redis: 3 procs)", rows
        )
    waiting = waiting_phase(args)
    if waiting is None:
        return 1
    (w_summary, w_settings, w_rows), w_notes = waiting
    print_table(
        "bench/calls, waiting callers: announcements, description recordings, random answers",
        w_rows,
    )
    print(
        "  (published: the server's call.description events, for recordings that ran to their"
        "\n  end or were cut by the answer; a caller who hangs up while recorded is not one)"
    )
    if w_notes["no_audio"]:
        print(
            f"  {w_notes['no_audio']} descriptions not transcribed by the server: the stand-in "
            "writes no audio files"
        )
    if w_notes["log_top"]:
        print(f"  server log {w_notes['log']}, commonest warnings:")
        for line in w_notes["log_top"]:
            print(f"    {line}")
    if main_run is None:
        print(json.dumps(w_notes["standin"], indent=1))
        return 0
    path = write_results(
        "calls",
        {**settings, "waiting": w_settings},
        {**summary, **w_summary},
        notes="waiting_*: the waiting-caller phase (own server, stand-in and redis); "
        "waiting_bridged_* from the server's agent_answer_to_bridged samples, "
        "waiting_busy_bridged_p99_ms as the stand-in sees it for answers that stopped a "
        "prompt or recording; waiting_calls_fallback from the stand-in, _server from "
        "hotline_calls_fallback_total",
    )
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
