"""统计管理: get_user_behavior_data (「联系客户统计」, 92132) and groupchat/statistic and statistic_group_by_day
(「群聊数据统计」 by owner and by day, 92133), computed from what happened in the world (Corp.stat_events).

Days are Beijing days (stat_time = 00:00 UTC+8); a time inside a day is floored to it, as WeCom does. The documented
rules: userid / owner_filter.userid_list 1..100, [start, end] closed and at most 30 days, only the last 180 days, the
group statistics at the latest yesterday. The docs name no errcode for breaking them: the world answers 40058
(不合法的参数), its rule for undocumented errcodes (see __init__).

What the world counts (docs/wecom-statistics.md): new_contact_cnt relations created (re-adds too), per staff member;
negative_feedback_cnt customers deleting the staff member; message_cnt / chat_cnt welcome and mass messages
delivered to customers; new_apply_cnt 0 (staff never apply first in the world); reply_percentage and avg_reply_time
are left out (no customer-started chats in the world: WeCom returns them only when there were chats). Groups are
counted under the owner that created them; messages are group mass messages and ``group_message`` controls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet
from devstack.wecom_world.state import Corp, StatEvent, WorldError, WorldState, record

DAY = 86_400
BEIJING_OFFSET = 8 * 3600
MAX_USERS = 100
MAX_SPAN_DAYS = 30
MAX_HISTORY_DAYS = 180
STATISTIC_LIMIT_DEFAULT, STATISTIC_LIMIT_MAX = 500, 1000
ORDER_FIELDS = {1: "new_chat_cnt", 2: "chat_total", 3: "new_member_cnt", 4: "member_total"}
GROUP_FIELDS = (
    "new_chat_cnt",
    "chat_total",
    "chat_has_msg",
    "new_member_cnt",
    "member_total",
    "member_has_msg",
    "msg_total",
    "migrate_trainee_chat_cnt",
)


def day_start(t: int) -> int:
    return t - (t + BEIJING_OFFSET) % DAY


def get_user_behavior_data(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    users = _users(p.get("userid"), required=not p.get("partyid"))
    first, last = _range(world, p.get("start_time"), p.get("end_time"), latest_today=True)
    rows = []
    for start in range(first, last + DAY, DAY):
        rows.append({"stat_time": start, **_contact_day(corp.stat_events, set(users), start)})
    return {"behavior_data": rows}


def statistic_group_by_day(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    owners = _owners(p)
    first, last = _range(world, p.get("day_begin_time"), p.get("day_end_time", p.get("day_begin_time")))
    items = [
        {"stat_time": start, "data": _group_days(corp.stat_events, set(owners), start, start)}
        for start in range(first, last + DAY, DAY)
    ]
    return {"items": items}


def statistic(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    """By owner: each owner's flows over the range, its totals as of the range's last day."""
    owners = _owners(p)
    first, last = _range(world, p.get("day_begin_time"), p.get("day_end_time", p.get("day_begin_time")))
    order = ORDER_FIELDS.get(int(p.get("order_by") or 1))
    if order is None:
        raise ApiError(40058)
    offset = int(p.get("offset") or 0)
    limit = int(p.get("limit") or STATISTIC_LIMIT_DEFAULT)
    if offset < 0 or not 1 <= limit <= STATISTIC_LIMIT_MAX:
        raise ApiError(40058)
    rows: list[dict[str, Any]] = [
        {"owner": o, "data": _group_days(corp.stat_events, {o}, first, last)} for o in dict.fromkeys(owners)
    ]
    rows.sort(key=lambda r: r["data"][order], reverse=not int(p.get("order_asc") or 0))
    page = rows[offset : offset + limit]
    return {"total": len(rows), "next_offset": offset + len(page), "items": page}


# --- the figures -------------------------------------------------------------------------------------------------


def _contact_day(events: list[StatEvent], users: set[str], start: int) -> dict[str, int]:
    mine = [e for e in events if start <= e.at < start + DAY and e.userid in users]
    messages = [e for e in mine if e.kind == "message"]
    return {
        "chat_cnt": len({(e.userid, e.subject) for e in messages}),
        "message_cnt": len(messages),
        "negative_feedback_cnt": sum(1 for e in mine if e.kind == "negative"),
        "new_apply_cnt": 0,
        "new_contact_cnt": sum(1 for e in mine if e.kind == "add"),
    }


@dataclass
class _Chat:
    owner: str
    alive: bool = True
    members: set[str] = field(default_factory=set)


def _group_days(events: list[StatEvent], owners: set[str], first: int, last: int) -> dict[str, int]:
    """Flows over the Beijing days first..last, totals at the end of ``last``, for the groups of ``owners``."""
    end = last + DAY
    chats: dict[str, _Chat] = {}
    figures = dict.fromkeys(GROUP_FIELDS, 0)
    spoke: set[tuple[str, str]] = set()
    for e in events:
        if e.at >= end:
            continue  # events are kept in the order they happened; a control's ``now`` may say otherwise
        if e.kind == "chat_create":
            chats[e.subject] = _Chat(e.userid)
        chat = chats.get(e.subject)
        if chat is None or chat.owner not in owners:
            continue
        during = e.at >= first
        if e.kind == "chat_create" and during:
            figures["new_chat_cnt"] += 1
        elif e.kind == "chat_dismiss":
            chat.alive = False
        elif e.kind == "join":
            chat.members.add(e.member)
            figures["new_member_cnt"] += during
        elif e.kind == "leave":
            chat.members.discard(e.member)
        elif e.kind == "group_message" and during:
            figures["msg_total"] += 1
            spoke.add((e.subject, e.member))
    alive = [c for c in chats.values() if c.alive and c.owner in owners]
    figures["chat_total"] = len(alive)
    figures["member_total"] = sum(len(c.members) for c in alive)
    figures["chat_has_msg"] = len({chat_id for chat_id, _ in spoke})
    figures["member_has_msg"] = len(spoke)
    return figures


# --- the rules ---------------------------------------------------------------------------------------------------


def _users(value: Any, *, required: bool) -> list[str]:
    """The userids in the order given (the by-owner answer keeps it among equals)."""
    if value is None:
        value = []
    if not isinstance(value, list):
        raise TypeError("userid must be a list")
    users = [str(u) for u in value]
    if (required and not users) or len(users) > MAX_USERS:
        raise ApiError(40058)
    return list(dict.fromkeys(users))


def _owners(p: dict[str, Any]) -> list[str]:
    owner_filter = p.get("owner_filter")
    if not isinstance(owner_filter, dict):
        raise ApiError(40058)  # required; without it WeCom reads every visible owner (81017 past 1000)
    return _users(owner_filter.get("userid_list"), required=True)


def _range(world: WorldState, start: Any, end: Any, *, latest_today: bool = False) -> tuple[int, int]:
    if start is None or end is None:
        raise ApiError(40058)
    first, last = day_start(int(start)), day_start(int(end))
    today = day_start(int(world.now()))
    latest = today if latest_today else today - DAY
    if first > last or (last - first) // DAY + 1 > MAX_SPAN_DAYS:
        raise ApiError(40058)
    if first < today - MAX_HISTORY_DAYS * DAY or last > latest:
        raise ApiError(40058)
    return first, last


def group_message(corp: Corp, chat_id: str, sender: str, at: float) -> None:
    """A member speaks in a group (the world's control; see WeComWorld.group_message)."""
    chat = corp.chats.get(chat_id)
    if chat is None or chat.dismissed or all(m.userid != sender for m in chat.members):
        raise WorldError(f"{sender} is not a member of a live group {chat_id}")
    record(corp, "group_message", at, chat.owner, chat_id, sender)


APIS = ApiSet(
    handlers={
        "externalcontact/get_user_behavior_data": get_user_behavior_data,
        "externalcontact/groupchat/statistic": statistic,
        "externalcontact/groupchat/statistic_group_by_day": statistic_group_by_day,
    },
    read_only=frozenset(
        {
            "externalcontact/get_user_behavior_data",
            "externalcontact/groupchat/statistic",
            "externalcontact/groupchat/statistic_group_by_day",
        }
    ),
)
