"""Business-day clocks: weekends and configured holidays are skipped, the start day never counts."""

from __future__ import annotations

from datetime import date

import pytest

from shared.calendar import BusinessCalendar, calendar_for, packaged_holidays
from shared.settings import Settings


def test_two_business_days_after_a_friday_is_tuesday() -> None:
    assert BusinessCalendar().add_business_days(date(2026, 12, 4), 2) == date(2026, 12, 8)


def test_five_business_days_skip_thanksgiving_from_the_packaged_calendar() -> None:
    calendar = BusinessCalendar.configured()
    assert date(2026, 11, 26) in packaged_holidays()
    # Mon 23 Nov + 5 business days: 24, 25, (26 holiday), 27, 30 Nov, 1 Dec
    assert calendar.add_business_days(date(2026, 11, 23), 5) == date(2026, 12, 1)


def test_a_deployments_extra_holidays_count_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLDS_EXTRA_HOLIDAYS", "2026-12-07, 2026-12-08")
    calendar = calendar_for(Settings())
    assert calendar.add_business_days(date(2026, 12, 4), 2) == date(2026, 12, 10)
    assert not calendar.is_business_day(date(2026, 12, 7))


def test_zero_days_rolls_forward_to_a_business_day_and_negative_is_refused() -> None:
    calendar = BusinessCalendar()
    assert calendar.add_business_days(date(2026, 12, 5), 0) == date(2026, 12, 7)
    assert calendar.add_business_days(date(2026, 12, 7), 0) == date(2026, 12, 7)
    with pytest.raises(ValueError):
        calendar.add_business_days(date(2026, 12, 7), -1)


def test_business_days_between_counts_after_start_through_end() -> None:
    calendar = BusinessCalendar(holidays={date(2026, 12, 9)})
    assert calendar.business_days_between(date(2026, 12, 4), date(2026, 12, 11)) == 4
    assert calendar.business_days_between(date(2026, 12, 11), date(2026, 12, 4)) == 0
