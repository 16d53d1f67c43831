"""A Moments step (朋友圈) through the one SOP kernel, on the fake store and the WeCom world: the customers due get the
step's tag, each owner one add_moment_task visible to that tag, tracked as a staff task; a fire twice or a crash
never makes a second post; task sync follows the job to the post and the post to whom it reached; the monthly cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import fate
from chalicelib.domain.plan_documents import plan_from_json, read_plan
from chalicelib.domain.plans import MOMENT_STEP, Lateness, TouchRules, plan_to_json
from chalicelib.domain.preview import SimCustomer
from chalicelib.domain.simulate import simulate
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.touch_rules import rules_text
from chalicelib.errors import ConflictError
from chalicelib.services.sop.moments import IN_DOUBT, JOB_PREFIX, MOMENT_PREFIX, MOMENT_TASK, TAG_GROUP
from chalicelib.services.task_sync import TaskSyncService
from tests.fakes.store import FakeStore
from tests.unit.conftest import make_env
from tests.unit.test_sop_engine import CORP, T0, Env, plan, step


class CrashAfterMoment(Env):
    """The process 'dies' right after WeCom accepted add_moment_task (before the task saved the jobid)."""

    def __init__(self) -> None:
        super().__init__()
        self.crash = False
        original = self.wecom.add_moment_task

        def crashing(*args: Any, **kwargs: Any) -> str:
            jobid = original(*args, **kwargs)
            if self.crash:
                raise RuntimeError("lambda died after the WeCom call")
            return jobid

        self.wecom.add_moment_task = crashing  # type: ignore[method-assign]


@pytest.fixture
def env() -> CrashAfterMoment:
    return CrashAfterMoment()


def moments(env: Env) -> list[Any]:
    return env.world.calls("externalcontact/add_moment_task")


def tasks(env: Env, status: str = "created") -> list[Any]:
    return env.store.list_tasks("sop", userid=None, status=status, due_from=None, due_to=None, limit=20)


def enroll_three(env: Env) -> list[Any]:
    env.plans.add(plan([step("m1", after_minutes=30, kind=MOMENT_STEP)]))
    customers = [env.customer(1), env.customer(2), env.customer(3, owner="li")]
    for c in customers:
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    return customers


def test_a_moment_step_tags_the_customers_and_makes_one_post_per_owner_once(env: CrashAfterMoment) -> None:
    customers = enroll_three(env)
    env.fire_due()
    env.fire_due()  # the schedule's retry: nothing more
    calls = moments(env)
    assert len(calls) == 2
    senders = sorted(c.payload["visible_range"]["sender_list"]["user_list"][0] for c in calls)
    assert senders == ["li", "zhang"]
    [tag] = {t for c in calls for t in c.payload["visible_range"]["external_contact_list"]["tag_list"]}
    corp = env.world.corp(CORP)
    assert corp.groups[corp.tags[tag].group_id].name == TAG_GROUP
    for c in customers:
        assert tag in corp.follows[c.external_userid][c.owner_userid].tags
    made = tasks(env)
    assert sorted((t.userid, t.kind, len(t.recipients)) for t in made) == [
        ("li", MOMENT_TASK, 1),
        ("zhang", MOMENT_TASK, 2),
    ]
    assert all((t.msgid or "").startswith(JOB_PREFIX) and t.text == "m1 的内容" for t in made)
    assert env.world.calls("externalcontact/add_msg_template") == []  # a Moments step sends no message


def test_a_crash_after_add_moment_task_fails_the_task_in_doubt_rather_than_posting_twice(
    env: CrashAfterMoment,
) -> None:
    env.plans.add(plan([step("m1", after_minutes=30, kind=MOMENT_STEP)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.crash = True
    with pytest.raises(RuntimeError):
        env.fire_due()
    env.crash = False
    [left] = tasks(env, "claimed")
    env.clock.advance(minutes=3)
    assert env.engine.reconcile("sop") == 1
    assert len(moments(env)) == 1
    settled = env.store.get_task("sop", left.task_id)
    assert settled is not None and (settled.status, settled.reason) == ("failed", IN_DOUBT)


def test_a_crash_before_the_intent_is_posted_by_reconciliation(env: CrashAfterMoment) -> None:
    env.plans.add(plan([step("m1", after_minutes=30, kind=MOMENT_STEP)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    original = env.wecom.mark_tag

    def dying(*a: Any, **k: Any) -> None:
        raise RuntimeError("died while tagging")

    env.wecom.mark_tag = dying  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        env.fire_due()
    env.wecom.mark_tag = original  # type: ignore[method-assign]
    env.clock.advance(minutes=3)
    assert env.engine.reconcile("sop") == 1
    assert len(moments(env)) == 1 and len(tasks(env)) == 1


def test_task_sync_follows_the_job_then_records_the_published_post_and_whom_it_reached(env: CrashAfterMoment) -> None:
    customers = enroll_three(env)
    env.fire_due()
    sync = TaskSyncService(env.store, env.wecom, env.clock)
    sync.run("sop")  # first poll: the job is starting
    zhang = next(t for t in tasks(env) if t.userid == "zhang")
    assert (zhang.msgid or "").startswith(JOB_PREFIX)
    env.clock.advance(seconds=10)
    sync.run("sop")  # done: the task now names the post, still not published
    zhang = next(t for t in tasks(env) if t.userid == "zhang")
    assert (zhang.msgid or "").startswith(MOMENT_PREFIX) and zhang.status == "created"
    follows = env.world.corp(CORP).follows
    assert all(follows[c.external_userid][c.owner_userid].tags == [] for c in customers)  # the post's audience is set
    moment_id = (zhang.msgid or "").removeprefix(MOMENT_PREFIX)
    env.world.publish_moment(CORP, moment_id, "zhang")
    report = sync.run("sop")
    assert report.sent == 1
    done = env.store.get_task("sop", zhang.task_id)
    assert done is not None and done.status == "sent" and done.results["sent"] == 2
    assert done.outcome_map() == {customers[0].customer_id: "sent", customers[1].customer_id: "sent"}
    li = next(t for t in tasks(env) if t.userid == "li")
    assert li.status == "created" and li.sent_at is None  # li has not published: 未发表


def test_the_monthly_moment_cap_counts_moments_apart_and_defers_to_next_month() -> None:
    moment = step("m1", after_minutes=0, kind=MOMENT_STEP)
    rules = TouchRules(monthly_moment_cap=2)
    zone = Env().tenant.zone
    ask = fate.quota(moment, rules, zone, T0)
    assert (ask.day_key, ask.day_cap) == ("2026-12#moment", 2)
    assert ask.refusal({"m": 1, "2026-12#moment": 1}) is None
    assert ask.refusal({"m": 2, "2026-12#moment": 2}) == fate.CAP
    assert ask.refusal({"m": 99}) is None and ask.counters() == ("2026-12#moment",)  # no mass message: no receive limit
    deferred = fate.on_refused(fate.CAP, moment, rules, zone, T0)
    assert deferred.outcome == fate.MOVE and deferred.due is not None
    assert deferred.due.astimezone(zone).strftime("%Y-%m-%d") == "2027-01-01"
    assert fate.quota(step("s1"), rules, zone, T0).day_key != ask.day_key  # a message is not a Moment


def test_the_engine_applies_the_tenant_moment_cap(env: CrashAfterMoment) -> None:
    env.tenant = replace(env.tenant, touch_rules=rules_text(TouchRules(monthly_moment_cap=1)))
    env.store.put_tenant(env.tenant)
    env.plans.add(
        plan([step("m1", after_minutes=30, kind=MOMENT_STEP), step("m2", after_minutes=60, kind=MOMENT_STEP)])
    )
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.fire_due()
    env.clock.advance(minutes=30)
    reports = env.fire_due()
    assert len(moments(env)) == 1
    assert [r.reasons for r in reports if r.reasons] == [{"moved:moment_cap": 1}]  # the second Moment waits a month


def test_the_simulator_applies_the_same_moment_cap() -> None:
    """The preview decides by the same fate: with a cap of 2, a plan of three Moments in December shows the third
    deferred to January, while a message step the same days is not held back by it."""
    zone = ZoneInfo("Asia/Shanghai")
    moments = [step(f"m{n}", day=n, at="10:00", kind=MOMENT_STEP) for n in (1, 2, 3)]
    shown = simulate(
        plan([*moments, step("s4", day=3, at="11:00")]),
        TouchRules(monthly_moment_cap=2),
        zone,
        [SimCustomer("c1", T0.astimezone(zone))],
        60,
    )
    by_step = {t.step_id: t for t in shown}
    assert [by_step[s].outcome for s in ("m1", "m2", "s4")] == ["task", "task", "task"]
    assert by_step["m3"].outcome == "task" and by_step["m3"].due_at.astimezone(zone).strftime("%Y-%m") == "2027-01"
    assert fate.MOMENT_CAP in by_step["m3"].reasons


def test_a_moment_step_round_trips_and_is_refused_where_wecom_or_a_group_plan_would_refuse_it() -> None:
    doc: dict[str, Any] = {
        "name": "朋友圈",
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "m1", "kind": "moment", "after_minutes": 0, "content_type": "content", "message": {"text": "x"}},
            {"id": "s2", "after_minutes": 5, "content_type": "service", "message": {"text": "y"}},
        ],
    }
    plan_doc = plan_to_json(plan_from_json(doc))
    assert plan_doc["steps"][0]["kind"] == "moment" and "kind" not in plan_doc["steps"][1]  # message steps as before
    camp = {**doc, "kind": "group", "steps": [{**doc["steps"][0], "day": 0, "at": "10:00"}]}
    del camp["steps"][0]["after_minutes"]
    _, problems = read_plan(camp)
    assert {"path": "/steps/0/kind", "message": "Moments steps (朋友圈) are for customer plans"} in problems
    gif = {**doc["steps"][0], "message": {"text": "x", "attachments": [{"msgtype": "file", "file": {"media_id": "m"}}]}}
    _, problems = read_plan({**doc, "steps": [gif]})
    assert [p["path"] for p in problems] == ["/steps/0/message/attachments"]


def test_a_rate_limited_moment_post_is_retried_once_the_block_lifts_and_posted_once(env: CrashAfterMoment) -> None:
    env.plans.add(plan([step("m1", after_minutes=30, kind=MOMENT_STEP, lateness=Lateness(180, "next_slot"))]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.world.inject("externalcontact/add_moment_task", 45009)
    env.fire_due()
    [waiting] = tasks(env, "retrying")
    assert waiting.reason == "wecom_45009" and waiting.kind == MOMENT_TASK
    env.clock.advance(minutes=90)
    env.engine.reconcile("sop")
    assert [c.errcode for c in moments(env)] == [45009, 0]
    [made] = tasks(env)
    assert made.task_id == waiting.task_id and (made.msgid or "").startswith(JOB_PREFIX)


def test_a_moment_task_counts_its_customers_as_touched_and_cannot_be_confirmed_before_wecom_holds_it() -> None:
    env = make_env(FakeStore())
    now = env.clock.now().astimezone(env.tenant.zone)
    due = now.isoformat()

    def task(task_id: str, status: str, recipients: tuple[str, ...]) -> StaffTask:
        return StaffTask(task_id, "zhang", MOMENT_TASK, status, due, due, recipients=recipients)

    env.store.create_task(env.tenant.tenant_id, task("tk_m1", "created", ("c1", "c2")))
    env.store.create_task(env.tenant.tenant_id, task("tk_m2", "claimed", ("c3",)))
    monday = now.date() - timedelta(days=now.weekday())
    assert env.svc.metrics.count_touched(env.tenant, monday) == 2  # the claimed one reached no one yet
    with pytest.raises(ConflictError):
        env.svc.staff_tasks.confirm(env.tenant.tenant_id, "tk_m2", userid=None, proof_url=None)


def test_a_moment_does_not_use_up_the_customers_mass_message_receive_limit(env: CrashAfterMoment) -> None:
    env.tenant = replace(env.tenant, touch_rules=rules_text(TouchRules(monthly_receive_limit=1)))
    env.store.put_tenant(env.tenant)
    env.plans.add(plan([step("m1", after_minutes=30, kind=MOMENT_STEP), step("s2", after_minutes=60)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.fire_due()
    env.clock.advance(minutes=30)
    env.fire_due()
    assert len(moments(env)) == 1 and len(env.add_calls()) == 1  # the month's one mass message still goes out
