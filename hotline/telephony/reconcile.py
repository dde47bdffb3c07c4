"""After a restart or a reconnect: make Redis agree with the channels Asterisk has.

Asterisk is the truth about channels. A call whose channel is gone ended while nobody was
listening: its waiting task leaves the queue, its operator is freed (wrap-up, then ready),
and its record is written from the progress saved in Redis (answered calls keep their
answer and operator). An operator leg left in a bridge with no caller is hung up; a seat
reserved for a call that was just adopted (its ring was lost with the old process) is
released without blame. Only calls of this server's Stasis application are touched, so
another application's instance on the same Redis keeps its own.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..queue.models import OperatorState
from . import events as ev
from .exceptions import AriError
from .records import CallSummary

if TYPE_CHECKING:
    from .stasis import StasisController

log = logging.getLogger(__name__)
S = OperatorState


async def reconcile(
    ctl: StasisController,
    present: frozenset[str],
    in_app: set[str],
    bridges: list[ev.Bridge],
    adopted: set[str],
) -> None:
    store, router = ctl.router.store, ctl.router
    for op in await store.operators():
        call_id = op.call_id
        if op.state is S.WRAP_UP:
            await router.operators.resume_wrapup(op.id)
        if not call_id or op.state not in (S.ON_CALL, S.RESERVED):
            continue
        runner = ctl.calls.get(call_id)
        if call_id not in present and runner is None:
            if await _ours(ctl, call_id):
                if op.state is S.RESERVED:
                    await router.leave(call_id, "lost")
                else:
                    await _close_lost(ctl, call_id, "answered", op.id)
        elif call_id in adopted and runner is not None:
            if op.state is S.RESERVED:
                await router.release_offer(call_id, op.id)  # the ring died with the old process
            elif runner.call.operator_id != op.id:
                await router.operators.call_ended(op.id, 0.0)
    for task in await store.waiting_tasks():
        if task.call_id in present or task.call_id in ctl.calls:
            continue
        saved = await store.live_call(task.call_id)
        if saved.get("app", ctl.settings.ari_app) != ctl.settings.ari_app:
            continue
        if saved.get("callback") == "1":
            ctl.adopt_callback(task.call_id, saved)  # no channel by design: ring them back
        else:
            await router.leave(task.call_id, "lost")
            await _close_lost(ctl, task.call_id, "abandoned", "")
    await _hang_up_orphans(ctl, present, in_app, bridges)


async def _ours(ctl: StasisController, call_id: str) -> bool:
    """A call of this application (or one whose application was never saved)."""
    saved = await ctl.router.store.live_call(call_id)
    return saved.get("app", ctl.settings.ari_app) == ctl.settings.ari_app


async def _close_lost(ctl: StasisController, call_id: str, outcome: str, op_id: str) -> None:
    """The call ended while no server watched it: free its seat and write its record."""
    store = ctl.router.store
    saved = await store.live_call(call_id)
    summary = summary_from(saved, call_id)
    summary.outcome = outcome
    summary.ended_at = time.time()
    if op_id:
        summary.operator_id = summary.operator_id or op_id
        await ctl.router.operators.call_ended(op_id, 0.0)
    ctl.metrics.calls_reconciled.labels(outcome=outcome).inc()
    log.info("call %s ended while no server watched it; recorded as %s", call_id, outcome)
    ctl.hooks.call_ended(summary)
    await store.drop_call(call_id)


def summary_from(saved: dict[str, str], call_id: str) -> CallSummary:
    """A call record from the progress a server saved in Redis."""

    def num(key: str) -> float | None:
        try:
            return float(saved[key])
        except (KeyError, ValueError):
            return None

    summary = CallSummary(
        call_id,
        saved.get("line", ""),
        saved.get("caller", ""),
        num("started_at") or time.time(),
        queue=saved.get("queue", ""),
    )
    summary.answered_at = num("answered_at")
    summary.wait_s = num("wait_s")
    summary.operator_id = saved.get("operator_id", "")
    if summary.answered_at is not None:
        summary.outcome = "answered"
    return summary


async def _hang_up_orphans(
    ctl: StasisController, present: frozenset[str], in_app: set[str], bridges: list[ev.Bridge]
) -> None:
    """Operator legs nobody owns any more (their caller left during the outage), and the
    bridges of calls that are gone."""
    for ch in sorted(in_app):
        if ch.startswith(("agent-", "third-")) and ch not in ctl.channel_owner:
            log.info("operator or three-way leg %s has no call any more; hanging up", ch)
            await _quietly(ctl.ari.hangup(ch))
    for b in bridges:
        call_id = b.id.removeprefix("call-")
        if b.id.startswith("call-") and call_id not in present and call_id not in ctl.calls:
            for ch in b.channels:
                if (
                    ch.startswith(("agent-", "third-"))
                    and ch in present
                    and ch not in ctl.channel_owner
                ):
                    await _quietly(ctl.ari.hangup(ch))
            await _quietly(ctl.ari.destroy_bridge(b.id))


async def _quietly(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except AriError as exc:
        log.debug("reconcile: %s", exc)


def restore(summary: CallSummary, saved: dict[str, str]) -> None:
    """An adopted call's record continues from what the previous server saved."""
    if not saved:
        return
    old = summary_from(saved, summary.call_id)
    summary.started_at, summary.queue = old.started_at, old.queue or summary.queue
    if old.answered_at is not None:
        summary.answered_at, summary.wait_s = old.answered_at, old.wait_s
        summary.operator_id, summary.outcome = old.operator_id, "answered"
