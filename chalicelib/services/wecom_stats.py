"""WeCom's own statistics, fetched once a day per tenant and kept beside our counts (issue 11 §2, 与企业微信数据核对).

``fetch_day`` reads one day from WeCom — 「联系客户统计」 for every staff member and 「群聊数据统计」 for every group
owner, each in batches of at most 100 userids, summed — and stores it whole, replacing an earlier fetch of that day
(idempotent: a retried or repeated fetch has no double effect). Nothing is stored when a call fails: the next run
fetches the day again. ``fetch_due`` is the daily backstop's: yesterday (tenant-local) unless already fetched.
``compare`` puts our figures beside the stored ones (domain/metrics/crosscheck.py).

WeCom's day is a Beijing day: the tenant-local date D is compared with WeCom's D in Beijing time, which is the same
day for the tenants in China and shifted by the offset for others (docs/wecom-statistics.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from chalicelib import errors
from chalicelib.domain.metrics.crosscheck import Row, Threshold, compare, wecom_figures
from chalicelib.domain.metrics.wecom_stats import (
    BEIJING_OFFSET,
    DAY_SECONDS,
    HISTORY_DAYS,
    ContactDay,
    GroupDay,
    WeComDay,
    merge_contact,
    merge_groups,
    stat_time_of,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import Clock, StaffRepository, WeComCredentials
from chalicelib.ports.statistics import WeComStatisticsPort, WeComStatsRepository

logger = logging.getLogger("siyu.wecom_stats")

BATCH = 100  # userid[] and owner_filter.userid_list take at most 100 (92132, 92133)


class WeComStatsService:
    def __init__(
        self,
        *,
        staff: StaffRepository,
        store: WeComStatsRepository,
        wecom: WeComStatisticsPort,
        clock: Clock,
        batch: int = BATCH,
    ) -> None:
        if not 1 <= batch <= BATCH:
            raise ValueError(f"batch must be 1..{BATCH}")
        self._staff = staff
        self._store = store
        self._wecom = wecom
        self._clock = clock
        self._batch = batch

    def fetch_day(self, tenant: Tenant, day: str) -> WeComDay:
        """Fetch WeCom's figures of the local ``day`` ("YYYY-MM-DD") and store them (replacing an earlier fetch).
        InvalidError for a day WeCom cannot answer: not over yet in Beijing, or older than its 180 days."""
        stat_time = self._check_day(day)
        userids = sorted({s.userid for s in self._staff.list_staff(tenant.tenant_id)})
        creds = WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)
        contacts: list[ContactDay] = []
        groups: list[GroupDay] = []
        for batch in self._batches(userids):
            contacts += self._wecom.get_user_behavior_data(
                creds, userids=batch, start_time=stat_time, end_time=stat_time
            )
            groups += self._wecom.group_statistic_by_day(
                creds, owners=batch, day_begin_time=stat_time, day_end_time=stat_time
            )
        record = WeComDay(
            tenant_id=tenant.tenant_id,
            day=day,
            contact=merge_contact((c for c in contacts if c.stat_time == stat_time), stat_time),
            groups=merge_groups((g for g in groups if g.stat_time == stat_time), stat_time),
            staff_count=len(userids),
            fetched_at=int(self._clock.now().timestamp()),
        )
        self._store.put_wecom_day(record)
        logger.info(
            "WeCom statistics fetched", extra={"tenant_id": tenant.tenant_id, "day": day, "staff": len(userids)}
        )
        return record

    def fetch_due(self, tenant: Tenant, now: datetime) -> WeComDay | None:
        """Yesterday in the tenant's timezone, fetched unless it is already stored or its Beijing day is not over
        yet (a tenant east of Beijing); None when nothing was fetched. Called once a day by the backstop."""
        yesterday = (now.astimezone(tenant.zone).date() - timedelta(days=1)).isoformat()
        if stat_time_of(yesterday) + DAY_SECONDS > now.timestamp():
            return None
        if self._store.get_wecom_day(tenant.tenant_id, yesterday) is not None:
            return None
        return self.fetch_day(tenant, yesterday)

    def days(self, tenant: Tenant, date_from: str, date_to: str) -> list[WeComDay]:
        """The stored days of a range (local dates, inclusive), oldest first."""
        return self._store.list_wecom_days(tenant.tenant_id, date_from, date_to)

    def compare(
        self, tenant: Tenant, ours: dict[str, int], date_from: str, date_to: str, threshold: Threshold | None = None
    ) -> tuple[Row, ...]:
        """Our figures of the range beside WeCom's stored ones (crosscheck.py's keys); leaves only when the day
        before the range is stored too. A range with no stored day shows WeCom's side as missing."""
        stored = self.days(tenant, date_from, date_to)
        before_day = (date.fromisoformat(date_from) - timedelta(days=1)).isoformat()
        complete = len(stored) == (date.fromisoformat(date_to) - date.fromisoformat(date_from)).days + 1
        before = self._store.get_wecom_day(tenant.tenant_id, before_day) if complete else None
        return compare(ours, wecom_figures(stored, before=before), threshold)

    def _check_day(self, day: str) -> int:
        try:
            stat_time = stat_time_of(day)
        except ValueError:
            raise errors.InvalidError(f"{day!r} is not a date YYYY-MM-DD") from None
        now = int(self._clock.now().timestamp())
        if stat_time + DAY_SECONDS > now:
            raise errors.InvalidError(f"WeCom's statistics of {day} are not complete yet (Beijing time)")
        today = now - (now + BEIJING_OFFSET) % DAY_SECONDS
        if stat_time < today - HISTORY_DAYS * DAY_SECONDS:
            raise errors.InvalidError(f"WeCom keeps its statistics {HISTORY_DAYS} days; {day} is older")
        return stat_time

    def _batches(self, userids: list[str]) -> Iterator[list[str]]:
        for i in range(0, len(userids), self._batch):
            yield userids[i : i + self._batch]
