"""Issue 7 on fakes: enrollment refusals that name their reason, exit-rule exclusion (manual, triggers, bulk), the
stages enrollment and silence set, and the enrollment listings (tests/integration/test_enrollments_dynamodb.py runs
the same tests on DynamoDB Local)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chalicelib.domain.customers import Stage
from chalicelib.domain.enrollments import Refusal
from chalicelib.domain.sop import ACTIVE, COMPLETED, EXITED, Enrollment
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.ports import CustomerFilter, Signal
from chalicelib.services import enrollments
from chalicelib.services.bulk import BulkEnrollment
from chalicelib.services.enrollments import EnrollmentRefusedError
from tests.unit.test_lifecycle import TID, VIP, Env


@pytest.fixture
def env() -> Env:
    return Env()


def bulk_of(env: Env) -> BulkEnrollment:
    """Bulk enrollment wired as bootstrap wires it, over the test's engine."""
    engine = env.engine
    return BulkEnrollment(env.store, env.store, env.plans, engine.enrollments, engine.kernel, env.clock, env.ids)


def _attempt(env: Env, customer_id: str, plan_id: str, source: str = "manual") -> Enrollment | Refusal:
    return env.engine.enrollments.attempt_by_id(env.tenant, customer_id, plan_id, source=source)


def _reason(env: Env, customer_id: str, plan_id: str) -> str:
    result = _attempt(env, customer_id, plan_id)
    assert isinstance(result, Refusal), result
    return result.reason


def _stage(env: Env, customer_id: str) -> Stage:
    customer = env.store.get_customer(TID, customer_id)
    assert customer is not None
    return customer.stage


# --- refusals -----------------------------------------------------------------------------------------------------


def test_each_plan_state_is_its_own_refusal(env: Env) -> None:
    c = env.customer(1)
    draft = env.plan("草稿", publish=False)
    assert _reason(env, c.customer_id, draft.plan_id) == "plan_not_published"
    paused = env.plan("暂停")
    env.plans.pause(env.tenant, paused.plan_id)
    assert _reason(env, c.customer_id, paused.plan_id) == "plan_paused"
    archived = env.plan("归档")
    env.plans.archive(env.tenant, archived.plan_id)
    assert _reason(env, c.customer_id, archived.plan_id) == "plan_archived"
    assert env.store.enrollments_of(TID, c.customer_id) == [] and env.scheduler.schedules == {}
    with pytest.raises(NotFoundError) as missing:
        _attempt(env, c.customer_id, "pl_nope")
    assert missing.value.code == "plan_not_found"


def test_an_unknown_customer_and_an_audience_miss_are_named(env: Env) -> None:
    plan = env.plan("VIP专享", audience={"tags_all": [VIP]})
    assert _reason(env, "c_nobody", plan.plan_id) == "customer_not_found"
    with pytest.raises(NotFoundError) as missing:
        env.engine.enroll(env.tenant, "c_nobody", plan.plan_id)
    assert missing.value.code == "customer_not_found"
    c = env.customer(1)
    assert _reason(env, c.customer_id, plan.plan_id) == "audience_not_matched"


@pytest.mark.parametrize(
    ("stage", "kind", "excluded"),
    [
        (Stage.TRIAL, "trial", True),
        (Stage.CONVERTED, "trial", True),  # a full order also meets a trial exit
        (Stage.TRIAL, "full", False),
        (Stage.CONVERTED, "full", True),
        (Stage.NEW, "trial", False),
    ],
)
def test_a_customer_an_exit_rule_excludes_is_refused_with_that_rule_and_gets_no_touch(
    env: Env, stage: Stage, kind: str, excluded: bool
) -> None:
    plan = env.plan("转化", exit=[{"type": "order", "kind": kind}])
    c = env.customer(1, stage=stage)
    result = _attempt(env, c.customer_id, plan.plan_id)
    if not excluded:
        assert isinstance(result, Enrollment)
        return
    assert isinstance(result, Refusal)
    assert (result.reason, result.rule) == ("excluded_by_exit_rule", f"exit:order:{kind}")
    assert result.details() == {"reason": "excluded_by_exit_rule", "plan_id": plan.plan_id, "rule": result.rule}
    assert env.enrollment(c.customer_id, plan) is None and env.touches(plan) == []
    assert _stage(env, c.customer_id) == stage  # and nothing moved


def test_a_negative_reply_exit_excludes_a_customer_who_said_stop(env: Env) -> None:
    plan = env.plan("营销", exit=[{"type": "negative_reply"}])
    c = env.customer(1)
    env.change(c.customer_id, suppress_marketing=True)
    assert _reason(env, c.customer_id, plan.plan_id) == "excluded_by_exit_rule"


def test_already_enrolled_and_reentry_not_allowed_are_told_apart(env: Env) -> None:
    once = env.plan("一次", reentry="never")
    again = env.plan("可再入", reentry="after_completion")
    c = env.customer(1)
    first = env.enroll(c.customer_id, once)
    assert _reason(env, c.customer_id, once.plan_id) == "already_enrolled"
    env.store.end_enrollment(TID, first, status=COMPLETED, reason="completed", at=first.enrolled_at)
    assert _reason(env, c.customer_id, once.plan_id) == "reentry_not_allowed"
    env.enroll(c.customer_id, again)
    assert _reason(env, c.customer_id, again.plan_id) == "already_enrolled"


def test_the_api_answer_is_an_error_naming_the_reason(env: Env) -> None:
    plan = env.plan("转化", exit=[{"type": "order", "kind": "trial"}])
    c = env.customer(1, stage=Stage.CONVERTED)
    with pytest.raises(EnrollmentRefusedError) as refused:
        env.engine.enrollments.enroll_or_refuse(env.tenant, c.customer_id, plan.plan_id)
    body = refused.value.to_body()["error"]
    assert refused.value.status == 409 and body["code"] == "excluded_by_exit_rule"
    assert body["details"]["rule"] == "exit:order:trial" and "exit:order:trial" in body["message"]


def test_a_trigger_skips_an_excluded_customer_and_logs_why_without_who(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    plan = env.plan("VIP转化", trigger={"type": "tag", "tag_id": VIP}, exit=[{"type": "order", "kind": "trial"}])
    c = env.customer(1, stage=Stage.CONVERTED)
    caplog.set_level(logging.INFO, logger="siyu")
    assert env.triggers.on_tags_added(env.tenant, c.customer_id, [VIP]) == []
    assert env.enrollment(c.customer_id, plan) is None and env.touches(plan) == []
    [record] = [r for r in caplog.records if r.getMessage() == "enrollment refused"]
    logged = vars(record)
    assert (logged["reason"], logged["rule"], logged["source"]) == ("excluded_by_exit_rule", "exit:order:trial", "tag")
    assert c.customer_id not in str(logged) and c.external_userid not in str(logged)


def test_bulk_counts_the_customers_it_skips_per_reason(env: Env) -> None:
    plan = env.plan("批量", exit=[{"type": "order", "kind": "trial"}], audience={"stages": ["new", "trial"]})
    fresh = [env.customer(n) for n in range(3)]
    env.customer(3, stage=Stage.TRIAL)
    env.customer(4, stage=Stage.HOT)
    env.enroll(fresh[0].customer_id, plan)
    job = bulk_of(env).start(env.tenant, plan.plan_id, CustomerFilter())
    assert (job["status"], job["scanned"], job["enrolled"], job["skipped"]) == ("done", 5, 2, 3)
    assert job["refused"] == {"already_enrolled": 1, "excluded_by_exit_rule": 1, "audience_not_matched": 1}


# --- stages -------------------------------------------------------------------------------------------------------


def test_enrollment_makes_a_new_customer_nurturing_and_nothing_else(env: Env) -> None:
    plan = env.plan("培育", reentry="always")
    new, hot, trial = env.customer(1), env.customer(2, stage=Stage.HOT), env.customer(3, stage=Stage.TRIAL)
    version = new.version
    for c in (new, hot, trial):
        env.enroll(c.customer_id, plan)
    assert [_stage(env, c.customer_id) for c in (new, hot, trial)] == [Stage.NURTURING, Stage.HOT, Stage.TRIAL]
    moved = env.store.get_customer(TID, new.customer_id)
    assert moved is not None and moved.version == version + 1  # a versioned write: concurrent saves retry
    env.enroll(new.customer_id, plan)  # already nurturing: no second write
    moved_again = env.store.get_customer(TID, new.customer_id)
    assert moved_again is not None and moved_again.version == version + 1


def test_the_stage_store_move_is_conditional_on_the_stage_it_leaves(env: Env) -> None:
    c = env.customer(1, stage=Stage.CONVERTED)
    assert env.store.advance_stage(TID, c.customer_id, to=Stage.SILENT, from_stages=(Stage.NEW, Stage.HOT)) is False
    assert _stage(env, c.customer_id) == Stage.CONVERTED
    assert env.store.advance_stage(TID, "c_nobody", to=Stage.SILENT, from_stages=(Stage.NEW,)) is False
    assert env.store.get_customer(TID, "c_nobody") is None  # no profile conjured up
    d = env.customer(2)
    assert env.store.advance_stage(TID, d.customer_id, to=Stage.SILENT, from_stages=(Stage.NEW, Stage.HOT))
    assert _stage(env, d.customer_id) == Stage.SILENT


def test_nurturing_triggers_its_plans_and_a_new_audience_still_fires(env: Env) -> None:
    follow = env.plan("培育中跟进", trigger={"type": "stage", "stage": "nurturing"})
    plan = env.plan("新客", audience={"stages": ["new"], "recheck_at_fire": True})
    c = env.customer(1)
    env.enroll(c.customer_id, plan)
    assert _stage(env, c.customer_id) == Stage.NURTURING
    followed = env.enrollment(c.customer_id, follow)
    assert followed is not None and followed.source == "stage"
    env.at(minutes=61)
    reports = [env.engine.fire(TID, t.bucket_id) for t in env.touches(plan)]
    assert sum(r.sent for r in reports) == 1  # the audience `new` still holds the customer enrolling made nurturing


def test_the_silence_hand_off_makes_the_customer_silent(env: Env) -> None:
    watch = env.plan("沉默关怀", trigger={"type": "stage", "stage": "silent"})
    silent = env.plan("沉默唤醒", reentry="always")
    nurture = env.plan("新客7天培育", silence={"days": 7, "then_plan_id": silent.plan_id})
    quiet, bought = env.customer(1), env.customer(2)
    for c in (quiet, bought):
        env.enroll(c.customer_id, nurture)
    env.change(bought.customer_id, stage=Stage.CONVERTED)  # bought without a word: silent, but never back from it
    env.at(days=7, minutes=10)
    report = env.silence.run_silence(TID)
    assert report.handed_off == 2
    assert _stage(env, quiet.customer_id) == Stage.SILENT
    assert _stage(env, bought.customer_id) == Stage.CONVERTED
    handed = env.enrollment(quiet.customer_id, silent)
    assert handed is not None and handed.status == ACTIVE  # the hand-off leaves the stage silent
    assert _stage(env, quiet.customer_id) == Stage.SILENT
    watched = env.enrollment(quiet.customer_id, watch)
    assert watched is not None and watched.source == "stage"
    assert env.enrollment(bought.customer_id, watch) is None


# --- listings -----------------------------------------------------------------------------------------------------


def _all(list_page: Any, **kw: Any) -> tuple[list[str], int]:
    """Every item over every page (customer ids, or plan ids for a customer's listing) and the number of pages."""
    seen, cursor, pages = [], None, 0
    while True:
        page = list_page(cursor=cursor, **kw)
        pages += 1
        seen += [f"{e.customer_id}/{e.plan_id}" for e in page.items]
        cursor = page.next_cursor
        if not cursor:
            return seen, pages


def test_a_plans_enrollments_list_by_status_and_page(env: Env) -> None:
    plan = env.plan("培育", exit=[{"type": "order", "kind": "trial"}])
    other = env.plan("别的计划")
    customers = [env.customer(n) for n in range(7)]
    for c in customers:
        env.enroll(c.customer_id, plan)
    env.enroll(customers[0].customer_id, other)
    for c in customers[:3]:
        env.engine.on_signal(TID, c.customer_id, Signal("order", env.clock.now(), kind="trial"))

    def listing(**kw: Any) -> Any:
        return env.store.list_plan_enrollments(TID, plan.plan_id, **kw)

    every, pages = _all(listing, status=None, limit=3)
    assert every == [f"{c.customer_id}/{plan.plan_id}" for c in customers] and pages == 3
    exited, _ = _all(listing, status=EXITED, limit=2)
    assert exited == [f"{c.customer_id}/{plan.plan_id}" for c in customers[:3]]
    active, _ = _all(listing, status=ACTIVE, limit=100)
    assert active == [f"{c.customer_id}/{plan.plan_id}" for c in customers[3:]]
    assert _all(listing, status=COMPLETED, limit=5)[0] == []
    with pytest.raises(InvalidError):
        listing(status=None, cursor="not-a-cursor", limit=3)
    foreign = env.store.list_plan_enrollments(TID, other.plan_id, status=None, cursor=None, limit=1)
    first = listing(status=None, cursor=None, limit=1)
    assert first.next_cursor and foreign.next_cursor is None
    with pytest.raises(InvalidError):  # a cursor of one plan does not page another (nor another tenant)
        env.store.list_plan_enrollments("other", plan.plan_id, status=None, cursor=first.next_cursor, limit=1)


def test_a_customers_enrollments_list_by_status_and_page(env: Env) -> None:
    plans = [env.plan(f"计划{n}", exit=[{"type": "order", "kind": "trial"}]) for n in range(3)]
    c, d = env.customer(1), env.customer(2)
    for plan in plans:
        env.enroll(c.customer_id, plan)
    env.enroll(d.customer_id, plans[0])
    env.engine.on_signal(TID, c.customer_id, Signal("order", env.clock.now(), kind="trial"))
    env.enroll(c.customer_id, env.plan("之后"))

    def listing(**kw: Any) -> Any:
        return env.store.list_customer_enrollments(TID, c.customer_id, **kw)

    every, pages = _all(listing, status=None, limit=2)
    assert len(every) == 4 and pages == 2 and all(e.startswith(c.customer_id) for e in every)
    assert len(_all(listing, status=EXITED, limit=2)[0]) == 3
    assert len(_all(listing, status=ACTIVE, limit=2)[0]) == 1
    first = listing(status=None, cursor=None, limit=1)
    with pytest.raises(InvalidError):
        env.store.list_customer_enrollments(TID, d.customer_id, status=None, cursor=first.next_cursor, limit=1)


def test_listings_check_status_scope_and_erasure(env: Env) -> None:
    plan = env.plan("培育")
    mine, theirs = env.customer(1), env.customer(2)
    for c in (mine, theirs):
        env.enroll(c.customer_id, plan)
    env.change(theirs.customer_id, owner_userid="li")
    with pytest.raises(InvalidError) as bad:
        enrollments.status_arg({"status": "paused"})
    assert bad.value.code == "invalid" and "active, completed, exited" in bad.value.message
    args: dict[str, Any] = {"status": None, "cursor": None, "limit": 10}
    page = enrollments.of_plan(env.store, env.plans, TID, plan.plan_id, only_owner="li", **args)
    assert [e.customer_id for e in page.items] == [theirs.customer_id]
    with pytest.raises(NotFoundError):
        enrollments.of_customer(env.store, TID, mine.customer_id, only_owner="li", **args)
    with pytest.raises(NotFoundError):
        enrollments.of_plan(env.store, env.plans, TID, "pl_nope", only_owner=None, **args)
    env.store.erase_customer(TID, mine.customer_id, tombstones=[])
    page = enrollments.of_plan(env.store, env.plans, TID, plan.plan_id, only_owner=None, **args)
    assert [e.customer_id for e in page.items] == [theirs.customer_id]


def test_a_full_order_meets_a_trial_exit_at_the_order_as_the_simulator_says(env: Env) -> None:
    """One rule everywhere: a full buyer is past the trial, so the order itself ends a trial-exit enrollment (not
    only the fire's later stage check); a trial order does not end a full-exit one."""
    trial_exit = env.plan("体验课转化", exit=[{"type": "order", "kind": "trial"}])
    full_exit = env.plan("正价课转化", exit=[{"type": "order", "kind": "full"}])
    c, d = env.customer(1), env.customer(2)
    for customer in (c, d):
        env.enroll(customer.customer_id, trial_exit)
        env.enroll(customer.customer_id, full_exit)
    exited = env.engine.on_signal(TID, c.customer_id, Signal("order", env.clock.now(), kind="full"))
    assert sorted(exited) == sorted([trial_exit.plan_id, full_exit.plan_id])
    assert env.engine.on_signal(TID, d.customer_id, Signal("order", env.clock.now(), kind="trial")) == [
        trial_exit.plan_id
    ]
