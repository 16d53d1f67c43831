"""The funnel metrics' storage, on DynamoDB Local and on the fake: a fact counts once per identity whatever repeats
it, a person's first occurrence once (its own fact's repeat still wins it), the log keeps what was counted with no
person, a rebuild replaces a day's counters whole, spend is the latest value, tenants never meet."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.metrics import MetricsRepository as R
from chalicelib.domain.metrics import recording as r
from chalicelib.domain.metrics.facts import CHANNEL, COHORT, PERSONS, STAFF
from tests.integration.contract.registry import covers

DAY, AT = "2026-12-01", 1_796_126_400  # 20:00 in Shanghai


def _order(ref: str, person: str, amount: int = 9_900) -> Any:
    return r.order_fact(ref, AT, DAY, person=person, kind="trial", amount_fen=amount, product="体验课",
                        channel_id="ch_dy01", staff="zhang", cohort="2026-W49", step=None, plans=())  # fmt: skip


@covers(R.metric_fact_logged)
def test_whether_a_fact_is_logged_on_any_of_some_days(store: Any) -> None:
    assert not store.metric_fact_logged("acme", "order", "o1", [DAY, "2026-12-02"])
    store.record_metric_fact("acme", _order("o1", "cperson000001"))
    assert store.metric_fact_logged("acme", "order", "o1", ["2026-11-30", DAY])
    assert not store.metric_fact_logged("acme", "order", "o1", ["2026-12-02"])
    assert not store.metric_fact_logged("other", "order", "o1", [DAY])
    assert not store.metric_fact_logged("acme", "added", "o1", [DAY])


@covers(R.record_metric_fact, R.metric_counters, R.metric_fact_log)
def test_a_fact_counts_once_and_a_person_once(store: Any) -> None:
    assert store.record_metric_fact("acme", _order("o1", "cperson000001"))
    assert not store.record_metric_fact("acme", _order("o1", "cperson000001"))  # a replay
    assert store.record_metric_fact("acme", _order("o2", "cperson000001", 100))  # their second order
    assert store.record_metric_fact("other", _order("o1", "cperson000001"))  # another tenant's fact
    got = store.metric_counters("acme", CHANNEL, ["ch_dy01", "ch_none"], [DAY, "2026-12-02"])
    assert list(got) == [("ch_dy01", DAY)]
    c = got[("ch_dy01", DAY)]
    assert (c["orders"], c["revenue"], c[PERSONS], c["trial_persons"], c["paid_trial_persons"]) == (2, 10_000, 1, 1, 1)
    assert store.metric_counters("acme", STAFF, ["zhang"], [DAY])[("zhang", DAY)]["orders"] == 2
    assert store.metric_counters("acme", COHORT, ["2026-W49"], [DAY])[("2026-W49", DAY)][PERSONS] == 1
    log = store.metric_fact_log("acme", DAY)
    assert sorted(f.ref for f in log) == ["o1", "o2"] and all(f.person is None for f in log)
    assert "cperson000001" not in repr(log)
    assert len(store.metric_fact_log("other", DAY)) == 1 and store.metric_fact_log("acme", "2026-12-02") == []


@covers(R.replace_metric_counters)
def test_a_rebuild_replaces_a_days_counters_whole(store: Any) -> None:
    store.record_metric_fact("acme", _order("o1", "cperson000001"))
    store.replace_metric_counters("acme", DAY, {(CHANNEL, "ch_dy01"): {"orders": 5}, (STAFF, "li"): {"adds": 2}})
    assert store.metric_counters("acme", CHANNEL, ["ch_dy01"], [DAY]) == {("ch_dy01", DAY): {"orders": 5}}
    assert store.metric_counters("acme", STAFF, ["li"], [DAY]) == {("li", DAY): {"adds": 2}}


@covers(R.put_spend, R.spend)
def test_spend_is_the_latest_value_per_channel_day(store: Any) -> None:
    store.put_spend("acme", "ch_dy01", DAY, 100)
    store.put_spend("acme", "ch_dy01", DAY, 250)
    store.put_spend("acme", "ch_wx01", "2026-12-02", 7)
    store.put_spend("other", "ch_dy01", DAY, 999)
    got = store.spend("acme", ["ch_dy01", "ch_wx01"], [DAY, "2026-12-02"])
    assert got == {("ch_dy01", DAY): 250, ("ch_wx01", "2026-12-02"): 7}


@covers(R.mark_metrics_rebuilt)
def test_the_nightly_rebuild_of_a_day_is_claimed_once(store: Any) -> None:
    assert store.mark_metrics_rebuilt("acme", DAY)
    assert not store.mark_metrics_rebuilt("acme", DAY)
    assert store.mark_metrics_rebuilt("other", DAY) and store.mark_metrics_rebuilt("acme", "2026-12-02")


@covers(R.recent_sent)
def test_recent_sent_touches_come_from_the_months_quota_items(store: Any) -> None:
    from chalicelib.domain.sop import Subject, Touch

    assert store.recent_sent("acme", "cperson000001", ["2026-12"]) == []
    touch = Touch(bucket_id="pl_a.1.s1.202612011200", subject=Subject("customer", "cperson000001"),
                  enrollment_id="en_1", step_id="s1", occurrence=0, due_at="2026-12-01T20:00:00+08:00")  # fmt: skip
    assert store.take_quota("acme", "cperson000001", month="2026-12", day_key=None, day_cap=None, month_cap=30,
                            touch=touch) is None  # fmt: skip
    assert store.recent_sent("acme", "cperson000001", ["2026-11", "2026-12"]) == [(AT, touch.bucket_id)]
    assert store.recent_sent("other", "cperson000001", ["2026-12"]) == []
