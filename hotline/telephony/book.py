"""A call's bookkeeping: the metrics it counts, its record, the progress saved for a restart,
and the controller's latency samples, all kept from what the runner did.

The runner executes commands (``execute.py``) and hands each command and its result here, so
a new metric or record field is added in one place, whatever executes the command.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from . import session as s
from .records import CallSummary

if TYPE_CHECKING:
    from .runner import CallHost

log = logging.getLogger(__name__)


class CallBook:
    def __init__(self, host: CallHost, call: s.Call, caller: str) -> None:
        self.host = host
        self.line = call.line
        self.caller = caller
        self.summary = CallSummary(call.call_id, call.line, caller, time.time())
        self.enqueued_at = 0.0

    def labels(self) -> dict[str, str]:
        """Metric labels: the queue the call actually waited in (the IVR may have chosen
        it), else the line's."""
        queue = self.summary.queue or self.host.settings.line(self.line).skill
        return {"queue": queue, "line": self.line}

    def transition(self, before: s.Call, after: s.Call, event: s.Event) -> None:
        if after.hold_s != before.hold_s:
            self.summary.hold_s = round(after.hold_s, 3)
        if after.state is before.state:
            return
        log.info(
            "call %s: %s -> %s on %s",
            after.call_id,
            before.state.value,
            after.state.value,
            type(event).__name__,
        )
        if after.state is s.CallState.CALLBACK:
            self.save_progress(callback=1)  # the task waits with no channel

    def first_command(self, event: s.Event, received: float) -> None:
        if isinstance(event, s.CallerArrived):
            self.host.latency.observe(
                "stasis_start_to_first_command", time.perf_counter() - received
            )

    def observe(self, cmd: s.Command, result: Any, received: float) -> None:
        """After a command ran: count it, note it on the record, time it."""
        m, summary = self.host.metrics, self.summary
        match cmd:
            case s.Answer():
                m.calls_received.labels(line=self.line).inc()
            case s.Enqueue():
                task, kept = result
                self.enqueued_at, summary.queue = kept.enqueued_at, kept.queue
                self.save_progress(queue=kept.queue, enqueued_at=kept.enqueued_at)
                if kept.enqueued_at == task.enqueued_at:
                    m.calls_offered.labels(**self.labels()).inc()
                # The IVR flow's last event (end of the greeting) → the call is in the queue.
                self.host.latency.observe("flow_to_queued", time.perf_counter() - received)
            case s.LeaveQueue(call_id, "abandon"):
                self._abandoned(call_id, result)
            case s.JoinBridge():
                self.host.latency.observe("agent_answer_to_bridged", time.perf_counter() - received)
            case s.RecordBridge(_, name):
                summary.recording = name
            case s.MarkAnswered(_, operator_id):
                self._answered(operator_id, result)
            case s.DescriptionRecorded(_, name):
                summary.description = name
            case s.SaveRating(call_id, stars):
                summary.stars = stars
                log.info("call %s rated %d by the caller", call_id, stars)
            case s.DialCitizen():
                summary.callback = True
            case s.Transfer(_, number):
                summary.outcome, summary.transfer_to = "transferred", number
                m.calls_transferred.labels(**self.labels()).inc()
            case s.ControlReply(_, action, _, refused):
                m.desk_controls.labels(action=action, result="refused" if refused else "done").inc()
            case s.OfferFailed(_, _, True):
                m.offers_missed.inc()
            case s.CallFinished(call_id, operator_id, talk, outcome):
                summary.talk_s = talk
                if outcome != "answered":
                    summary.outcome = outcome
                log.info(
                    "call %s finished (%s) with %s after %.1fs", call_id, outcome, operator_id, talk
                )

    def _answered(self, operator_id: str, wait: float | None) -> None:
        if wait is None:
            wait = self.host.clock() - self.enqueued_at
        summary = self.summary
        summary.answered_at, summary.wait_s = time.time(), wait
        summary.operator_id, summary.outcome = operator_id, "answered"
        self.save_progress(answered_at=summary.answered_at, operator_id=operator_id, wait_s=wait)
        m, labels = self.host.metrics, self.labels()
        m.calls_answered.labels(**labels).inc()
        if wait <= self.host.settings.sla_seconds:
            m.calls_answered_within_sla.labels(**labels).inc()
        m.queue_wait.labels(**labels).observe(wait)

    def _abandoned(self, call_id: str, removed: tuple[str, str, float] | None) -> None:
        wait = self.host.clock() - (removed[2] if removed else self.enqueued_at)
        m, labels = self.host.metrics, self.labels()
        m.calls_abandoned.labels(**labels).inc()
        if wait < self.host.settings.short_abandon_seconds:
            m.calls_short_abandoned.labels(**labels).inc()
        self.summary.outcome, self.summary.wait_s = "abandoned", wait
        log.info("call %s abandoned after %.1fs in queue", call_id, wait)

    def fell_back(self, reason: str) -> None:
        self.host.metrics.calls_fallback.labels(**self.labels(), reason=reason).inc()

    def ended(self, state: s.CallState) -> CallSummary:
        self.summary.ended_at = time.time()
        if state is s.CallState.FALLBACK and self.summary.outcome == "ended":
            self.summary.outcome = "fallback"
        return self.summary

    def save_progress(self, **fields: str | float) -> None:
        """What the record needs if this process dies before the call ends: kept in Redis
        so whichever instance reconciles the call can close its record truthfully."""
        base: dict[str, str | float] = {
            "app": self.host.settings.ari_app,
            "owner": self.host.instance_id,  # where desk controls for the call are forwarded
            "line": self.line,
            "caller": self.caller,
            "started_at": self.summary.started_at,
        }
        store = self.host.router.store
        self.host.background(store.save_call(self.summary.call_id, **base, **fields))
