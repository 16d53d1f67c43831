"""domain/fate.py: each rule of a touch's fate and each reason, the quota's refusal, signal exits and when a queued
touch fires (issue 8 §2). The differential test holds the engine to the same answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import fate
from chalicelib.domain.customers import Customer, Relation, Stage
from chalicelib.domain.messages import Message
from chalicelib.domain.metrics.holdout import in_holdout
from chalicelib.domain.plans import Audience, ExitRule, Lateness, Plan, PlanStatus, Step, TouchRules, Trigger
from chalicelib.domain.sop import COMPLETED, Enrollment, Subject, Touch

SH = ZoneInfo("Asia/Shanghai")
RULES = TouchRules()  # quiet 22:00–08:00, marketing 18:00–22:00, interactive 08:00–18:00, marketing cap 1
JOINED = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
NOW = datetime(2026, 12, 2, 19, 0, tzinfo=SH)


def step(**kw: Any) -> Step:
    base: dict[str, Any] = dict(id="s1", content_type="marketing", message=Message("…"), day=1, at="19:00")
    base.update(kw)
    return Step(**base)


def plan(*steps: Step, **kw: Any) -> Plan:
    base: dict[str, Any] = dict(
        plan_id="pl_a", version=1, name="A", status=PlanStatus.PUBLISHED, trigger=Trigger("manual"), steps=steps
    )
    base.update(kw)
    return Plan(**base)


CUSTOMER = Customer(
    customer_id="c1",
    external_userid="wm1",
    owner_userid="zhang",
    source_channel_id="ch_x",
    stage=Stage.NURTURING,
    added_at=JOINED.isoformat(),
    created_at=JOINED.isoformat(),
    updated_at=JOINED.isoformat(),
    relations=(Relation("zhang", "wm1", "active", JOINED.isoformat()),),
)
C1 = Subject.customer("c1")
ENROLLMENT = Enrollment(C1, "pl_a", 1, "en1", JOINED.isoformat())


def touch(due: datetime = NOW, occurrence: int = 0) -> Touch:
    return Touch("b", C1, "en1", "s1", occurrence, due.isoformat())


def decide(p: Plan | None = None, **kw: Any) -> fate.Fate:
    p = p or plan(step())
    args: dict[str, Any] = dict(
        plan=p,
        step=p.steps[0],
        enrollment=ENROLLMENT,
        customer=CUSTOMER,
        touch=touch(),
        rules=RULES,
        zone=SH,
        now=NOW,
        tenant_id="unit",
    )
    args.update(kw)
    return fate.decide(**args)


def test_an_on_time_touch_is_sent_with_the_quota_it_must_take() -> None:
    verdict = decide()
    assert verdict.outcome == fate.SEND and verdict.reason is None
    assert verdict.quota == fate.Quota(month="2026-12", day_key="2026-12-02#marketing", day_cap=1, month_cap=31)
    assert verdict.quota.counters() == ("m", "2026-12-02#marketing")
    uncapped = decide(plan(step(content_type="service")))
    assert uncapped.quota is not None and uncapped.quota.day_key is None and uncapped.quota.counters() == ("m",)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (dict(customer=None), "customer_erased"),
        (dict(enrollment=None), "enrollment_ended"),
        (dict(enrollment=replace(ENROLLMENT, status=COMPLETED)), "enrollment_ended"),
        (dict(enrollment=replace(ENROLLMENT, enrollment_id="en0")), "enrollment_ended"),
        (dict(step=None), "plan_changed"),
        (dict(customer=replace(CUSTOMER, stage=Stage.LOST)), "customer_lost"),
        (dict(customer=replace(CUSTOMER, relations=())), "customer_lost"),
        (dict(customer=replace(CUSTOMER, suppress_marketing=True)), "suppressed"),
    ],
)
def test_revalidation_skips_and_halts(changes: dict[str, Any], reason: str) -> None:
    verdict = decide(**changes)
    assert (verdict.outcome, verdict.reason, verdict.halts, verdict.exits) == (fate.SKIP, reason, True, False)


@pytest.mark.parametrize(
    ("status", "reason"), [(PlanStatus.PAUSED, "plan_paused"), (PlanStatus.ARCHIVED, "plan_archived")]
)
def test_a_paused_or_archived_plan_skips(status: PlanStatus, reason: str) -> None:
    assert decide(plan(step(), status=status)).reason == reason


@pytest.mark.parametrize(
    ("exit_rule", "stage", "tags", "reason"),
    [
        (ExitRule("order", kind="trial"), Stage.TRIAL, (), "exit:order:trial"),
        (ExitRule("order", kind="trial"), Stage.CONVERTED, (), "exit:order:trial"),  # a full buyer is past a trial
        (ExitRule("order", kind="full"), Stage.CONVERTED, (), "exit:order:full"),
        (ExitRule("order"), Stage.TRIAL, (), "exit:order:any"),
        (ExitRule("stage", stage="hot"), Stage.HOT, (), "exit:stage:hot"),
        (ExitRule("tag", tag_id="t1"), Stage.NURTURING, ("t1",), "exit:tag:t1"),
    ],
)
def test_exit_rules_met_at_fire_time_end_the_enrollment(
    exit_rule: ExitRule, stage: Stage, tags: tuple[str, ...], reason: str
) -> None:
    verdict = decide(plan(step(), exits=(exit_rule,)), customer=replace(CUSTOMER, stage=stage, tags=frozenset(tags)))
    assert (verdict.outcome, verdict.reason, verdict.exits, verdict.halts) == (fate.SKIP, reason, True, True)


def test_a_trial_order_does_not_meet_a_full_exit() -> None:
    p = plan(step(), exits=(ExitRule("order", kind="full"),))
    assert decide(p, customer=replace(CUSTOMER, stage=Stage.TRIAL)).outcome == fate.SEND


def test_a_trial_buyer_is_past_a_new_customer_plan_and_a_full_buyer_past_both() -> None:
    new_plan = plan(step(), audience=Audience(stages=("new",)))
    trial_plan = plan(step(), audience=Audience(stages=("trial",)))
    assert decide(new_plan).outcome == fate.SEND  # nurturing counts as new
    assert decide(new_plan, customer=replace(CUSTOMER, stage=Stage.TRIAL)).reason == "audience"
    assert decide(trial_plan, customer=replace(CUSTOMER, stage=Stage.TRIAL)).outcome == fate.SEND
    assert decide(trial_plan, customer=replace(CUSTOMER, stage=Stage.CONVERTED)).reason == "audience"
    assert decide(new_plan, customer=replace(CUSTOMER, stage=Stage.CONVERTED)).reason == "audience"


def test_the_audience_is_rechecked_only_when_the_plan_says_so() -> None:
    tagged = replace(CUSTOMER, tags=frozenset({"done"}))
    assert decide(plan(step(), audience=Audience(tags_none=("done",))), customer=tagged).reason == "audience"
    kept = Audience(tags_none=("done",), recheck_at_fire=False)
    assert decide(plan(step(), audience=kept), customer=tagged).outcome == fate.SEND


def test_lateness_skips_or_moves_to_the_next_slot_and_goes_on() -> None:
    late = NOW + timedelta(minutes=61)
    skip = decide(plan(step(lateness=Lateness(60, "skip"))), now=late)
    assert (skip.outcome, skip.reason, skip.halts) == (fate.SKIP, "lateness", False)
    move = decide(plan(step(lateness=Lateness(60, "next_slot"))), now=late)
    assert (move.outcome, move.reason, move.due) == (fate.MOVE, "lateness", datetime(2026, 12, 3, 19, 0, tzinfo=SH))
    assert move.touch_reason == "moved:lateness" and not move.waits(NOW)
    assert decide(plan(step(lateness=Lateness(60, "skip"))), now=NOW + timedelta(minutes=60)).outcome == fate.SEND


def test_an_early_fire_waits_in_its_own_minute() -> None:
    early = decide(now=NOW - timedelta(minutes=5))
    assert (early.outcome, early.reason, early.due) == (fate.MOVE, "early", NOW)
    assert early.waits(NOW) and early.reasons == ("early",)


def test_quiet_hours_and_content_windows_move_a_drifted_fire() -> None:
    quiet = decide(touch=touch(datetime(2026, 12, 2, 22, 30, tzinfo=SH)), now=datetime(2026, 12, 2, 22, 30, tzinfo=SH))
    assert (quiet.outcome, quiet.reason) == (fate.MOVE, "quiet_hours")
    assert quiet.due == datetime(2026, 12, 3, 18, 0, tzinfo=SH) and quiet.reasons == ("quiet_hours", "content_window")
    noon = datetime(2026, 12, 2, 12, 0, tzinfo=SH)
    window = decide(touch=touch(noon), now=noon)
    assert (window.outcome, window.reason, window.due) == (fate.MOVE, "content_window", NOW.replace(hour=18))


def test_a_higher_priority_plan_later_today_wins_the_cap() -> None:
    mine = plan(step(), priority=1)
    rival = plan(step(id="r1", day=0, at="20:00"), plan_id="pl_b", priority=5)
    rival_enrollment = Enrollment(C1, "pl_b", 1, "en2", datetime(2026, 12, 2, 8, 0, tzinfo=SH).isoformat())
    outranked = decide(mine, rivals=[(rival_enrollment, rival)])
    assert (outranked.outcome, outranked.reason, outranked.due) == (
        fate.MOVE,
        "cap",
        datetime(2026, 12, 3, 18, 0, tzinfo=SH),
    )
    dropping = plan(step(on_cap="drop"), priority=1)
    assert decide(dropping, rivals=[(rival_enrollment, rival)]).outcome == fate.DROP
    # lower or equal priority, another content type, an ended or paused rival, or a rival touch already past: no claim
    for other, rival_plan in [
        (rival_enrollment, replace(rival, priority=1)),
        (rival_enrollment, replace(rival, steps=(step(id="r1", day=0, at="20:00", content_type="service"),))),
        (replace(rival_enrollment, status=COMPLETED), rival),
        (rival_enrollment, replace(rival, status=PlanStatus.PAUSED)),
        (rival_enrollment, replace(rival, steps=(step(id="r1", day=0, at="18:30"),))),
        (rival_enrollment, None),
    ]:
        assert decide(mine, rivals=[(other, rival_plan)]).outcome == fate.SEND
    assert decide(plan(step(content_type="service")), rivals=[(rival_enrollment, rival)]).outcome == fate.SEND


def test_the_quota_refuses_the_month_first_then_the_day() -> None:
    ask = fate.Quota(month="2026-12", day_key="2026-12-02#marketing", day_cap=1, month_cap=3)
    assert ask.refusal({}) is None
    assert ask.refusal({"m": 2, "2026-12-02#marketing": 0}) is None
    assert ask.refusal({"m": 2, "2026-12-02#marketing": 1}) == "cap"
    assert ask.refusal({"m": 3, "2026-12-02#marketing": 1}) == "monthly_limit"


def test_a_refused_quota_defers_to_the_next_day_or_month_or_drops() -> None:
    cap = fate.on_refused("cap", step(), RULES, SH, NOW)
    assert (cap.outcome, cap.reason, cap.due, cap.touch_reason) == (
        fate.MOVE,
        "cap",
        datetime(2026, 12, 3, 18, 0, tzinfo=SH),
        "moved:cap",
    )
    monthly = fate.on_refused("monthly_limit", step(content_type="service"), RULES, SH, NOW)
    assert (monthly.outcome, monthly.due) == (fate.MOVE, datetime(2027, 1, 1, 8, 0, tzinfo=SH))  # after quiet hours
    dropped = fate.on_refused("monthly_limit", step(on_cap="drop"), RULES, SH, NOW)
    assert (dropped.outcome, dropped.reason, dropped.halts) == (fate.DROP, "monthly_limit", False)
    with pytest.raises(ValueError, match="refusal"):
        fate.on_refused("full", step(), RULES, SH, NOW)


def test_signals_that_end_an_enrollment_at_once() -> None:
    p = plan(step(), exits=(ExitRule("order", kind="trial"), ExitRule("negative_reply")))
    assert fate.signal_exit(p, "order", "trial") == "exit:order:trial"
    assert fate.signal_exit(p, "order", "full") == "exit:order:full"  # a full order meets a trial exit
    assert fate.signal_exit(p, "reply", "negative") == "exit:negative_reply:negative"
    assert fate.signal_exit(p, "reply", "positive") is None
    assert fate.signal_exit(p, "reply", None) is None
    assert fate.signal_exit(plan(step()), "reply", "negative") is None  # only a plan that exits on one
    assert fate.signal_exit(plan(step(), exits=(ExitRule("order", kind="full"),)), "order", "trial") is None
    assert fate.signal_exit(plan(step(), exits=(ExitRule("tag", tag_id="t1"),)), "tag", None) is None  # at fire time


def test_a_queued_touch_fires_at_once_when_due_within_a_minute_else_at_its_minute() -> None:
    queued = datetime(2026, 12, 2, 10, 0, 30, tzinfo=SH)
    assert fate.fires_at(queued - timedelta(hours=1), queued) == queued
    assert fate.fires_at(queued + timedelta(seconds=60), queued) == queued
    assert fate.fires_at(queued + timedelta(seconds=61), queued) == datetime(2026, 12, 2, 10, 1, tzinfo=SH)


def test_rivals_are_read_only_for_a_capped_content_type() -> None:
    reads: list[str] = []
    rival = plan(step(id="r1", day=0, at="20:00"), plan_id="pl_b", priority=5)
    rival_enrollment = Enrollment(C1, "pl_b", 1, "en2", datetime(2026, 12, 2, 8, 0, tzinfo=SH).isoformat())

    def rivals() -> list[tuple[Enrollment, Plan | None]]:
        reads.append("read")
        return [(rival_enrollment, rival)]

    assert decide(plan(step(content_type="service")), rivals=rivals).outcome == fate.SEND and reads == []
    assert decide(plan(step()), rivals=rivals).reason == "cap" and reads == ["read"]


def test_a_deferred_occurrence_is_still_owed_after_the_run_completes_but_not_after_an_exit() -> None:
    completed = replace(ENROLLMENT, status="completed")
    assert decide(enrollment=completed, touch=touch(occurrence=1)).outcome == fate.SEND
    assert decide(enrollment=completed, touch=touch(occurrence=0)).reason == "enrollment_ended"
    exited = replace(ENROLLMENT, status="exited", exit_reason="exit:order:trial")
    assert decide(enrollment=exited, touch=touch(occurrence=1)).reason == "enrollment_ended"


# --- the holdout (issue 11 §2) ------------------------------------------------------------------------------------

HELD = next(f"c{i}" for i in range(100) if in_holdout("unit", "pl_a", f"c{i}", 50))
TREATED = next(f"c{i}" for i in range(100) if not in_holdout("unit", "pl_a", f"c{i}", 50))


def held_touch(customer_id: str = HELD, due: datetime = NOW) -> Touch:
    return Touch("b", Subject.customer(customer_id), "en1", "s1", 0, due.isoformat())


def test_a_held_out_customers_touch_is_skipped_holdout_and_the_run_goes_on() -> None:
    held = plan(step(), holdout_percent=50)
    verdict = decide(held, touch=held_touch())
    assert (verdict.outcome, verdict.reason, verdict.halts, verdict.exits) == (fate.SKIP, "holdout", False, False)
    assert verdict.quota is None  # decided before the quota: nothing of the customer's month or day is taken
    assert decide(held, touch=held_touch(TREATED)).outcome == fate.SEND
    assert decide(plan(step()), touch=held_touch()).outcome == fate.SEND  # no holdout on the plan: sent


def test_the_holdout_comes_after_revalidation_and_before_timing_caps_and_priority() -> None:
    held = plan(step(), holdout_percent=50, exits=(ExitRule("stage", stage="trial"),))
    # Revalidation first: an exit rule or a lost customer says why, and ends or halts the run as for anyone.
    assert decide(held, touch=held_touch(), customer=replace(CUSTOMER, stage=Stage.TRIAL)).reason == "exit:stage:trial"
    assert decide(held, touch=held_touch(), customer=replace(CUSTOMER, stage=Stage.LOST)).reason == "customer_lost"
    # Then the holdout: a touch fired three hours late is not late, nor one in quiet hours moved, nor a capped one
    # outranked by a rival plan: it is held out.
    late = step(lateness=Lateness(max_minutes=0, then="skip"))
    assert decide(plan(late, holdout_percent=50), touch=held_touch(), now=NOW + timedelta(hours=3)).reason == "holdout"
    rival = plan(step(id="r1", day=0, at="20:00"), plan_id="pl_b", priority=5)
    rival_enrollment = Enrollment(C1, "pl_b", 1, "en2", datetime(2026, 12, 2, 8, 0, tzinfo=SH).isoformat())
    rivals = [(rival_enrollment, rival)]
    assert decide(plan(step(), holdout_percent=50), touch=held_touch(), rivals=rivals).reason == "holdout"
    assert decide(plan(step()), touch=held_touch(), rivals=rivals).reason == "cap"  # without the holdout: outranked


def test_the_holdout_is_keyed_by_tenant_and_plan_and_never_holds_a_group() -> None:
    held = plan(step(), holdout_percent=50)
    other_tenant = [decide(held, touch=held_touch(f"c{i}"), tenant_id="other").reason for i in range(40)]
    this_tenant = [decide(held, touch=held_touch(f"c{i}"), tenant_id="unit").reason for i in range(40)]
    assert other_tenant != this_tenant and "holdout" in other_tenant and "holdout" in this_tenant
    assert not fate.held_out(held, Subject.group("wrgroup1"), "unit")
    assert fate.held_out(held, Subject.customer(HELD), "unit")
