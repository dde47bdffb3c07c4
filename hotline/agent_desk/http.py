"""HTTP routes: /healthz, /metrics, and the agent and call API."""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.exc import DBAPIError

from ..errors import Forbidden, HotlineError
from ..keys import AMI, ARI, CONTROLLER, LOOP_LAG, METRICS, REDIS, ROUTER, SETTINGS, STORE
from ..queue.models import OperatorState
from ..roles import DECIDING_ROLES, HOTLINE_ROLES, Role
from ..web.access import PUBLIC, add, roles, rule_for
from ..web.common import actor
from .pages import page_context

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


MAX_EXTEND_S = 600.0  # one press of "more time" adds at most this


class BadRequest(HotlineError):
    error_id = "bad-request"
    status = 400


class NotFound(HotlineError):
    error_id = "not-found"
    status = 404


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HotlineError as exc:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc)
        rule = rule_for(request) if request.match_info.http_exception is None else None
        if rule is not None and rule.page:
            # A refusal comes before the template context's own middleware has run.
            context = {**await page_context(request), "error": exc}
            return aiohttp_jinja2.render_template("error.html", request, context, status=exc.status)
        return web.json_response(exc.to_json(), status=exc.status)
    except (DBAPIError, OSError) as exc:
        # A dead or unreachable database: say so plainly, never a bare 500 page.
        log.error("%s %s: database unavailable: %s", request.method, request.path, exc)
        body = {
            "error_id": "database-unavailable",
            "message": "the ticket database is unavailable; try again shortly",
            "details": {"type": type(exc).__name__},
        }
        return web.json_response(body, status=503)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    redis_ok = True
    try:
        await app[REDIS].ping()
    except Exception:
        redis_ok = False
    ami = app.get(AMI)
    body = {
        "status": "ok" if redis_ok else "degraded",
        "redis": redis_ok,
        "ari_connected": app[ARI].connected.is_set(),
        "ami_connected": bool(ami and ami.logged_in.is_set()),
        "calls": len(app[CONTROLLER].calls),
    }
    return web.json_response(body, status=200 if redis_ok else 503)


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    m = app[METRICS]
    try:
        store = app[STORE]
        ops = await store.operators()
        counts = {s.value: 0 for s in OperatorState}
        for op in ops:
            counts[op.state.value] += 1
        for state, n in counts.items():
            m.agents.labels(state=state).set(n)
        tasks = await store.waiting_tasks()
        now = time.time()
        by_queue: dict[str, list[float]] = {}
        for t in tasks:
            by_queue.setdefault(t.queue, []).append(now - t.enqueued_at)
        for line in app[SETTINGS].lines:
            waits = by_queue.pop(line.skill, [])
            m.calls_waiting.labels(queue=line.skill).set(len(waits))
            m.queue_longest_wait.labels(queue=line.skill).set(max(waits, default=0.0))
        for queue, waits in by_queue.items():
            m.calls_waiting.labels(queue=queue).set(len(waits))
            m.queue_longest_wait.labels(queue=queue).set(max(waits, default=0.0))
    except Exception as exc:  # a dead Redis must not take /metrics down with it
        log.warning("metrics: live gauges unavailable: %r", exc)
    return web.Response(
        body=m.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


async def list_agents(request: web.Request) -> web.Response:
    ops = await request.app[STORE].operators()
    now = time.time()
    return web.json_response(
        [
            {
                "id": op.id,
                "endpoint": op.endpoint,
                "state": op.state.value,
                "reason": op.reason,
                "since_s": round(now - op.state_since, 1) if op.state_since else None,
                "skills": op.skills,
                "languages": sorted(op.languages),
                "call_id": op.call_id,
                "calls_today": op.calls_today,
                "talk_seconds": round(op.talk_seconds, 1),
            }
            for op in ops
        ]
    )


async def set_agent_state(request: web.Request) -> web.Response:
    op_id = request.match_info["id"]
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    try:
        state = OperatorState(str(body.get("state", "")))
    except ValueError as exc:
        raise BadRequest(
            "state must be one of " + ", ".join(s.value for s in OperatorState), field="state"
        ) from exc
    reason = str(body.get("reason", ""))[:64]
    try:
        extend = float(body.get("extend_s", 0) or 0)
    except (TypeError, ValueError) as exc:
        raise BadRequest("extend_s must be a number", field="extend_s") from exc
    if not 0 <= extend <= MAX_EXTEND_S:  # NaN and infinity fail this too
        raise BadRequest(f"extend_s is 0 to {MAX_EXTEND_S:g} seconds", field="extend_s")
    await _may_set_state(request, op_id)
    if await request.app[STORE].get_operator(op_id) is None:
        raise NotFound(f"no operator {op_id!r}", operator=op_id)
    prev = await request.app[ROUTER].operators.set_state(
        op_id, state, reason, extend_wrapup_s=extend
    )
    return web.json_response({"id": op_id, "state": state.value, "previous": prev})


async def _may_set_state(request: web.Request, op_id: str) -> None:
    """Supervisors and admins may change any seat, an operator only their own (the seat whose
    id is their username)."""
    who = actor(request)
    if who.role is Role.OPERATOR and who.username != op_id:
        raise Forbidden(
            "an operator may change only their own state; supervisors may change any",
            operator=op_id,
        )


async def list_calls(request: web.Request) -> web.Response:
    ctl = request.app[CONTROLLER]
    estimates = request.app[ROUTER].estimates.by_call
    out = []
    for r in ctl.calls.values():
        position, ewt = estimates.get(r.call_id, (None, None))
        out.append(
            {
                "call_id": r.call_id,
                "line": r.call.line,
                "state": r.call.state.value,
                "operator": r.call.operator_id,
                "caller": r.caller_number,
                "position": position,
                "estimated_wait_s": None if ewt is None or ewt == float("inf") else round(ewt, 1),
            }
        )
    return web.json_response(out)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


async def debug_latency(request: web.Request) -> web.Response:
    ctl = request.app[CONTROLLER]
    out = {}
    for step, samples in ctl.latency.samples.items():
        vals = list(samples)
        out[step] = {
            "n": len(vals),
            "p50_ms": _ms(_pct(vals, 0.5)),
            "p99_ms": _ms(_pct(vals, 0.99)),
            "max_ms": _ms(max(vals, default=None)),
        }
    lag: list[float] = list(request.app.get(LOOP_LAG) or ())
    out["loop_lag"] = {
        "n": len(lag),
        "p50_ms": _ms(_pct(lag, 0.5)),
        "p99_ms": _ms(_pct(lag, 0.99)),
        "max_ms": _ms(max(lag, default=None)),
    }
    out["router"] = vars(request.app[ROUTER].stats)
    return web.Response(text=json.dumps(out), content_type="application/json")


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 3)


SUPERVISORS = roles(Role.SUPERVISOR, Role.ADMIN)
SEAT_CHANGERS = roles(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)


def add_routes(app: web.Application) -> None:
    add(app, "GET", "/healthz", healthz, PUBLIC)  # for load balancers and probes
    add(app, "GET", "/metrics", metrics, PUBLIC)  # Prometheus scrapes without an account
    add(app, "GET", "/api/agents", list_agents, roles(HOTLINE_ROLES))
    add(app, "POST", "/api/agents/{id}/state", set_agent_state, SEAT_CHANGERS)
    add(app, "GET", "/api/calls", list_calls, roles(DECIDING_ROLES))  # every caller's number
    add(app, "GET", "/api/debug/latency", debug_latency, SUPERVISORS)
