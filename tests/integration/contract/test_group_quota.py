"""A group's quota of group messages, on DynamoDB Local and on the in-memory fake: one contract for both."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.group_quota import GroupQuotaRepository as Q
from chalicelib.domain.sop import Subject, Touch
from tests.integration.contract.registry import covers


def _touch(step_id: str, occurrence: int = 0) -> Touch:
    return Touch("pl_g.1.s.202612011200", Subject.group("wr_1"), "en_1", step_id, occurrence, "2026-12-01T20:00+08:00")


@covers(Q.take_group_quota, Q.group_quota)
def test_a_groups_month_and_day_are_counted_once_per_touch_and_refused_beyond_their_limits(store: Any) -> None:
    take = {"month": "2026-12", "day_key": "2026-12-01#marketing", "day_cap": 1, "month_cap": 2}
    assert store.take_group_quota("acme", "wr_1", touch=_touch("s1"), **take) is None
    assert store.take_group_quota("acme", "wr_1", touch=_touch("s1"), **take) is None  # judged again: not twice
    assert store.group_quota("acme", "wr_1", "2026-12") == {"m": 1, "2026-12-01#marketing": 1}
    assert store.take_group_quota("acme", "wr_1", touch=_touch("s2"), **take) == "cap"  # the day's one is taken
    other_day = {**take, "day_key": "2026-12-02#marketing"}
    assert store.take_group_quota("acme", "wr_1", touch=_touch("s2", 1), **other_day) is None
    no_cap = {**take, "day_key": None, "day_cap": None}
    assert store.take_group_quota("acme", "wr_1", touch=_touch("s3"), **no_cap) == "monthly_limit"
    assert store.group_quota("acme", "wr_1", "2026-12")["m"] == 2
    assert store.take_group_quota("acme", "wr_2", touch=_touch("s3"), **no_cap) is None  # another group's own
    assert store.take_group_quota("other", "wr_1", touch=_touch("s3"), **no_cap) is None  # another tenant's own
    assert store.group_quota("acme", "wr_1", "2027-01") == {}
