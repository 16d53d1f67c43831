"""Calendar helpers shared by every service: the clock itself is injected, these only convert."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

# An instant as the API writes one: date, time to the minute or finer, and an offset (or Z). Dates alone ("2026-12-01")
# and wall-clock times ("20:00") are calendar values, not instants, and are never converted.
_INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
# Response fields that hold instants: ``*_at`` (created_at, due_at, last_used_at…), ``*_until`` (snoozed_until) and
# the few named otherwise.
_TIME_KEY_SUFFIXES = ("_at", "_until")
_TIME_KEYS = frozenset({"next_due", "since", "until", "at"})
# The years an instant the API computes with may fall in: datetime ends at years 1 and 9999, and converting an instant
# to UTC or adding the longest offset a plan or simulation can add (a year, plus the run's days) must not overflow.
EARLIEST_YEAR, LATEST_YEAR = 2, 9997


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


def parse_bounded_instant(value: str, zone: ZoneInfo) -> datetime:
    """``parse_instant`` for an instant that is computed with (not only compared): ValueError outside the years
    ``EARLIEST_YEAR``..``LATEST_YEAR``, which keeps every conversion and offset inside datetime's range."""
    at = parse_instant(value, zone)
    if not EARLIEST_YEAR <= at.year <= LATEST_YEAR:
        raise ValueError(f"{value!r} is out of range: give an instant in the years {EARLIEST_YEAR:04d}-{LATEST_YEAR}")
    return at


def is_time_key(key: str) -> bool:
    return key in _TIME_KEYS or key.endswith(_TIME_KEY_SUFFIXES)


def localize_times(value: Any, zone: ZoneInfo) -> Any:
    """``value`` with every instant re-rendered in ``zone`` with its offset, to the second: the one place an API
    response gets the tenant's zone, whatever zone (or UTC) the instant was stored in. A string is converted if it
    is an instant; in dicts and lists only the values of time fields (``is_time_key``) are, so free text that happens
    to look like a time (a custom event's property, a message) is left as it was sent."""
    if isinstance(value, str):
        return _localized(value, zone)
    return _walk(value, zone, timed=False)


def _walk(value: Any, zone: ZoneInfo, *, timed: bool) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, zone, timed=isinstance(k, str) and is_time_key(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, zone, timed=timed) for v in value]
    if timed and isinstance(value, str):
        return _localized(value, zone)
    return value


def _localized(value: str, zone: ZoneInfo) -> str:
    if not _INSTANT_RE.match(value):
        return value
    return iso_of(datetime.fromisoformat(value.replace("Z", "+00:00")), zone)
