"""A department's scorecard for the month so far, beside the city's figures for the same
window, from the tickets, their history and their assignments in SQL.

Five figures, each a count over a base and its share:

- on-time sign-for: sign-fors this month made within one working day of the dispatch (or
  pass-down) before them, over all sign-fors this month;
- on-time reply: replies this month made before the ticket's reply deadline, over all replies;
- satisfaction: ratings this month of tickets the department handles that are satisfied or
  basically satisfied, over all those ratings (voided ratings left out);
- returns and extensions: returns made and extensions asked this month, over the tickets
  dispatched to the department this month.

The city's figure is the same count over every department (its average share).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tickets import schema as t
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.models import Satisfaction

SIGN_WITHIN_WORKING_DAYS = 1
GOOD = (Satisfaction.SATISFIED.value, Satisfaction.BASICALLY_SATISFIED.value)
FIGURES = ("sign_on_time", "reply_on_time", "satisfaction", "returns", "extensions")


@dataclass(frozen=True)
class Share:
    n: int
    of: int

    @property
    def rate(self) -> float | None:
        return round(self.n / self.of, 4) if self.of else None

    def json(self) -> dict[str, Any]:
        return {"n": self.n, "of": self.of, "rate": self.rate}


def month_start(now: datetime, calendar: WorkCalendar) -> datetime:
    local = calendar.local(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def signed_on_time(sent: datetime | None, signed: datetime, calendar: WorkCalendar) -> bool:
    return sent is None or signed <= calendar.add_working_days(sent, SIGN_WITHIN_WORKING_DAYS)


class Scorecards:
    def __init__(self, engine: AsyncEngine, calendar: WorkCalendar) -> None:
        self.engine = engine
        self.calendar = calendar

    async def figures(
        self, depts: Collection[int] | None, start: datetime, end: datetime
    ) -> dict[str, Share]:
        """The five figures over ``[start, end)`` for these departments (None: the city)."""
        h, a, r, tk = t.history, t.assignments, t.replies, t.tickets
        ra, ex = t.ratings, t.extension_requests
        ids = sorted(depts) if depts is not None else None

        def scoped(col: Any) -> Any:
            return col.in_(ids) if ids is not None else True

        prior = h.alias("prior")
        sent = (
            select(func.max(prior.c.at))
            .where(
                prior.c.ticket_id == h.c.ticket_id,
                prior.c.action.in_(("dispatch", "pass_down")),
                prior.c.at <= h.c.at,
            )
            .scalar_subquery()
        )
        window = and_(h.c.at >= start, h.c.at < end)
        async with self.engine.connect() as conn:
            received = await conn.scalar(
                select(func.count()).where(
                    a.c.role == "lead", a.c.at >= start, a.c.at < end, scoped(a.c.department_id)
                )
            )
            signs = await conn.execute(
                select(h.c.at, sent.label("sent")).where(
                    h.c.action == "sign", window, scoped(h.c.actor_department_id)
                )
            )
            sign_rows = [(row.sent, row.at) for row in signs]
            replies = await conn.execute(
                select(r.c.at, tk.c.reply_due)
                .join(tk, tk.c.id == r.c.ticket_id)
                .where(
                    r.c.on_call.is_(False),
                    r.c.co.is_(False),
                    r.c.at >= start,
                    r.c.at < end,
                    scoped(r.c.department_id),
                )
            )
            reply_rows = [(row.at, row.reply_due) for row in replies]
            ratings = await conn.execute(
                select(ra.c.satisfaction)
                .join(tk, tk.c.id == ra.c.ticket_id)
                .where(
                    ra.c.at >= start,
                    ra.c.at < end,
                    tk.c.rating_void.is_(False),
                    scoped(tk.c.handler_id),
                )
            )
            grades = [row.satisfaction for row in ratings]
            returns = await conn.scalar(
                select(func.count()).where(
                    h.c.action == "return", window, scoped(h.c.actor_department_id)
                )
            )
            extensions = await conn.scalar(
                select(func.count()).where(
                    ex.c.at >= start, ex.c.at < end, scoped(ex.c.department_id)
                )
            )
        base = int(received or 0)
        on_time = sum(signed_on_time(s, at, self.calendar) for s, at in sign_rows)
        replied = sum(due is None or at <= due for at, due in reply_rows)
        return {
            "sign_on_time": Share(on_time, len(sign_rows)),
            "reply_on_time": Share(replied, len(reply_rows)),
            "satisfaction": Share(sum(g in GOOD for g in grades), len(grades)),
            "returns": Share(int(returns or 0), base),
            "extensions": Share(int(extensions or 0), base),
        }

    async def card(self, depts: Collection[int], now: datetime) -> dict[str, Any]:
        """The department's figures this month and the city's, ready for a page or JSON."""
        start = month_start(now, self.calendar)
        mine = await self.figures(depts, start, now)
        city = await self.figures(None, start, now)
        return {
            "month": f"{start:%Y-%m}",
            "since": start.isoformat(),
            "until": now.isoformat(),
            "figures": [
                {"name": name, "department": mine[name].json(), "city": city[name].json()}
                for name in FIGURES
            ],
        }
