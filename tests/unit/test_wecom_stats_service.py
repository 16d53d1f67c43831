"""The daily fetch of WeCom's statistics (services/wecom_stats.py) with fakes: every staff member in batches of at
most 100, summed, stored per tenant-day; a re-fetch replaces the day; a failure stores nothing; fetch_due fetches
yesterday once, and only when its Beijing day is over; days WeCom cannot answer are refused before any call."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib import errors
from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay, stat_time_of
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.services.wecom_stats import WeComStatsService
from tests.fakes import FixedClock
from tests.fakes.store import FakeStore
from tests.fakes.wecom_statistics import FakeWeComStatistics

TENANT = Tenant("t1", "核对教育", "wwstats", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
DAY = "2026-12-01"
T = stat_time_of(DAY)  # 2026-11-30T16:00Z


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(at("2026-12-02T02:00:00+08:00"))


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def wecom() -> FakeWeComStatistics:
    return FakeWeComStatistics()


@pytest.fixture
def service(store: FakeStore, wecom: FakeWeComStatistics, clock: FixedClock) -> WeComStatsService:
    return WeComStatsService(staff=store, store=store, wecom=wecom, clock=clock)


def hire(store: FakeStore, n: int, tenant_id: str = "t1") -> list[str]:
    userids = [f"u{i:03d}" for i in range(n)]
    for u in userids:
        store.create_staff(tenant_id, Staff(userid=u, name=u))
    return userids


def test_every_staff_member_is_asked_in_batches_of_100_and_the_figures_summed(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics
) -> None:
    userids = hire(store, 250)
    for u in userids:
        wecom.set_contact(u, ContactDay(stat_time=T, new_contact_cnt=2, message_cnt=3, negative_feedback_cnt=1))
        wecom.set_groups(u, GroupDay(stat_time=T, new_member_cnt=4, member_total=10, msg_total=5))
    wecom.set_contact("not-staff", ContactDay(stat_time=T, new_contact_cnt=1000))
    day = service.fetch_day(TENANT, DAY)
    assert (day.contact.new_contact_cnt, day.contact.message_cnt, day.contact.negative_feedback_cnt) == (500, 750, 250)
    assert (day.groups.new_member_cnt, day.groups.member_total, day.groups.msg_total) == (1000, 2500, 1250)
    assert (day.staff_count, day.contact.stat_time, day.groups.stat_time) == (250, T, T)
    assert day.fetched_at == int(at("2026-12-02T02:00:00+08:00").timestamp())
    sizes = [(api, len(users)) for api, users, _, _ in wecom.calls]
    apis = ("get_user_behavior_data", "group_statistic_by_day")
    assert sorted(sizes) == sorted([(a, n) for a in apis for n in (100, 100, 50)])
    asked = [u for api, users, _, _ in wecom.calls if api == "get_user_behavior_data" for u in users]
    assert sorted(asked) == userids  # everyone once
    assert all((start, end) == (T, T) for _, _, start, end in wecom.calls)
    assert store.get_wecom_day("t1", DAY) == day


def test_a_refetch_replaces_the_day_and_a_failure_stores_nothing(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics
) -> None:
    hire(store, 3)
    wecom.set_contact("u000", ContactDay(stat_time=T, new_contact_cnt=1))
    first = service.fetch_day(TENANT, DAY)
    wecom.set_contact("u001", ContactDay(stat_time=T, new_contact_cnt=2))  # WeCom's figure settled later
    second = service.fetch_day(TENANT, DAY)
    assert (first.contact.new_contact_cnt, second.contact.new_contact_cnt) == (1, 3)
    assert store.list_wecom_days("t1", DAY, DAY) == [second]
    wecom.set_contact("u002", ContactDay(stat_time=T, new_contact_cnt=4))
    wecom.fail_after = len(wecom.calls) + 1  # the group call fails
    with pytest.raises(errors.WeComBusyError):
        service.fetch_day(TENANT, DAY)
    assert store.get_wecom_day("t1", DAY) == second


def test_fetch_due_fetches_yesterday_once(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics, clock: FixedClock
) -> None:
    hire(store, 1)
    fetched = service.fetch_due(TENANT, clock.now())
    assert fetched is not None and fetched.day == DAY
    calls = len(wecom.calls)
    assert service.fetch_due(TENANT, clock.now()) is None  # already stored: no WeCom call
    assert len(wecom.calls) == calls
    clock.advance(days=1)
    assert service.fetch_due(TENANT, clock.now()).day == "2026-12-02"  # type: ignore[union-attr]


def test_a_tenant_east_of_beijing_waits_for_the_beijing_day_to_end(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics, clock: FixedClock
) -> None:
    hire(store, 1, "nz")
    tenant = Tenant("nz", "奥克兰分校", "wwnz", "Pacific/Auckland", "tok", "k" * 43, "sec", "salt", "")
    clock.current = at("2026-12-02T01:00:00+13:00")  # Beijing: 2026-12-01 20:00, its 1 December not over
    assert service.fetch_due(tenant, clock.now()) is None and wecom.calls == []
    clock.current = at("2026-12-02T05:30:00+13:00")  # Beijing: 2026-12-02 00:30
    assert service.fetch_due(tenant, clock.now()).day == DAY  # type: ignore[union-attr]


def test_days_wecom_cannot_answer_are_refused_before_any_call(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics
) -> None:
    hire(store, 1)
    for day, message in (("2026-12-02", "not complete"), ("2026-06-01", "180 days"), ("12/01/2026", "not a date")):
        with pytest.raises(errors.InvalidError, match=message):
            service.fetch_day(TENANT, day)
    assert service.fetch_day(TENANT, "2026-06-05").day == "2026-06-05"  # 180 days back from 2 December
    assert wecom.calls and store.get_wecom_day("t1", "2026-12-02") is None


def test_a_tenant_without_staff_stores_a_zero_day_without_calling(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics
) -> None:
    day = service.fetch_day(TENANT, DAY)
    assert (day.staff_count, day.contact.new_contact_cnt, day.groups.chat_total) == (0, 0, 0)
    assert wecom.calls == []


def test_compare_puts_ours_beside_the_stored_days(
    service: WeComStatsService, store: FakeStore, wecom: FakeWeComStatistics, clock: FixedClock
) -> None:
    hire(store, 1)
    wecom.set_groups("u000", GroupDay(stat_time=T - 86_400, member_total=20))
    wecom.set_groups("u000", GroupDay(stat_time=T, new_member_cnt=5, member_total=22))
    wecom.set_contact("u000", ContactDay(stat_time=T, new_contact_cnt=10))
    rows = {r.metric: r for r in service.compare(TENANT, {"adds": 10, "group_leaves": 3}, DAY, DAY)}
    assert rows["adds"].wecom is None and rows["group_leaves"].wecom is None  # nothing fetched yet
    service.fetch_day(TENANT, DAY)
    rows = {r.metric: r for r in service.compare(TENANT, {"adds": 10, "group_leaves": 3}, DAY, DAY)}
    assert (rows["adds"].wecom, rows["adds"].flagged) == (10, False)
    assert rows["group_leaves"].wecom is None  # the day before is not stored: leaves cannot be derived
    service.fetch_day(TENANT, "2026-11-30")
    rows = {r.metric: r for r in service.compare(TENANT, {"adds": 10, "group_leaves": 3}, DAY, DAY)}
    assert (rows["group_leaves"].wecom, rows["group_leaves"].flagged) == (3, False)  # 5 joined, members 20 -> 22
