"""The port of WeCom's own statistics (统计管理): 「联系客户统计」 and 「群聊数据统计」, read once a day to compare
with our counts. Its own Protocol, apart from WeComPort, so a service needing only these asks only for these;
WeComPort includes it (as it does JoinWayPort), and WeComClient implements it (adapters/wecom/statistics.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay, WeComDay
    from chalicelib.ports.wecom import WeComCredentials


class WeComStatisticsPort(Protocol):
    def get_user_behavior_data(
        self, creds: WeComCredentials, *, userids: list[str], start_time: int, end_time: int
    ) -> list[ContactDay]:
        """get_user_behavior_data: one ContactDay per day of [start_time, end_time] (Beijing days), the figures of
        the 1..100 ``userids`` together."""
        ...

    def group_statistic_by_day(
        self, creds: WeComCredentials, *, owners: list[str], day_begin_time: int, day_end_time: int
    ) -> list[GroupDay]:
        """groupchat/statistic_group_by_day: one GroupDay per day, the groups of the 1..100 ``owners`` together."""
        ...


class WeComStatsRepository(Protocol):
    """Where the fetched days are kept (adapters/dynamodb/wecom_stats.py; tests/fakes/wecom_stats.py)."""

    def put_wecom_day(self, day: WeComDay) -> None: ...
    def get_wecom_day(self, tenant_id: str, day: str) -> WeComDay | None: ...
    def list_wecom_days(self, tenant_id: str, date_from: str, date_to: str) -> list[WeComDay]: ...
