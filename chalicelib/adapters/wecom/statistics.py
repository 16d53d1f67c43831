"""WeComClient's statistics calls (统计管理): get_user_behavior_data (「联系客户统计」, page 92132) and
groupchat/statistic and groupchat/statistic_group_by_day (「群聊数据统计」 by owner and by day, page 92133).

A mixin like groups.py: every call goes through the client's ``_api``. The documented limits that need no clock are
checked before a call is spent: 1..100 userids (owners), start ≤ end, a span of at most 30 days, limit 1..1000.
The 180-day window and "yesterday at the latest" depend on today: the caller (services/wecom_stats.py) checks them,
and WeCom (the sandbox too) answers 40058 when they are broken. WeCom's days are Beijing days: a time that is not
00:00 Beijing is floored to it by WeCom; the client floors it itself so what it checks is what WeCom answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.adapters.wecom.mixin import ApiMixin
from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay

if TYPE_CHECKING:
    from chalicelib.ports import WeComCredentials

DAY = 86_400
BEIJING_OFFSET = 8 * 3600  # WeCom's stat_time is 00:00 in UTC+8 (no daylight saving)
MAX_STAT_USERS = 100  # userid[] of get_user_behavior_data; owner_filter.userid_list of the group statistics
MAX_SPAN_DAYS = 30  # both APIs: [start, end] spans at most 30 days
MAX_HISTORY_DAYS = 180  # both APIs: only the last 180 days are kept
MAX_STATISTIC_LIMIT = 1000  # groupchat/statistic limit (default 500)


def beijing_day_start(t: int) -> int:
    """00:00 Beijing of the day ``t`` (unix seconds) falls in, as WeCom floors stat times."""
    return t - (t + BEIJING_OFFSET) % DAY


def check_stat_range(start: int, end: int) -> tuple[int, int]:
    """The floored [start, end] or InvalidError: start after end, or more than MAX_SPAN_DAYS days."""
    first, last = beijing_day_start(start), beijing_day_start(end)
    if first > last:
        raise errors.InvalidError("the statistics range starts after it ends")
    if (last - first) // DAY + 1 > MAX_SPAN_DAYS:
        raise errors.InvalidError(f"a statistics range covers at most {MAX_SPAN_DAYS} days")
    return first, last


def check_stat_users(userids: list[str], what: str) -> list[str]:
    if not 1 <= len(userids) <= MAX_STAT_USERS or not all(userids):
        raise errors.InvalidError(f"{what} takes 1..{MAX_STAT_USERS} userids")
    if len(set(userids)) != len(userids):
        raise errors.InvalidError(f"{what} lists a userid twice")
    return list(userids)


class StatisticsMixin(ApiMixin):
    """The statistics half of WeComClient (see the module docstring); implements ports.WeComStatisticsPort."""

    def get_user_behavior_data(
        self, creds: WeComCredentials, *, userids: list[str], start_time: int, end_time: int
    ) -> list[ContactDay]:
        users = check_stat_users(userids, "get_user_behavior_data")
        first, last = check_stat_range(start_time, end_time)
        body = {"userid": users, "start_time": first, "end_time": last}
        data = self._api(creds, "externalcontact/get_user_behavior_data", body)
        return [_contact_day(row) for row in _rows(data, "behavior_data")]

    def group_statistic_by_day(
        self, creds: WeComCredentials, *, owners: list[str], day_begin_time: int, day_end_time: int
    ) -> list[GroupDay]:
        users = check_stat_users(owners, "owner_filter")
        first, last = check_stat_range(day_begin_time, day_end_time)
        body = {"day_begin_time": first, "day_end_time": last, "owner_filter": {"userid_list": users}}
        data = self._api(creds, "externalcontact/groupchat/statistic_group_by_day", body)
        return [_group_day(row.get("data"), int(row.get("stat_time") or 0)) for row in _rows(data, "items")]

    def group_statistic_by_owner(
        self,
        creds: WeComCredentials,
        *,
        owners: list[str],
        day_begin_time: int,
        day_end_time: int,
        offset: int = 0,
        limit: int = 500,
    ) -> tuple[dict[str, GroupDay], int | None]:
        """groupchat/statistic: each owner's figures over the range (stat_time = the range's first day) and the
        next offset (None on the last page)."""
        users = check_stat_users(owners, "owner_filter")
        first, last = check_stat_range(day_begin_time, day_end_time)
        if not 1 <= limit <= MAX_STATISTIC_LIMIT or offset < 0:
            raise errors.InvalidError(f"groupchat/statistic limit must be 1..{MAX_STATISTIC_LIMIT}, offset ≥ 0")
        body = {
            "day_begin_time": first,
            "day_end_time": last,
            "owner_filter": {"userid_list": users},
            "offset": offset,
            "limit": limit,
        }
        data = self._api(creds, "externalcontact/groupchat/statistic", body)
        items = _rows(data, "items")
        by_owner = {str(row.get("owner", "")): _group_day(row.get("data"), first) for row in items}
        next_offset = int(data.get("next_offset") or 0)
        more = next_offset < int(data.get("total") or 0) and bool(items)
        return by_owner, (next_offset if more else None)


def _contact_day(row: dict[str, Any]) -> ContactDay:
    return ContactDay(
        stat_time=int(row.get("stat_time") or 0),
        new_apply_cnt=int(row.get("new_apply_cnt") or 0),
        new_contact_cnt=int(row.get("new_contact_cnt") or 0),
        chat_cnt=int(row.get("chat_cnt") or 0),
        message_cnt=int(row.get("message_cnt") or 0),
        negative_feedback_cnt=int(row.get("negative_feedback_cnt") or 0),
        reply_percentage=_number(row.get("reply_percentage")),
        avg_reply_time=_number(row.get("avg_reply_time")),
    )


def _group_day(data: Any, stat_time: int) -> GroupDay:
    values = data if isinstance(data, dict) else {}
    return GroupDay(
        stat_time=stat_time,
        new_chat_cnt=int(values.get("new_chat_cnt") or 0),
        chat_total=int(values.get("chat_total") or 0),
        chat_has_msg=int(values.get("chat_has_msg") or 0),
        new_member_cnt=int(values.get("new_member_cnt") or 0),
        member_total=int(values.get("member_total") or 0),
        member_has_msg=int(values.get("member_has_msg") or 0),
        msg_total=int(values.get("msg_total") or 0),
        migrate_trainee_chat_cnt=int(values.get("migrate_trainee_chat_cnt") or 0),
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _rows(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [row for row in data.get(name) or [] if isinstance(row, dict)]
