"""WeCom's statistics for unit tests (ports.statistics.WeComStatisticsPort): per-staff and per-owner figures a test
sets, answered summed over the asked userids as WeCom does, with the client's limit (≤ 100 userids) and a recorded
call list; ``fail_after`` makes the n-th call raise, as WeCom being down would."""

from __future__ import annotations

from dataclasses import replace

from chalicelib import errors
from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay, merge_contact, merge_groups
from chalicelib.ports import WeComCredentials

DAY = 86_400


class FakeWeComStatistics:
    def __init__(self) -> None:
        self.contact: dict[tuple[str, int], ContactDay] = {}  # (userid, stat_time) -> that member's day
        self.groups: dict[tuple[str, int], GroupDay] = {}  # (owner, stat_time) -> that owner's groups' day
        self.calls: list[tuple[str, tuple[str, ...], int, int]] = []
        self.fail_after: int | None = None

    def set_contact(self, userid: str, day: ContactDay) -> None:
        self.contact[(userid, day.stat_time)] = day

    def set_groups(self, owner: str, day: GroupDay) -> None:
        self.groups[(owner, day.stat_time)] = day

    def get_user_behavior_data(
        self, creds: WeComCredentials, *, userids: list[str], start_time: int, end_time: int
    ) -> list[ContactDay]:
        self._call("get_user_behavior_data", userids, start_time, end_time)
        return [
            merge_contact(
                (replace(self.contact[(u, t)], stat_time=t) for u in userids if (u, t) in self.contact), stat_time=t
            )
            for t in range(start_time, end_time + DAY, DAY)
        ]

    def group_statistic_by_day(
        self, creds: WeComCredentials, *, owners: list[str], day_begin_time: int, day_end_time: int
    ) -> list[GroupDay]:
        self._call("group_statistic_by_day", owners, day_begin_time, day_end_time)
        return [
            merge_groups((self.groups[(o, t)] for o in owners if (o, t) in self.groups), stat_time=t)
            for t in range(day_begin_time, day_end_time + DAY, DAY)
        ]

    def _call(self, api: str, userids: list[str], start: int, end: int) -> None:
        if not 1 <= len(userids) <= 100:
            raise errors.InvalidError("1..100 userids")
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise errors.WeComBusyError(-1, "system busy", api=api)
        self.calls.append((api, tuple(userids), start, end))
