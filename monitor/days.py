"""Local days in a time zone, as UTC instants: the only place local time is turned into UTC.

Activity is kept per UTC minute, so a day of 23 or 25 hours (a DST change) simply holds fewer
or more minutes; nothing is lost or counted twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of an aware instant."""
    return moment.astimezone(tz).date()


def at_local(day: date, clock_time: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local clock time on a local date.

    A time skipped by a DST change maps to where the clocks jumped to (01:30 on a night that
    jumps from 01:00 to 02:00 gives 02:30); a time that occurs twice maps to the first one.
    """
    return datetime.combine(day, clock_time).replace(tzinfo=tz, fold=0).astimezone(UTC)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which a local date begins."""
    return at_local(day, time(0), tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which a local date begins and the next one begins."""
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


def minute_of(moment: datetime) -> int:
    """The UTC epoch minute containing an instant."""
    return int(moment.timestamp() // 60)


def minute_start(minute: int) -> datetime:
    """The UTC instant at which an epoch minute begins."""
    return datetime.fromtimestamp(minute * 60, UTC)
