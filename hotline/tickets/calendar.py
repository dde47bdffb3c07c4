"""Working days: China's official holidays and adjusted working days, overridable per deployment.

A working day counts as a whole local day (00:00 to 24:00). Official data comes from the
``chinese_calendar`` package, which knows each year only once the State Council publishes its
schedule (usually in November for the next year). For a year it does not know, the calendar
falls back to Monday–Friday and logs it once; a deployment fills the gap, or corrects anything,
with ``holidays`` and ``workdays`` overrides in its configuration.

Pure: no I/O beyond importing the package data; time comes in as arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

DAY = timedelta(days=1)


class WorkCalendar:
    """Which local days are working days, and arithmetic in working time."""

    def __init__(
        self,
        *,
        tz: str = "Asia/Shanghai",
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        official: bool = True,
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.official = official
        self._unknown_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.official:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                if day.year not in self._unknown_years:
                    self._unknown_years.add(day.year)
                    log.warning(
                        "no official holiday data for %d: counting Monday-Friday; "
                        "add the year's holidays and adjusted working days to the configuration",
                        day.year,
                    )
        return day.weekday() < 5

    def knows_year(self, year: int) -> bool:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def local(self, t: datetime) -> datetime:
        return t.astimezone(self.tz)

    def end_of_workday(self, day: date) -> datetime:
        """The instant a working day ends: midnight at the start of the next day."""
        return datetime.combine(day + DAY, time(0), self.tz)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The end of the n-th working day after the local day of ``start``.

        Counting starts the day after: a ticket dispatched at 16:00 on a Monday with a
        three-working-day limit is due at the end of Thursday.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        day = self.local(start).date()
        counted = 0
        while counted < n:
            day += DAY
            if self.is_workday(day):
                counted += 1
        return self.end_of_workday(day)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end) that fall on working days."""
        if end <= start:
            return 0.0
        total = 0.0
        cursor = self.local(start)
        stop = self.local(end)
        while cursor < stop:
            day_end = datetime.combine(cursor.date() + DAY, time(0), self.tz)
            chunk_end = min(day_end, stop)
            if self.is_workday(cursor.date()):
                total += (chunk_end - cursor).total_seconds()
            cursor = chunk_end
        return total

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of working time have passed since ``start``."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        cursor = self.local(start)
        left = seconds
        while True:
            day_end = datetime.combine(cursor.date() + DAY, time(0), self.tz)
            if self.is_workday(cursor.date()):
                room = (day_end - cursor).total_seconds()
                if left <= room:
                    return cursor + timedelta(seconds=left)
                left -= room
            cursor = day_end

    def subtract_working_days(self, due: datetime, n: int) -> datetime:
        """``n`` working days of working time before ``due`` (for reminders)."""
        cursor = self.local(due)
        left = n * 86400.0
        while left > 0:
            day_start = datetime.combine(cursor.date(), time(0), self.tz)
            if day_start == cursor:
                day_start = datetime.combine(cursor.date() - DAY, time(0), self.tz)
            if self.is_workday(day_start.date()):
                room = (cursor - day_start).total_seconds()
                if left <= room:
                    return cursor - timedelta(seconds=left)
                left -= room
            cursor = day_start
        return cursor
