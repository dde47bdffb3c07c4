"""The supervisor board (``/board``): the page and its snapshot.

The page loads :func:`snapshot` (queues and lines with their waiting callers and the office's
figures for three windows, the seats by state, the staffing advice, the alerts, the IVR flags)
and then follows the event stream, loading the snapshot again when calls or seats change. The
actions are the existing routes: ``POST /api/agents/{id}/state`` (a supervisor may change any
seat) and ``PUT /api/ivr/flags/{name}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..config import Settings
from ..errors import HotlineError
from ..keys import AMI, ARI, CONTROLLER, IVR, SETTINGS, STORE, TICKETS
from ..metrics.figures import Counts
from ..queue.models import Operator, OperatorState, Task
from ..roles import Role
from ..web.access import add, roles
from ..web.common import actor, json_response, read_body
from . import board_data as bd
from . import i18n
from .events import HUB
from .pages import locale_of

if TYPE_CHECKING:
    from ..telephony.stasis import StasisController

SUPERVISING = roles(Role.SUPERVISOR, Role.ADMIN)
WORKING = (
    OperatorState.READY,
    OperatorState.RESERVED,
    OperatorState.ON_CALL,
    OperatorState.WRAP_UP,
)
AT_A_CALL = (OperatorState.RESERVED, OperatorState.ON_CALL)
STAFFING_WINDOWS_S = (900.0, 1800.0)
JS_MESSAGES = (
    "connection_live",
    "connection_lost",
    "error",
    "seconds",
    "state_ready",
    "state_not_ready",
    "state_wrap_up",
    "state_on_call",
    "state_reserved",
    "state_logged_out",
    "board_all",
    "board_no_alerts",
    "board_alert_service_level",
    "board_alert_queue_waiting",
    "board_alert_operator_stuck",
    "board_alert_ari_down",
    "board_alert_ami_down",
    "board_window_today",
    "board_window_last_15m",
    "board_window_interval_30m",
    "board_force_ready",
    "board_force_not_ready",
    "board_sign_out",
    "board_stuck",
    "board_flag_on",
    "board_flag_off",
    "board_staffing_line",
    "board_staffing_none",
    "board_done",
    "board_listen",
    "board_whisper",
    "board_barge",
    "board_coach_stop",
    "board_coached",
    "board_summary",
)


class CoachInvalid(HotlineError):
    error_id = "coach-invalid"
    status = 422


class CoachUnavailable(HotlineError):
    error_id = "coach-unavailable"
    status = 503


class CoachBody(BaseModel):
    """The supervisor's own seat (an endpoint such as PJSIP/2001; never a trunk dial)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    mode: str = Field(pattern=r"^(listen|whisper|barge)$")
    seat: str = Field(pattern=r"^[A-Z0-9]{2,8}/[A-Za-z0-9_.-]{1,40}$")


async def board_page(request: web.Request) -> web.Response:
    locale = locale_of(request)
    config = {"messages": {k: i18n.text(locale, k) for k in JS_MESSAGES}, "locale": locale}
    return aiohttp_jinja2.render_template(
        "board.html", request, {"config": json.dumps(config, ensure_ascii=False)}
    )


def _waiting(tasks: list[Task], now: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in tasks:
        for key in (f"{t.queue or '-'}|{t.line or '-'}", bd.ALL):
            w = out.setdefault(key, {"waiting": 0, "longest_wait_s": 0.0})
            w["waiting"] += 1
            w["longest_wait_s"] = round(max(w["longest_wait_s"], now - t.enqueued_at), 1)
    return out


def _operators(
    ops: list[Operator], now: float, s: Settings, coached: dict[str, tuple[str, bool]]
) -> list[dict[str, Any]]:
    return [
        {
            "id": op.id,
            "state": op.state.value,
            "reason": op.reason,
            "since": op.state_since or None,
            "in_state_s": round(now - op.state_since, 1) if op.state_since else None,
            "call_id": op.call_id,
            "calls_today": op.calls_today,
            "coached": coached.get(op.call_id, ("", False))[0] if op.call_id else "",
            "coach_joined": coached.get(op.call_id, ("", False))[1] if op.call_id else False,
            "stuck": bd.stuck(
                op, now, not_ready_s=s.board_stuck_not_ready_s, wrapup_s=s.board_stuck_wrapup_s
            ),
        }
        for op in ops
    ]


def _arrivals(rows: list[bd.CallRow], tasks: list[Task], at_seats: int, since: float) -> int:
    """Calls offered since ``since``: the finished ones, the ones waiting now and the ones
    at a seat now (their records are written when they end)."""
    done = sum(1 for r in rows if r.started_at >= since and r.wait_s is not None)
    waiting = sum(1 for t in tasks if t.enqueued_at >= since)
    return done + waiting + at_seats


def _groups(
    counts: dict[str, dict[str, Counts]], waiting: dict[str, dict[str, Any]], s: Settings
) -> list[dict[str, Any]]:
    out = []
    for key in sorted(set(counts) | set(waiting), key=lambda k: (k != bd.ALL, k)):
        queue, _, line = key.partition("|")
        per = counts.get(key) or {n: Counts() for n in bd.WINDOWS}
        out.append(
            {
                "key": key,
                "queue": queue,
                "line": line,
                **waiting.get(key, {"waiting": 0, "longest_wait_s": 0.0}),
                "windows": {n: bd.counts_json(per[n], s.sla_seconds) for n in bd.WINDOWS},
            }
        )
    return out


def _advice(
    rows: list[bd.CallRow],
    talks: list[float],
    tasks: list[Task],
    ops: list[Operator],
    now: float,
    s: Settings,
) -> list[dict[str, Any]]:
    ready = sum(op.state is OperatorState.READY for op in ops)
    working = sum(op.state in WORKING for op in ops)
    at_seats = sum(op.state in AT_A_CALL for op in ops)
    handle = bd.mean_handle_s(talks, s.wrapup_s, s.mean_handle_s)
    return [
        asdict(
            bd.staffing(
                _arrivals(rows, tasks, at_seats, now - w),
                w,
                handle,
                target_s=s.sla_seconds,
                target_level=s.service_level_target,
                ready=ready,
                working=working,
            )
        )
        for w in STAFFING_WINDOWS_S
    ]


def _links(app: web.Application) -> dict[str, bool | None]:
    """As /healthz reads them; AMI None when this server does not use it."""
    ami = app.get(AMI)
    ami_ok = bool(ami.logged_in.is_set()) if ami is not None and app[SETTINGS].ami_enabled else None
    return {"ari": app[ARI].connected.is_set(), "ami": ami_ok}


async def build_snapshot(app: web.Application, now: float) -> dict[str, Any]:
    s, store, hub, ivr = app[SETTINGS], app[STORE], app.get(HUB), app.get(IVR)
    resume = (hub.last if hub else "") or await store.events_head()  # before the reads
    spans = bd.windows(now, s.timezone)
    rows, talks = await bd.read_calls(
        app[TICKETS].tickets.engine, min(start for start, _ in spans.values())
    )
    counts = bd.window_counts(
        rows, spans, threshold_s=s.sla_seconds, short_abandon_s=s.short_abandon_seconds
    )
    tasks = await store.waiting_tasks()
    ops = await store.operators()
    ctl = app.get(CONTROLLER)
    sessions = ctl.coaching.sessions if ctl else {}
    seats = _operators(ops, now, s, {c: (x.mode, x.joined) for c, x in sessions.items()})
    by_queue: dict[str, int] = {}
    for t in tasks:
        by_queue[t.queue] = by_queue.get(t.queue, 0) + 1
    links = _links(app)
    alerts = bd.alerts(
        level_15m=bd.service_level_of(counts[bd.ALL]["last_15m"], s.sla_seconds),
        target=s.service_level_target,
        waiting=by_queue,
        waiting_max=s.board_queue_waiting_max,
        stuck_ops=[o["id"] for o in seats if o["stuck"]],
        ari=bool(links["ari"]),
        ami=links["ami"],
    )
    return {
        "server_time": now,
        "windows": {n: {"start": a, "end": b} for n, (a, b) in spans.items()},
        "timezone": s.timezone,
        "sla_seconds": s.sla_seconds,
        "service_level_target": s.service_level_target,
        "groups": _groups(counts, _waiting(tasks, now), s),
        "operators": seats,
        "staffing": _advice(rows, talks, tasks, ops, now, s),
        "alerts": [asdict(a) for a in alerts],
        "flags": {
            "on": sorted(ivr.flags) if ivr else [],
            "known": sorted(ivr.known_flags()) if ivr else [],
        },
        "connections": links,
        "resume_from": resume,
    }


class SnapshotCache:
    """One snapshot a second for every board this instance serves: each open board asks on
    every call or seat event and every 5 s, and a snapshot reads the day's call records."""

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self.value: dict[str, Any] | None = None
        self.at = 0.0
        self.lock = asyncio.Lock()

    async def get(self, app: web.Application) -> dict[str, Any]:
        async with self.lock:
            now = time.monotonic()
            if self.value is None or now - self.at >= self.ttl_s:
                self.value, self.at = await build_snapshot(app, time.time()), now
            return self.value


SNAPSHOTS: web.AppKey[SnapshotCache] = web.AppKey("board_snapshots", SnapshotCache)


async def snapshot(request: web.Request) -> web.Response:
    return json_response(await request.app[SNAPSHOTS].get(request.app))


def _controller(app: web.Application) -> StasisController:
    ctl = app.get(CONTROLLER)
    if ctl is None:
        raise CoachUnavailable("calls are not handled by this server")
    return ctl


async def coach(request: web.Request) -> web.Response:
    """Listen, whisper or barge on a live call from the supervisor's own seat."""
    body = await read_body(request, CoachBody, invalid=CoachInvalid)
    who = actor(request)
    call_id = request.match_info["call_id"]
    ctl = _controller(request.app)
    sess = await ctl.coach(call_id, who.username or who.role.value, body.mode, body.seat)
    return json_response(sess, status=202)


async def stop_coach(request: web.Request) -> web.Response:
    who = actor(request)
    call_id = request.match_info["call_id"]
    done = await _controller(request.app).coach(call_id, who.username or who.role.value, "stop")
    return json_response(done)


def add_board(app: web.Application) -> None:
    app[SNAPSHOTS] = SnapshotCache()
    add(app, "GET", "/board", board_page, roles(Role.SUPERVISOR, Role.ADMIN, page=True))
    add(app, "GET", "/board/snapshot", snapshot, SUPERVISING)
    add(app, "POST", "/api/calls/{call_id}/coach", coach, SUPERVISING)
    add(app, "DELETE", "/api/calls/{call_id}/coach", stop_coach, SUPERVISING)
