"""Group plans on the SOP kernel with in-memory fakes: groups enrolled on their cohort's calendar, their touches fired
through the group policy (one task per owner per bucket, ≤ 2,000 chat ids a call), dismissed groups skipped, and
quiet hours and the group's receive limit decided by the customers' own decision function."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.sop import GROUP, MAX_CHATS_PER_TASK, SENT, SKIPPED, Subject
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from tests.unit.group_plan_env import COHORT, TID, GroupEnv, step


def test_a_group_plan_firing_across_30_groups_in_one_bucket_makes_one_task_per_owner() -> None:
    env = GroupEnv()
    owners = ("zhang", "li", "wang")
    for n in range(30):
        env.group(f"wrc{n:02d}", owner=owners[n % 3])
    env.group("wrc_other", cohort_start=COHORT, type="sales")  # not in the audience: never enrolled
    plan = env.plan([step("pre7", -7, "20:00"), step("d0", 0, "20:00")])
    result = env.groups.enroll(env.tenant, plan.plan_id)
    assert len(result.enrolled) == 30 and result.refused == []
    assert {e["first_step"] for e in result.enrolled} == {"pre7"}
    [bucket] = env.bucket_ids()  # 30 touches, one bucket, one schedule
    assert bucket.endswith(".202612011200")  # day -7 (2026-12-01) 20:00 Shanghai
    report = env.fire_at_minute(bucket)
    twin = env.sop.fire(TID, bucket)  # the schedule's retry: nothing twice
    assert (report.sent, report.tasks, twin.sent, twin.tasks) == (30, 3, 0, 0)
    assert sorted((c.chat_type, c.sender, len(c.recipients)) for c in env.wecom.calls) == [
        ("group", owner, 10) for owner in sorted(owners)
    ]
    zhang = next(c for c in env.wecom.calls if c.sender == "zhang")
    assert zhang.recipients == tuple(f"wrc{n:02d}" for n in range(0, 30, 3))
    tasks = env.store.list_tasks(TID, userid=None, status="created", due_from=None, due_to=None, limit=10)
    assert {(t.userid, t.recipient_kind, len(t.recipients)) for t in tasks} == {(o, GROUP, 10) for o in owners}
    shown = next(t.public() for t in tasks if t.userid == "zhang")
    assert (shown["customer_ids"], shown["chat_ids"], shown["recipient_kind"]) == ([], list(zhang.recipients), GROUP)
    assert {t.state for t in env.touches(bucket)} == {SENT}
    [following] = [b for b in env.bucket_ids() if ".d0." in b]  # the next step follows on day 0, in one bucket
    assert following.endswith(".202612081200")


def test_a_dismissed_group_is_skipped_with_its_reason_and_the_others_go_out() -> None:
    env = GroupEnv()
    env.group("wr_a")
    env.group("wr_b")
    plan = env.plan([step("pre7", -7, "20:00")])
    env.groups.enroll(env.tenant, plan.plan_id)
    env.dismiss("wr_b")
    [bucket] = env.bucket_ids()
    report = env.fire_at_minute(bucket)
    assert (report.sent, report.skipped, report.reasons) == (1, 1, {"group_dismissed": 1})
    assert [c.recipients for c in env.wecom.calls] == [("wr_a",)]
    assert {t.subject.id: (t.state, t.reason) for t in env.touches(bucket)}["wr_b"] == (SKIPPED, "group_dismissed")


def test_one_owners_2001_groups_go_out_in_calls_of_at_most_2000_chat_ids() -> None:
    env = GroupEnv()
    chat_ids = [f"wr{n:05d}" for n in range(MAX_CHATS_PER_TASK + 1)]
    for chat_id in chat_ids:
        env.group(chat_id)
    plan = env.plan([step("pre7", -7, "20:00")])
    assert len(env.groups.enroll(env.tenant, plan.plan_id).enrolled) == len(chat_ids)
    report = env.fire_at_minute(env.bucket_ids()[0])
    assert (report.sent, report.tasks) == (len(chat_ids), 2)
    assert sorted(len(c.recipients) for c in env.wecom.calls) == [1, MAX_CHATS_PER_TASK]
    assert sorted(r for c in env.wecom.calls for r in c.recipients) == chat_ids  # each group once


def test_the_groups_monthly_receive_limit_defers_a_touch_to_next_month_through_the_shared_decision() -> None:
    env = GroupEnv(touch_rules=json.dumps({"monthly_receive_limit": 1}))
    env.group("wr_a")
    plan = env.plan([step("pre7", -7, "20:00"), step("pre6", -6, "20:00")])
    env.groups.enroll(env.tenant, plan.plan_id)
    env.fire_at_minute(env.bucket_ids()[0])
    [second] = [b for b in env.bucket_ids() if ".pre6." in b]
    report = env.fire_at_minute(second)
    assert (report.sent, report.moved) == (0, 1)
    assert [(t.state, t.reason) for t in env.touches(second)] == [(SKIPPED, "moved:monthly_limit")]
    [deferred] = [b for b in env.bucket_ids() if ".pre6." in b and b != second]
    assert deferred.endswith(".202701010000")  # 2027-01-01 08:00 Shanghai: next month's first allowed instant
    assert env.store.group_quota(TID, "wr_a", "2026-12") == {"m": 1}
    assert len(env.wecom.calls) == 1


def test_quiet_hours_move_a_late_fire_to_the_morning_through_the_shared_decision() -> None:
    env = GroupEnv()
    env.group("wr_a")
    plan = env.plan([step("late", -7, "21:30", lateness={"max_minutes": 60, "then": "next_slot"})])
    env.groups.enroll(env.tenant, plan.plan_id)
    [bucket] = env.bucket_ids()
    env.clock.current = datetime(2026, 12, 1, 14, 10, tzinfo=UTC)  # 22:10: 40 minutes late, inside quiet hours
    report = env.sop.fire(TID, bucket)
    assert (report.sent, report.moved) == (0, 1)
    assert [t.reason for t in env.touches(bucket)] == ["moved:quiet_hours"]
    [moved] = [b for b in env.bucket_ids() if b != bucket]
    assert moved.endswith(".202612020000")  # 08:00 next morning


def test_enrollment_refuses_with_reasons_and_starts_mid_camp_at_the_first_step_still_ahead() -> None:
    env = GroupEnv()
    env.group("wr_ok")
    env.group("wr_late", cohort_start="2026-11-30")  # day 1 is today: days -7..0 are behind it
    env.group("wr_nodate", cohort_start=None)
    env.group("wr_over", cohort_start="2026-01-01")
    plan = env.plan([step("pre7", -7, "20:00"), step("d0", 0, "20:00"), step("d2", 2, "20:00")])
    chat_ids = ["wr_ok", "wr_late", "wr_nodate", "wr_over", "wr_missing"]
    result = env.groups.enroll(env.tenant, plan.plan_id, chat_ids)
    assert {e["chat_id"]: e["first_step"] for e in result.enrolled} == {"wr_ok": "pre7", "wr_late": "d2"}
    assert {r["chat_id"]: r["reason"] for r in result.refused} == {
        "wr_nodate": "no_cohort_start",
        "wr_over": "calendar_over",
        "wr_missing": "group_unknown",
    }
    again = env.groups.enroll(env.tenant, plan.plan_id, ["wr_ok"])  # a repeated request enrolls once
    assert (again.enrolled, again.refused) == ([], [{"chat_id": "wr_ok", "reason": "already_enrolled"}])
    [run] = env.store.subject_enrollments(TID, Subject.group("wr_ok"))
    assert (run.day0, run.source) == (COHORT, "group")


def test_enrolling_needs_a_published_group_plan() -> None:
    env = GroupEnv()
    with pytest.raises(NotFoundError):
        env.groups.enroll(env.tenant, "pl_missing")
    draft = env.plans.create(
        env.tenant, {"name": "草稿", "kind": "group", "trigger": {"type": "manual"}, "steps": [step("s1", 0, "20:00")]}
    )
    with pytest.raises(ConflictError, match="publish"):
        env.groups.enroll(env.tenant, draft.plan_id)
    customer_plan = env.plans.create(
        env.tenant, {"name": "客户计划", "trigger": {"type": "manual"}, "steps": [step("s1", 0, "20:00")]}
    )
    env.plans.publish(env.tenant, customer_plan.plan_id)
    with pytest.raises(InvalidError) as refused:
        env.groups.enroll(env.tenant, customer_plan.plan_id)
    assert refused.value.code == "not_a_group_plan"


def test_a_group_plan_document_is_checked_with_every_problem_named() -> None:
    env = GroupEnv()
    doc = {
        "name": "坏的社群计划",
        "kind": "group",
        "trigger": {"type": "tag", "tag_id": "t_x"},
        "group_audience": {"types": ["study"]},
        "day0": "2026-02-30",
        "steps": [
            {"id": "s1", "after_minutes": 5, "content_type": "announcement", "message": {"text": "欢迎"}},
            step("s2", -60, "20:00"),  # the earliest day a group plan may name
            step("s3", 1, "20:00", executor="zhang"),
        ],
        "exit": [{"type": "order"}],
    }
    plan, problems = env.plans.check(TID, doc)
    assert plan is None
    paths = sorted(p["path"] for p in problems)  # the tag t_x does not exist either
    assert paths == ["/day0", "/exit", "/steps/0", "/steps/2/executor", "/trigger/tag_id", "/trigger/type"]
    _, problems = env.plans.check(TID, {**doc, "steps": [step("s1", -61, "20:00")]})  # the schema's bound too
    assert [p["path"] for p in problems] == ["/steps/0/day"]
    customer = {"name": "客户计划", "trigger": {"type": "manual"}, "steps": [step("s1", -1, "20:00")]}
    _, problems = env.plans.check(TID, customer)
    assert [p["path"] for p in problems] == ["/steps/0/day"]


def test_a_group_plan_round_trips_its_document_and_a_customer_plan_stays_as_it_was() -> None:
    env = GroupEnv()
    plan = env.plan(
        [step("pre", -7, "20:00", phase="预热", title="建群欢迎")],
        group_audience={"types": ["study"], "cohorts": ["3期"], "tags": ["数学"], "chat_ids": []},
    )
    doc = env.plans.get(TID, plan.plan_id).public()
    assert (doc["kind"], doc["group_audience"]["cohorts"], doc["steps"][0]["phase"]) == ("group", ["3期"], "预热")
    customer = env.plans.create(
        env.tenant, {"name": "客户计划", "trigger": {"type": "manual"}, "steps": [step("s1", 0, "20:00")]}
    ).public()
    assert "kind" not in customer and "group_audience" not in customer and "phase" not in customer["steps"][0]


def test_a_one_off_announcement_is_a_one_step_plan_with_a_fixed_day() -> None:
    env = GroupEnv()
    for chat_id, cohort_start in (("wr_a", "2026-10-01"), ("wr_b", None)):
        env.group(chat_id, cohort_start=cohort_start)
    plan = env.plan(
        [step("notice", 0, "19:00", title="群发：停课通知")], day0="2026-12-03", group_audience={"chat_ids": []}
    )
    result = env.groups.enroll(env.tenant, plan.plan_id, ["wr_a", "wr_b"])
    assert {e["first_due_at"] for e in result.enrolled} == {"2026-12-03T19:00:00+08:00"}
    report = env.fire_at_minute(env.bucket_ids()[0])
    assert report.sent == 2 and [len(c.recipients) for c in env.wecom.calls] == [2]
    assert env.clock.now() == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def test_a_plans_kind_never_changes_with_an_edit() -> None:
    env = GroupEnv()
    plan = env.plan([step("pre7", -7, "20:00")])
    with pytest.raises(InvalidError, match="kind cannot change"):
        env.plans.update(env.tenant, plan.plan_id, {"kind": "customer"})
    customer = env.plans.create(
        env.tenant, {"name": "客户计划", "trigger": {"type": "manual"}, "steps": [step("s1", 0, "20:00")]}
    )
    with pytest.raises(InvalidError, match="kind cannot change"):
        env.plans.update(env.tenant, customer.plan_id, {"kind": "group"})
    edited = env.plans.update(env.tenant, plan.plan_id, {"goal": "28天冲刺"})  # other edits go through
    assert (edited.kind, edited.version) == ("group", 2)


def test_a_group_set_up_with_a_cohort_start_joins_every_published_group_plan_that_targets_it() -> None:
    env = GroupEnv()
    env.group("wr_a", cohort="3期")
    camp = env.plan([step("pre7", -7, "20:00")], group_audience={"cohorts": ["3期"]})
    env.plan([step("pre7", -7, "20:00")], name="4期训练营", group_audience={"cohorts": ["4期"]})
    customer = env.plans.create(
        env.tenant, {"name": "客户计划", "trigger": {"type": "manual"}, "steps": [step("s1", 0, "20:00")]}
    )
    env.plans.publish(env.tenant, customer.plan_id)
    assert env.groups.enroll_everywhere(env.tenant, "wr_a") == [camp.plan_id]
    assert env.groups.enroll_everywhere(env.tenant, "wr_a") == []  # once
