"""Working-day arithmetic across China's official holidays and adjusted working days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.deadlines import (
    DeadlinePolicy,
    compute_deadlines,
    extend,
    paused,
    reminder_time,
)
from hotline.tickets.models import Kind, Urgency

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 14), True),  # Saturday made a working day for the Spring Festival
        (date(2026, 2, 16), False),  # Spring Festival eve
        (date(2026, 2, 23), False),  # last day of the break (a Monday)
        (date(2026, 2, 28), True),  # Saturday working day after it
        (date(2026, 9, 20), True),  # Sunday working day before National Day
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),
        (date(2026, 10, 10), True),  # Saturday working day after National Day
        (date(2026, 11, 23), True),  # an ordinary Monday
        (date(2026, 11, 22), False),  # an ordinary Sunday
    ],
)
def test_given_official_schedule_when_asked_then_knows_holidays_and_adjusted_days(
    day: date, working: bool
) -> None:
    assert CAL.is_workday(day) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Friday before the Spring Festival: Sat 14th counts, the break does not.
        (at(2026, 2, 13, 10), 3, at(2026, 2, 26)),
        (at(2026, 2, 13, 10), 1, at(2026, 2, 15)),
        # Dispatched on the eve of National Day; Saturday 10 October is a working day.
        (at(2026, 9, 30, 15), 7, at(2026, 10, 16)),
        (at(2026, 9, 30, 15), 3, at(2026, 10, 11)),
        # Dispatched during the holiday: counting starts at the next working day.
        (at(2026, 10, 3, 9), 1, at(2026, 10, 9)),
        # An ordinary week: Monday + 3 working days ends Thursday.
        (at(2026, 11, 23, 16), 3, at(2026, 11, 27)),
        (at(2026, 11, 27, 16), 3, at(2026, 12, 3)),
    ],
)
def test_given_start_when_adding_working_days_then_due_at_end_of_nth_working_day(
    start: datetime, days: int, due: datetime
) -> None:
    assert CAL.add_working_days(start, days) == due


def test_given_year_without_official_data_when_counting_then_weekdays_and_overrides_apply() -> None:
    assert not CAL.knows_year(2099)
    plain = WorkCalendar()
    # 2099-01-01 is a Thursday.
    assert plain.add_working_days(datetime(2098, 12, 31, 12, tzinfo=TZ), 2) == datetime(
        2099, 1, 3, tzinfo=TZ
    )
    custom = WorkCalendar(
        holidays=[date(2099, 1, 1), date(2099, 1, 2)], workdays=[date(2099, 1, 3)]
    )
    assert custom.add_working_days(datetime(2098, 12, 31, 12, tzinfo=TZ), 2) == datetime(
        2099, 1, 6, tzinfo=TZ
    )


def test_given_a_span_over_the_spring_festival_when_measuring_then_only_working_time_counts() -> (
    None
):
    # From Friday 13 Feb noon to Tuesday 24 Feb noon: half of the 13th, all of the 14th,
    # then the break, then half of the 24th.
    assert CAL.working_seconds(at(2026, 2, 13, 12), at(2026, 2, 24, 12)) == 2 * 86400


def test_given_deadline_before_a_holiday_when_paused_then_it_moves_past_the_holiday() -> None:
    due = at(2026, 2, 15)  # end of Saturday 14th
    moved = paused(due, at(2026, 2, 13, 0), at(2026, 2, 14, 0), in_working_days=True, calendar=CAL)
    assert moved == at(2026, 2, 25)  # the next working day after the break is the 24th


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 1)),
    st.floats(min_value=0, max_value=40 * 86400),
)
def test_property_adding_then_measuring_working_time_round_trips(
    start: datetime, seconds: float
) -> None:
    s = start.replace(tzinfo=TZ)
    end = CAL.add_working_seconds(s, seconds)
    assert end >= s
    assert CAL.working_seconds(s, end) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 11, 1)),
    st.integers(min_value=1, max_value=20),
)
def test_property_n_working_days_contain_exactly_n_working_days(start: datetime, n: int) -> None:
    s = start.replace(tzinfo=TZ)
    due = CAL.add_working_days(s, n)
    next_day = (s + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert CAL.working_seconds(next_day, due) == n * 86400
    assert CAL.is_workday((due - timedelta(seconds=1)).date())


def test_deadline_policy_defaults_and_modes() -> None:
    p = DeadlinePolicy()
    start = at(2026, 11, 23, 10)
    consult = compute_deadlines(
        Kind.CONSULTATION, Urgency.NORMAL, start, emergency=False, policy=p, calendar=CAL
    )
    complaint = compute_deadlines(
        Kind.COMPLAINT, Urgency.NORMAL, start, emergency=False, policy=p, calendar=CAL
    )
    urgent = compute_deadlines(
        Kind.HELP, Urgency.URGENT, start, emergency=False, policy=p, calendar=CAL
    )
    emergency_c = compute_deadlines(
        Kind.CONSULTATION, Urgency.NORMAL, start, emergency=True, policy=p, calendar=CAL
    )
    emergency_p = compute_deadlines(
        Kind.COMPLAINT, Urgency.NORMAL, start, emergency=True, policy=p, calendar=CAL
    )
    assert consult.reply_due == at(2026, 11, 27) and consult.contact_due is None
    assert complaint.reply_due == at(2026, 12, 3)
    assert urgent.contact_due == start + timedelta(minutes=30)
    assert urgent.reply_due == start + timedelta(hours=24) and not urgent.in_working_days
    assert emergency_c.reply_due == start + timedelta(hours=24)
    assert emergency_p.reply_due == start + timedelta(hours=48)


def test_reminders_two_working_days_before_or_at_a_quarter_of_an_hour_limit() -> None:
    p = DeadlinePolicy()
    due = at(2026, 2, 26)  # end of Wednesday 25th, after the Spring Festival
    remind = reminder_time(at(2026, 2, 13, 10), due, in_working_days=True, policy=p, calendar=CAL)
    assert remind == at(2026, 2, 24)  # two working days before: the 24th and 25th
    start = at(2026, 11, 23, 10)
    hours = reminder_time(
        start, start + timedelta(hours=24), in_working_days=False, policy=p, calendar=CAL
    )
    assert hours == start + timedelta(hours=18)


def test_extension_in_working_days_skips_holidays() -> None:
    # Due at the end of 30 September: two more working days are 8 and 9 October.
    assert extend(at(2026, 10, 1), 2, in_working_days=True, calendar=CAL) == at(2026, 10, 10)
    assert extend(at(2026, 10, 1), 2, in_working_days=False, calendar=CAL) == at(2026, 10, 3)
