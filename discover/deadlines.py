"""Deadlines in calendar months, as GDPR Art. 12(3) counts them.

"Within one month of receipt" ends on the same day of the next month; when that
month is shorter (received 31 January), it ends on the month's last day.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

#: Art. 12(3): one month, extendable once by at most two further months.
ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2
#: a deadline this close (days) counts as "due this week"
DUE_SOON_DAYS = 7


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the end of a shorter month."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year = day.year + years
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def first_deadline(received: date) -> date:
    """The deadline before any extension: one calendar month after receipt."""
    return add_months(received, ANSWER_MONTHS)


def urgency(deadline: date, today: date, *, closed: bool) -> str:
    """``overdue``, ``due-soon`` (within a week), ``open`` or ``closed``: how a list shows it."""
    if closed:
        return "closed"
    if deadline < today:
        return "overdue"
    if deadline <= today + timedelta(days=DUE_SOON_DAYS):
        return "due-soon"
    return "open"
