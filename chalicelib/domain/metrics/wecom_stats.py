"""WeCom's own statistics for one tenant and day, as fetched (services/wecom_stats.py) and stored: the
「联系客户统计」 figures summed over every staff member, and the 「群聊数据统计」 figures summed over every group
owner. Pure data; docs/wecom-statistics.md says what each field means and where it comes from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any


@dataclass(frozen=True)
class ContactDay:
    """One day of get_user_behavior_data (all staff together). ``reply_percentage`` (0..100) and
    ``avg_reply_time`` (minutes) are None when WeCom gave none (it omits them on days without chats)."""

    stat_time: int  # 00:00 Beijing of the day, unix seconds
    new_apply_cnt: int = 0
    new_contact_cnt: int = 0
    chat_cnt: int = 0
    message_cnt: int = 0
    negative_feedback_cnt: int = 0
    reply_percentage: float | None = None
    avg_reply_time: float | None = None


@dataclass(frozen=True)
class GroupDay:
    """One day of groupchat/statistic_group_by_day (all owners together). The ``*_total`` and ``*_has_msg``
    fields are WeCom's figures "as of the day" (截至当天); the others count what happened during it."""

    stat_time: int
    new_chat_cnt: int = 0
    chat_total: int = 0
    chat_has_msg: int = 0
    new_member_cnt: int = 0
    member_total: int = 0
    member_has_msg: int = 0
    msg_total: int = 0
    migrate_trainee_chat_cnt: int = 0


@dataclass(frozen=True)
class WeComDay:
    """What is stored per tenant and local day: both parts, the number of staff asked, and when it was fetched."""

    tenant_id: str
    day: str  # the tenant-local day "YYYY-MM-DD" (WeCom's day is the same date in Beijing time)
    contact: ContactDay
    groups: GroupDay
    staff_count: int
    fetched_at: int  # unix seconds


DAY_SECONDS = 86_400
BEIJING_OFFSET = 8 * 3600  # WeCom's days are Beijing days (UTC+8, no daylight saving)
HISTORY_DAYS = 180  # WeCom keeps its statistics this many days


def stat_time_of(day: str) -> int:
    """WeCom's stat_time of the date "YYYY-MM-DD": 00:00 that day in Beijing, unix seconds."""
    return (date.fromisoformat(day) - date(1970, 1, 1)).days * DAY_SECONDS - BEIJING_OFFSET


GROUP_COUNTS = tuple(f.name for f in fields(GroupDay) if f.name != "stat_time")
CONTACT_COUNTS = ("new_apply_cnt", "new_contact_cnt", "chat_cnt", "message_cnt", "negative_feedback_cnt")


def merge_contact(parts: Iterable[ContactDay], stat_time: int) -> ContactDay:
    """Batches of ≤ 100 staff summed into one day. The counts add up; the reply rate and time are averaged
    weighted by each batch's chat_cnt (WeCom gives no better weight: an approximation, documented as such)."""
    items = list(parts)
    total = ContactDay(stat_time=stat_time)
    for part in items:
        total = replace(total, **{name: getattr(total, name) + getattr(part, name) for name in CONTACT_COUNTS})
    return replace(
        total,
        reply_percentage=_weighted(items, "reply_percentage"),
        avg_reply_time=_weighted(items, "avg_reply_time"),
    )


def merge_groups(parts: Iterable[GroupDay], stat_time: int) -> GroupDay:
    """Batches of ≤ 100 owners summed into one day (every group has exactly one owner, so nothing counts twice)."""
    total = GroupDay(stat_time=stat_time)
    for part in parts:
        total = replace(total, **{name: getattr(total, name) + getattr(part, name) for name in GROUP_COUNTS})
    return total


def _weighted(items: list[ContactDay], name: str) -> float | None:
    pairs = [(getattr(item, name), item.chat_cnt) for item in items if getattr(item, name) is not None]
    if not pairs:
        return None
    weight = sum(w for _, w in pairs)
    if weight == 0:
        return round(sum(v for v, _ in pairs) / len(pairs), 2)
    return round(sum(v * w for v, w in pairs) / weight, 2)


def day_to_doc(day: WeComDay) -> dict[str, Any]:
    """The stored form (JSON-ready)."""
    return asdict(day)


def day_from_doc(doc: dict[str, Any]) -> WeComDay:
    return WeComDay(
        tenant_id=str(doc["tenant_id"]),
        day=str(doc["day"]),
        contact=ContactDay(**doc["contact"]),
        groups=GroupDay(**doc["groups"]),
        staff_count=int(doc["staff_count"]),
        fetched_at=int(doc["fetched_at"]),
    )
