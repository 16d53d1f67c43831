"""The daily cap's priority contest in a large fire: asked once per fire from the published plans, not per customer.

A capped touch yields to a higher-priority plan that has the customer's touch of the same content type later today
(``fate.outranked``). Reading each customer's enrollments to find out costs a Query per capped touch; a fire of
``RIVALS_BY_PLAN`` touches or more first asks whether any other published plan could outrank its step at all
(``fate.priority_peaks``), and reads no enrollment when none could. The outcome must be the same either way.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import fate
from chalicelib.domain.plans import PlanStatus
from chalicelib.services.sop.customer_policy import RIVALS_BY_PLAN
from tests.unit.test_sop_engine import Env, WriteLog, plan, step

AT_1830 = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)  # 18:30 in Shanghai: the low plan's touch is due
READS = ("enrollments_of",)


@pytest.fixture
def env() -> Env:
    return Env()


def _fire(env: Env, prefix: str) -> Any:
    [report] = [
        env.engine.fire("sop", s["payload"]["bucket_id"])
        for s in list(env.scheduler.schedules.values())
        if s["payload"]["bucket_id"].startswith(prefix)
    ]
    return report


def _plans(env: Env, *, rival_priority: int) -> None:
    env.plans.add(plan([step("m1", content_type="marketing", day=0, at="18:30")], plan_id="pl_low", priority=5))
    rival = plan([step("m1", content_type="marketing", day=0, at="20:00")], plan_id="pl_rival")
    env.plans.add(replace(rival, priority=rival_priority))


def _enroll(env: Env, count: int, *, in_rival: int) -> None:
    for n in range(count):
        c = env.customer(n)
        env.engine.enroll(env.tenant, c.customer_id, "pl_low")
        if n < in_rival:
            env.engine.enroll(env.tenant, c.customer_id, "pl_rival")


def test_a_large_fire_reads_no_enrollment_when_no_plan_could_outrank_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plans(env, rival_priority=5)  # equal priority: never outranks
    _enroll(env, RIVALS_BY_PLAN, in_rival=RIVALS_BY_PLAN // 2)
    reads = WriteLog(env.store, monkeypatch, READS)
    versions = WriteLog(env.plans, monkeypatch, ("published_versions",))
    env.clock.current = AT_1830
    report = _fire(env, "pl_low")
    assert report.sent == RIVALS_BY_PLAN and report.moved == 0
    assert reads.calls == {"enrollments_of": 0} and versions.calls == {"published_versions": 1}


def test_a_large_fire_still_yields_the_cap_to_a_higher_priority_plan(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _plans(env, rival_priority=9)
    _enroll(env, RIVALS_BY_PLAN, in_rival=RIVALS_BY_PLAN // 2)
    reads = WriteLog(env.store, monkeypatch, READS)
    env.clock.current = AT_1830
    report = _fire(env, "pl_low")
    half = RIVALS_BY_PLAN // 2
    assert (report.sent, report.moved, report.reasons) == (half, half, {"moved:cap": half})
    assert reads.calls == {"enrollments_of": RIVALS_BY_PLAN}  # could be outranked: each customer is asked


def test_a_small_fire_asks_each_customer_and_not_the_plans(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _plans(env, rival_priority=5)
    _enroll(env, RIVALS_BY_PLAN - 1, in_rival=0)
    reads = WriteLog(env.store, monkeypatch, READS)
    versions = WriteLog(env.plans, monkeypatch, ("published_versions",))
    env.clock.current = AT_1830
    assert _fire(env, "pl_low").sent == RIVALS_BY_PLAN - 1
    assert reads.calls == {"enrollments_of": RIVALS_BY_PLAN - 1} and versions.calls == {"published_versions": 0}


def test_priority_peaks_bound_outranked_by_every_other_published_version() -> None:
    mine = plan([step("m1", content_type="marketing")], plan_id="pl_mine", priority=5)
    v1 = plan([step("r1", content_type="marketing")], plan_id="pl_b", priority=9, version=1)
    v2 = plan([step("r1", content_type="service")], plan_id="pl_b", priority=3, version=2)
    paused = replace(plan([step("p1", content_type="service")], plan_id="pl_c", priority=99), status=PlanStatus.PAUSED)
    peaks = fate.priority_peaks([replace(mine, priority=50), v1, v2, paused], besides="pl_mine")
    # an old version's higher priority still counts (its enrollments may be pinned to it); itself and paused do not
    assert peaks == {"marketing": 9, "service": 3}
    assert fate.may_be_outranked(mine, mine.steps[0], peaks)
    assert not fate.may_be_outranked(replace(mine, priority=9), mine.steps[0], peaks)
    assert not fate.may_be_outranked(mine, replace(mine.steps[0], content_type="notice"), peaks)
