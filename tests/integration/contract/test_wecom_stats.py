"""WeCom's statistics days, on DynamoDB Local and on the fake: a re-fetched day replaces the stored one, ranges are
inclusive and in day order, tenants never meet."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.wecom_stats import WeComStatsRepository as R
from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay, WeComDay
from tests.integration.contract.registry import covers


def _day(tenant_id: str, day: str, adds: int, *, reply: float | None = None) -> WeComDay:
    return WeComDay(
        tenant_id=tenant_id,
        day=day,
        contact=ContactDay(stat_time=1_764_518_400, new_contact_cnt=adds, reply_percentage=reply),
        groups=GroupDay(stat_time=1_764_518_400, new_member_cnt=adds * 2, member_total=40, msg_total=7),
        staff_count=3,
        fetched_at=1_764_600_000,
    )


@covers(R.put_wecom_day, R.get_wecom_day)
def test_a_day_is_stored_whole_and_a_refetch_replaces_it(store: Any) -> None:
    assert store.get_wecom_day("acme", "2026-12-01") is None
    first = _day("acme", "2026-12-01", 5, reply=62.5)
    store.put_wecom_day(first)
    assert store.get_wecom_day("acme", "2026-12-01") == first
    again = _day("acme", "2026-12-01", 6)
    store.put_wecom_day(again)
    store.put_wecom_day(again)  # the same fetch twice: no double effect
    assert store.get_wecom_day("acme", "2026-12-01") == again
    assert store.get_wecom_day("other", "2026-12-01") is None  # tenants never meet


@covers(R.list_wecom_days)
def test_a_range_of_days_is_inclusive_and_in_order(store: Any) -> None:
    for day, adds in (("2026-12-03", 3), ("2026-11-30", 0), ("2026-12-01", 1), ("2026-12-02", 2)):
        store.put_wecom_day(_day("acme", day, adds))
    store.put_wecom_day(_day("other", "2026-12-02", 9))
    days = store.list_wecom_days("acme", "2026-12-01", "2026-12-03")
    expected = [("2026-12-01", 1), ("2026-12-02", 2), ("2026-12-03", 3)]
    assert [(d.day, d.contact.new_contact_cnt) for d in days] == expected
    assert store.list_wecom_days("acme", "2026-12-04", "2026-12-31") == []
    assert [d.tenant_id for d in store.list_wecom_days("other", "2026-11-01", "2026-12-31")] == ["other"]
