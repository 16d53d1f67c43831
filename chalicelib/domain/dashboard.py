"""The dashboard's link and its query: pure rules (no clock, no storage).

A dashboard link is a random key in a URL (``/t/<tid>/dashboard?k=<key>``): the link is the credential, so the
page opens on a phone without a token. Only the key's SHA-256 is stored (as tenant tokens are), with an expiry that
the service checks against the Clock port; DynamoDB's TTL only cleans up later.

The page's query (from, to, by, period, value) is read here, with the messages the page shows when one is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.instants import iso_local
from chalicelib.errors import InvalidError

DEFAULT_TTL_HOURS = 24
MAX_TTL_HOURS = 168  # a week: long enough for a weekly review, short enough that a forwarded link dies
DEFAULT_DAYS = 7  # the last 7 local days, today included
MAX_RANGE_DAYS = 92  # a quarter
KEY_BYTES = 32  # the random key's entropy (URL-safe base64: 43 characters)
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 128

# The funnel's dimensions and the trends' periods, with the words the page uses (domain.md).
DIMENSIONS = {
    "channel": "渠道",
    "campaign": "活动",
    "source": "来源平台",
    "plan": "计划步骤",
    "group": "社群",
    "staff": "员工",
}
PERIODS = {"day": "按日", "week": "按周", "month": "按月"}
PARAMETERS = ("k", "from", "to", "by", "period", "value")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class DashboardLink:
    """A dashboard link as stored: the key's hash, never the key."""

    tenant_id: str
    link_hash: str
    link_id: str
    created_at: str  # ISO instant in the tenant's zone
    expires_at: int  # unix seconds
    created_by: str = ""  # the token id (or "admin") that made it: who shared what

    def is_open(self, now: float) -> bool:
        return now < self.expires_at

    def public(self, zone: ZoneInfo) -> dict[str, str]:
        """The link as the API lists it (never its key or hash), times in ``zone``."""
        return {
            "link_id": self.link_id,
            "created_at": self.created_at,
            "expires_at": iso_local(self.expires_at, zone),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class DashboardQuery:
    """What the page shows: a range of local days, the funnel's dimension (and one value of it, or all), the
    trends' period."""

    date_from: str
    date_to: str
    by: str = "channel"
    period: str = "day"
    value: str | None = None

    def params(self) -> dict[str, str]:
        """The query as the page's links carry it (without the key)."""
        out = {"from": self.date_from, "to": self.date_to, "by": self.by, "period": self.period}
        if self.value:
            out["value"] = self.value
        return out


def link_expiry(now: float, ttl_hours: int) -> int:
    """When a link made at ``now`` for ``ttl_hours`` stops opening (unix seconds)."""
    if not 1 <= ttl_hours <= MAX_TTL_HOURS:
        raise InvalidError(f"ttl_hours must be an integer from 1 to {MAX_TTL_HOURS}")
    return int(now) + ttl_hours * 3600


def looks_like_key(key: str | None) -> bool:
    """Whether ``key`` can be a link's key at all (no read for an empty or absurd one)."""
    return bool(key) and len(key or "") <= MAX_KEY_CHARS


# What WeChat (and WeCom) append as ``from`` to a link shared in a chat or in Moments: the messenger's, not a date.
SHARE_MARKERS = frozenset({"singlemessage", "groupmessage", "timeline"})


def _day(params: Mapping[str, str], name: str, label: str) -> date | None:
    raw = params.get(name)
    if raw is None or raw == "" or (name == "from" and raw in SHARE_MARKERS):
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidError(f"{label}（{name}）应为 YYYY-MM-DD 格式的日期，例如 2026-12-01") from None


def parse_query(params: Mapping[str, str], today: date) -> DashboardQuery:
    """The page's query from its parameters; ``today`` is the tenant's local day. Defaults: the last 7 local days
    (today included), by channel, by day. Parameters the page does not know are ignored: messengers append their
    own to links they pass on."""
    date_to = _day(params, "to", "结束日期")
    date_from = _day(params, "from", "开始日期")
    if date_to is None:
        date_to = today if date_from is None else min(today, date_from + timedelta(days=DEFAULT_DAYS - 1))
    if date_from is None:
        date_from = date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise InvalidError("开始日期不能晚于结束日期")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise InvalidError(f"日期范围最多 {MAX_RANGE_DAYS} 天，请缩小范围")
    by = params.get("by") or "channel"
    if by not in DIMENSIONS:
        raise InvalidError(f"维度（by）只能是：{'、'.join(f'{k}（{v}）' for k, v in DIMENSIONS.items())}")
    period = params.get("period") or "day"
    if period not in PERIODS:
        raise InvalidError(f"周期（period）只能是：{'、'.join(f'{k}（{v}）' for k, v in PERIODS.items())}")
    value = params.get("value") or None
    if value is not None and len(value) > MAX_VALUE_CHARS:
        raise InvalidError(f"维度值（value）最长 {MAX_VALUE_CHARS} 个字符")
    return DashboardQuery(date_from.isoformat(), date_to.isoformat(), by, period, value)
