"""Deadline policy: working days per kind, hours for urgent items and in emergency mode.

Defaults follow DOMAIN.md: consultation 3 working days, complaint 7; urgent items must be
contacted within 30 minutes and replied to within 24 hours; in emergency mode (epidemic,
flood) every limit shortens to 24 hours (consultation, help) or 48 hours (the rest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.models import Kind, Urgency


def _frozen(d: dict[Kind, int]) -> Mapping[Kind, int]:
    return MappingProxyType(d)


DEFAULT_WORKING_DAYS = _frozen(
    {
        Kind.CONSULTATION: 3,
        Kind.HELP: 5,
        Kind.COMPLAINT: 7,
        Kind.REPORT: 7,
        Kind.SUGGESTION: 7,
        Kind.PRAISE: 3,
        Kind.OTHER: 5,
    }
)
DEFAULT_EMERGENCY_HOURS = _frozen(
    {
        Kind.CONSULTATION: 24,
        Kind.HELP: 24,
        Kind.COMPLAINT: 48,
        Kind.REPORT: 48,
        Kind.SUGGESTION: 48,
        Kind.PRAISE: 48,
        Kind.OTHER: 48,
    }
)


@dataclass(frozen=True)
class DeadlinePolicy:
    working_days: Mapping[Kind, int] = field(default_factory=lambda: DEFAULT_WORKING_DAYS)
    emergency_hours: Mapping[Kind, int] = field(default_factory=lambda: DEFAULT_EMERGENCY_HOURS)
    urgent_contact: timedelta = timedelta(minutes=30)
    urgent_reply: timedelta = timedelta(hours=24)
    max_extension_days: int = 10
    pause_on_extension: bool = True
    remind_working_days: int = 2
    remind_fraction: float = 0.25  # for hour limits: remind when this share of time is left


@dataclass(frozen=True)
class Deadlines:
    reply_due: datetime
    contact_due: datetime | None = None
    in_working_days: bool = True


def compute_deadlines(
    kind: Kind,
    urgency: Urgency,
    start: datetime,
    *,
    emergency: bool,
    policy: DeadlinePolicy,
    calendar: WorkCalendar,
) -> Deadlines:
    """Deadlines for a ticket handed to a department at ``start``."""
    if urgency is Urgency.URGENT:
        return Deadlines(
            reply_due=start + policy.urgent_reply,
            contact_due=start + policy.urgent_contact,
            in_working_days=False,
        )
    if emergency:
        hours = policy.emergency_hours.get(kind, 48)
        return Deadlines(reply_due=start + timedelta(hours=hours), in_working_days=False)
    days = policy.working_days.get(kind, 5)
    return Deadlines(reply_due=calendar.add_working_days(start, days))


def reminder_time(
    start: datetime,
    due: datetime,
    *,
    in_working_days: bool,
    policy: DeadlinePolicy,
    calendar: WorkCalendar,
) -> datetime:
    """When the handler is reminded: two working days before, or at a share of an hour limit."""
    if in_working_days:
        remind = calendar.subtract_working_days(due, policy.remind_working_days)
    else:
        remind = due - (due - start) * policy.remind_fraction
    return max(remind, start)


def extend(due: datetime, days: int, *, in_working_days: bool, calendar: WorkCalendar) -> datetime:
    """The deadline after an approved extension of ``days`` (working days, or 24 h each)."""
    if in_working_days:
        return calendar.add_working_seconds(due, days * 86400.0)
    return due + timedelta(days=days)


def paused(
    due: datetime,
    since: datetime,
    until: datetime,
    *,
    in_working_days: bool,
    calendar: WorkCalendar,
) -> datetime:
    """Move ``due`` on by the time an extension request was pending."""
    if until <= since:
        return due
    if in_working_days:
        return calendar.add_working_seconds(due, calendar.working_seconds(since, until))
    return due + (until - since)
