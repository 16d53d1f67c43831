"""Calendar helpers shared by every service: the clock itself is injected, these only convert."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def iso_local(epoch: int | float, zone: ZoneInfo) -> str:
    """ISO-8601 with the tenant's offset, to the second (what the API shows)."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).isoformat(timespec="seconds")


def local_date(epoch: int | float, zone: ZoneInfo) -> str:
    """The tenant-local calendar date of an instant: the day caps and daily counters belong to."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).date().isoformat()


def iso_of(dt: datetime, zone: ZoneInfo) -> str:
    return dt.astimezone(zone).isoformat(timespec="seconds")


def utc_key(dt: datetime) -> str:
    """A sortable UTC instant ("2026-11-22T03:00:00Z"): index keys use it so order is exact across DST.

    An instant within hours of year 1 or 9999 has no UTC datetime: it clamps to the first or last one, which sorts
    the same against every real key (a query bound such as ``added_from=0001-01-01T00:00:00+08:00`` means "all")."""
    try:
        at = dt.astimezone(UTC)
    except OverflowError:
        at = datetime.min.replace(tzinfo=UTC) if dt.year < 5000 else datetime.max.replace(tzinfo=UTC)
    return f"{at.year:04d}-{at:%m-%dT%H:%M:%S}Z"  # %Y would drop a small year's leading zeros


def parse_instant(value: str, zone: ZoneInfo) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is read in ``zone`` (the tenant's calendar)."""
    parsed = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
