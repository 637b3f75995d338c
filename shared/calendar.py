"""Business days for the statutory clocks (record transfers, public records requests).

A business day is a weekday that is not a holiday of `shared/policy/data/calendar.toml` nor of the
setting `SLDS_EXTRA_HOLIDAYS`. "Within N business days of D" is counted from the day after D: a
transfer enrolled on Friday must be requested by the next Tuesday (two business days), not Monday.
Calendar days (FERPA's 45 days) need no calendar: `D + timedelta(days=45)`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

CALENDAR_FILE = Path(__file__).parent / "policy" / "data" / "calendar.toml"


@lru_cache(maxsize=1)
def packaged_holidays() -> frozenset[date]:
    data = tomllib.loads(CALENDAR_FILE.read_text(encoding="utf-8"))
    return frozenset(data.get("holidays", []))


class BusinessCalendar:
    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)

    @classmethod
    def configured(cls, extra: Iterable[date] = ()) -> BusinessCalendar:
        """The packaged holidays plus a deployment's own (`Settings.extra_holidays`)."""
        return cls(packaged_holidays() | frozenset(extra))

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def add_business_days(self, start: date, days: int) -> date:
        """The day `days` business days after `start` (start itself not counted; days >= 0).
        With 0, the first business day on or after `start`."""
        if days < 0:
            raise ValueError("days must be >= 0")
        day = start
        if days == 0:
            while not self.is_business_day(day):
                day += timedelta(days=1)
            return day
        while days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                days -= 1
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count


def calendar_for(settings: object) -> BusinessCalendar:
    return BusinessCalendar.configured(getattr(settings, "extra_holidays", ()) or ())
