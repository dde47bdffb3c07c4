"""Follow-up survey calls (回访): ring the citizen of each ticket waiting for follow-up, play
the ticket number, collect a one-key rating, retry unanswered calls on a schedule.

``due`` (when to try) and ``SurveyCall`` (one call's dialogue) are pure. The scheduler finds
tickets in follow-up, originates within the configured hours and rate, and records every
attempt and its outcome on the ticket; a rating closes the ticket through the workflow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from hotline.config import Settings
from hotline.ivr.engine import Arm, Hangup, Say, Silence
from hotline.telephony import events as ev
from hotline.telephony.ari import AriClient
from hotline.telephony.exceptions import AriError
from hotline.tickets import schema as t
from hotline.tickets import workflow as wf
from hotline.tickets.exceptions import TicketError
from hotline.tickets.models import Actor, Role, Satisfaction, Status
from hotline.tickets.services import TicketService

log = logging.getLogger(__name__)
SYSTEM = Actor(None, Role.SYSTEM, None, "survey")
GRADES = {
    "1": Satisfaction.SATISFIED,
    "2": Satisfaction.BASICALLY_SATISFIED,
    "3": Satisfaction.UNSATISFIED,
}
STARS = {"1": 5, "2": 3, "3": 1}


@dataclass(frozen=True)
class SurveyPolicy:
    retry_after: tuple[timedelta, ...] = (timedelta(hours=4), timedelta(hours=20))
    max_attempts: int = 3  # 3 tries over 2 days by default
    hours: tuple[time, time] = (time(9, 0), time(20, 0))
    max_concurrent: int = 4
    per_minute: int = 10
    question_timeout_s: float = 8.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SurveyPolicy:
        start, end = (time.fromisoformat(x) for x in settings.survey_hours.split("-"))
        return cls(
            retry_after=tuple(timedelta(hours=h) for h in settings.survey_retry_hours),
            max_attempts=settings.survey_max_attempts,
            hours=(start, end),
            max_concurrent=settings.survey_max_concurrent,
            per_minute=settings.survey_per_minute,
        )


def in_hours(now: datetime, policy: SurveyPolicy) -> bool:
    start, end = policy.hours
    return start <= now.time().replace(tzinfo=None) < end


def due(attempts: list[datetime], now: datetime, policy: SurveyPolicy) -> bool:
    """Whether a ticket with these earlier (unsuccessful) attempts should be called now."""
    if not in_hours(now, policy) or len(attempts) >= policy.max_attempts:
        return False
    if not attempts:
        return True
    wait = policy.retry_after[min(len(attempts), len(policy.retry_after)) - 1]
    return now - max(attempts) >= wait


# -- one survey call, pure ------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    outcome: str  # answered, refused
    digit: str = ""


SurveyCommand = Say | Silence | Arm | Hangup | Result


@dataclass(frozen=True)
class SurveyCall:
    channel: str
    number: str
    phase: str = "ringing"  # ringing, question, thanks, done
    playback_id: str = ""
    tries: int = 0
    digit: str = ""
    seq: int = 0
    timeout_s: float = 8.0

    def _pb(self) -> tuple[SurveyCall, str]:
        nxt = replace(self, seq=self.seq + 1)
        return nxt, f"sv-{self.channel}-{nxt.seq}"

    def answered(self) -> tuple[SurveyCall, list[SurveyCommand]]:
        call, pb = self._pb()
        media = (
            "sound:hotline/survey-intro",
            f"digits:{self.number}",
            "sound:hotline/survey-question",
        )
        return replace(call, phase="question", playback_id=pb), [Say(media, pb)]

    def playback_done(self, pb: str) -> tuple[SurveyCall, list[SurveyCommand]]:
        if pb != self.playback_id:
            return self, []
        if self.phase == "question":
            return self, [Arm(self.timeout_s, f"{self.channel}:{self.seq}")]
        if self.phase == "thanks":
            return replace(self, phase="done"), [Hangup(), Result("answered", self.digit)]
        return self, []

    def dtmf(self, digit: str) -> tuple[SurveyCall, list[SurveyCommand]]:
        if self.phase != "question":
            return self, []
        if digit not in GRADES:
            return self._again()
        call, pb = self._pb()
        stop: list[SurveyCommand] = [Silence(self.playback_id)] if self.playback_id else []
        call = replace(call, phase="thanks", playback_id=pb, digit=digit)
        return call, [*stop, Say(("sound:hotline/survey-thanks",), pb)]

    def timeout(self, token: str) -> tuple[SurveyCall, list[SurveyCommand]]:
        if self.phase != "question" or token != f"{self.channel}:{self.seq}":
            return self, []
        return self._again()

    def _again(self) -> tuple[SurveyCall, list[SurveyCommand]]:
        if self.tries >= 1:
            return replace(self, phase="done"), [Hangup(), Result("refused")]
        call, pb = self._pb()
        stop: list[SurveyCommand] = [Silence(self.playback_id)] if self.playback_id else []
        call = replace(call, tries=self.tries + 1, playback_id=pb)
        return call, [*stop, Say(("sound:hotline/invalid", "sound:hotline/survey-question"), pb)]

    def hung_up(self) -> tuple[SurveyCall, list[SurveyCommand]]:
        if self.phase == "done":
            return self, []
        if self.phase == "thanks":  # rated, then hung up during the thanks
            return replace(self, phase="done"), [Result("answered", self.digit)]
        outcome = "no_answer" if self.phase == "ringing" else "refused"
        return replace(self, phase="done"), [Result(outcome)]


# -- the scheduler and the calls in flight --------------------------------------------------------


@dataclass
class Active:
    call: SurveyCall
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)


class SurveyScheduler:
    def __init__(
        self,
        store: TicketService,
        ari: AriClient,
        *,
        clock: Callable[[], datetime],
        endpoint: str,
        caller_id: str,
        policy: SurveyPolicy | None = None,
        interval_s: float = 30.0,
        ring_s: int = 30,
    ) -> None:
        self.ring_s = ring_s
        self.store = store
        self.ari = ari
        self.clock = clock
        self.endpoint = endpoint
        self.caller_id = caller_id
        self.policy = policy or SurveyPolicy()
        self.interval_s = interval_s
        self.active: dict[str, Active] = {}
        self.started: list[datetime] = []
        self.results: list[tuple[str, str, str]] = []  # number, outcome, digit
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def candidates(self) -> list[tuple[str, str, list[datetime]]]:
        """Tickets in follow-up with a phone number, and their earlier attempts."""
        tk, fu = t.tickets, t.follow_ups
        q = (
            select(tk.c.number, tk.c.caller_phone, func.count(fu.c.id), func.max(fu.c.at))
            .select_from(tk.outerjoin(fu, and_(fu.c.ticket_id == tk.c.id, fu.c.channel == "ivr")))
            .where(tk.c.status == Status.FOLLOW_UP.value, tk.c.caller_phone.is_not(None))
            .group_by(tk.c.number, tk.c.caller_phone)
            .order_by(tk.c.number)
            .limit(500)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        out = []
        for number, phone, count, last in rows:
            attempts = [last] * int(count) if last is not None else []
            out.append((number, phone, attempts))
        return out

    async def run_once(self) -> int:
        """Start the survey calls that are due now; returns how many were started."""
        now = self.clock()
        if not in_hours(now, self.policy):
            return 0
        self.started = [s for s in self.started if now - s < timedelta(minutes=1)]
        busy = {a.call.number for a in self.active.values()}
        n = 0
        for number, phone, attempts in await self.candidates():
            if len(self.active) >= self.policy.max_concurrent:
                break
            if len(self.started) >= self.policy.per_minute:
                break
            if number in busy or not due(attempts, now, self.policy):
                continue
            await self._originate(number, phone, len(attempts) + 1)
            self.started.append(now)
            n += 1
        return n

    async def _originate(self, number: str, phone: str, attempt: int) -> None:
        channel = f"survey-{number}-{attempt}"
        self.active[channel] = Active(
            SurveyCall(channel, number, timeout_s=self.policy.question_timeout_s)
        )
        log.info("ticket %s: follow-up call %d to %s", number, attempt, phone)
        try:
            await self.ari.originate(
                self.endpoint.format(number=phone),
                app_args=f"survey,{number}",
                channel_id=channel,
                caller_id=self.caller_id,
                timeout=self.ring_s,
                variables={"CHANNEL(language)": "zh"},
            )
        except AriError as e:
            log.warning("ticket %s: follow-up call failed: %s", number, e)
            self.active.pop(channel, None)
            await self._record(number, "failed", "")

    def owns(self, channel_id: str) -> bool:
        return channel_id in self.active

    def on_event(self, event: ev.AriEvent) -> None:
        """ARI events of survey channels (the controller hands them over)."""
        match event:
            case ev.StasisStart():
                self._apply(event.channel.id, lambda c: c.answered())
            case ev.PlaybackFinished():
                pb = event.playback.id
                self._apply(event.target_channel() or "", lambda c: c.playback_done(pb))
            case ev.ChannelDtmfReceived():
                digit = event.digit
                self._apply(event.channel.id, lambda c: c.dtmf(digit))
            case ev.StasisEnd() | ev.ChannelDestroyed() | ev.ChannelHangupRequest():
                self._apply(event.channel.id, lambda c: c.hung_up())
            case _:
                return

    def _apply(
        self,
        channel: str,
        fn: Callable[[SurveyCall], tuple[SurveyCall, list[SurveyCommand]]],
    ) -> None:
        active = self.active.get(channel)
        if active is None:
            return
        active.call, cmds = fn(active.call)
        for cmd in cmds:
            self._spawn(self._do(channel, active, cmd))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _do(self, channel: str, active: Active, cmd: SurveyCommand) -> None:
        try:
            match cmd:
                case Say(media, pb):
                    await self.ari.play(channel, ",".join(media), playback_id=pb)
                case Silence(pb):
                    await self.ari.stop_playback(pb)
                case Arm(seconds, token):
                    loop = asyncio.get_running_loop()
                    old = active.timers.pop("q", None)
                    if old:
                        old.cancel()
                    active.timers["q"] = loop.call_later(
                        seconds, lambda: self._apply(channel, lambda c: c.timeout(token))
                    )
                case Hangup():
                    await self.ari.hangup(channel)
                case Result(outcome, digit):
                    for h in active.timers.values():
                        h.cancel()
                    self.active.pop(channel, None)
                    await self._record(active.call.number, outcome, digit)
        except AriError as e:
            log.debug("survey %s: %s: %s", channel, type(cmd).__name__, e)

    async def _record(self, number: str, outcome: str, digit: str) -> None:
        self.results.append((number, outcome, digit))
        try:
            await self.store.add_follow_up(number, outcome, SYSTEM, channel="ivr")
            if outcome == "answered" and digit in GRADES:
                await self.store.act(number, wf.Rate(GRADES[digit], STARS[digit], "survey"), SYSTEM)
        except TicketError as e:
            log.warning("ticket %s: follow-up result not recorded: %s", number, e.message)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("follow-up survey pass failed")
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()
