from datetime import date

from discover.deadlines import add_months, first_deadline, urgency


def test_one_month_ends_on_the_same_day_or_the_end_of_a_shorter_month() -> None:
    assert first_deadline(date(2026, 3, 14)) == date(2026, 4, 14)
    assert first_deadline(date(2026, 1, 31)) == date(2026, 2, 28)
    assert first_deadline(date(2028, 1, 31)) == date(2028, 2, 29)
    assert first_deadline(date(2026, 12, 5)) == date(2027, 1, 5)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_urgency_marks_overdue_and_due_this_week() -> None:
    today = date(2026, 6, 10)
    assert urgency(date(2026, 6, 9), today, closed=False) == "overdue"
    assert urgency(date(2026, 6, 10), today, closed=False) == "due-soon"
    assert urgency(date(2026, 6, 17), today, closed=False) == "due-soon"
    assert urgency(date(2026, 6, 18), today, closed=False) == "open"
    assert urgency(date(2026, 6, 1), today, closed=True) == "closed"
