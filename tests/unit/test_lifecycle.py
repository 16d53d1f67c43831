"""Lifecycle on fakes (and, via tests/integration/test_silence_dynamodb.py, on DynamoDB Local): per-tenant touch rules
through the engine, silence timers and the hand-off (once, under repeats, concurrency and a crash), and enrollment by
tag and stage triggers."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import bootstrap, wiring
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain import simulate as simulation
from chalicelib.domain.business_events import sign
from chalicelib.domain.customers import Attribution, Customer, Relation, Stage
from chalicelib.domain.facts import StaffDayDelta
from chalicelib.domain.instants import utc_key
from chalicelib.domain.plans import Plan, Window
from chalicelib.domain.sop import ACTIVE, COMPLETED, EXITED, Enrollment
from chalicelib.domain.tags import Tag, TagGroup
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError
from chalicelib.jobs import silence as silence_jobs
from chalicelib.ports import Signal
from chalicelib.services.plans import PlanService
from chalicelib.services.signals import SignalBus
from chalicelib.services.silence import CLAIM_LEASE, SilenceService
from chalicelib.services.sop import SopEngine, rules_of
from chalicelib.services.tenants import TenantService
from chalicelib.services.triggers import TriggerService
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.unit.conftest import make_channel, make_env

TID = "life"
CORP = "wwlife00000000001"
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
VIP = "t_vip00001"


class Env:
    """The real engine, plan service and lifecycle over one store, with a fixed clock and an in-process WeCom."""

    def __init__(self, store: Any = None) -> None:
        self.clock = FixedClock(T0)
        self.world = WeComWorld(clock=self.clock.epoch)
        self.store = store if store is not None else FakeStore()
        self.scheduler = FakeScheduler()
        self.ids = SeqIds()
        self.plans = PlanService(self.store, self.clock, self.ids)
        wecom = WeComClient(WorldTransport(self.world), sleep=lambda s: None)
        self.bus = SignalBus()
        self.engine = SopEngine(self.store, self.plans, self.scheduler, wecom, self.clock, self.ids, signals=self.bus)
        self.silence = SilenceService(self.store, self.engine, self.plans, self.bus, self.clock, self.ids)
        # Every trigger sees the plans as they are now (no cache).
        self.triggers = TriggerService(self.store, self.engine, plan_cache_seconds=0)
        wiring.subscribe(self.bus, sop=self.engine, silence=self.silence, triggers=self.triggers)
        self.tenants = TenantService(self.store, self.clock, self.ids)
        self.tenant = Tenant(TID, "生命周期教育", CORP, "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
        self.store.create_tenant(self.tenant)
        self.store.put_tag_group(
            TID, TagGroup("tg_level", "客户等级", tags=(Tag(VIP, "VIP"), Tag("t_cold0001", "冷淡")))
        )
        self.world.register_corp(CORP)

    def customer(self, n: int, stage: Stage = Stage.NEW) -> Customer:
        ext = f"wmlife{n:026d}"
        self.world.event(CORP, "add_external_contact", userid="zhang", external_userid=ext, State="", now=0)
        at = T0.isoformat()
        c = Customer(
            customer_id=f"c{n:05d}",
            external_userid=ext,
            owner_userid="zhang",
            source_channel_id="ch_x",
            stage=stage,
            added_at=at,
            created_at=at,
            updated_at=at,
            external_userids=(ext,),
            touches=(Attribution("ch_x", "zhang", at, "new"),),
            relations=(Relation("zhang", ext, "active", at),),
            version=1,
        )
        self.store.create_customer(TID, c, StaffDayDelta("zhang", "2026-12-01", {"adds": 1}))
        return c

    def change(self, customer_id: str, **changes: Any) -> None:
        current = self.store.get_customer(TID, customer_id)
        assert current is not None
        self.store.save_customer(
            TID, replace(current, **changes, version=current.version + 1), expected_version=current.version
        )

    def plan(self, name: str, *, publish: bool = True, **over: Any) -> Plan:
        doc: dict[str, Any] = {
            "name": name,
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": f"{name}～"}}],
        }
        doc.update(over)
        plan = self.plans.create(self.tenant, doc)
        return self.plans.publish(self.tenant, plan.plan_id) if publish else plan

    def enroll(self, customer_id: str, plan: Plan) -> Enrollment:
        """The engine's enroll; its ``enrolled`` signal starts the silence timer."""
        enrollment = self.engine.enroll(self.tenant, customer_id, plan.plan_id)
        assert enrollment is not None
        return enrollment

    def signal(self, customer_id: str, signal: Signal) -> list[str]:
        """Publish ``signal`` as a service would; returns the plans whose enrollment it ended."""
        before = {e.enrollment_id for e in self.store.enrollments_of(TID, customer_id) if e.status == EXITED}
        self.bus.publish(self.tenant, customer_id, signal)
        after = self.store.enrollments_of(TID, customer_id)
        return [e.plan_id for e in after if e.status == EXITED and e.enrollment_id not in before]

    def stored_tenant(self) -> Tenant:
        tenant = self.store.get_tenant(TID)
        assert tenant is not None
        return tenant

    def enrollment(self, customer_id: str, plan: Plan) -> Enrollment | None:
        return self.store.get_enrollment(TID, customer_id, plan.plan_id)

    def touches(self, plan: Plan) -> list[Any]:
        """Every touch scheduled for the plan's first step (one per enrollment that reached it)."""
        return [
            t
            for s in self.scheduler.schedules.values()
            if s["payload"]["bucket_id"].startswith(plan.plan_id + ".")
            for t in self.store.touches_in(TID, s["payload"]["bucket_id"], state=None)
        ]

    def at(self, days: float = 0, **more: float) -> None:
        """Move the clock to T0 + the given time."""
        self.clock.current = T0 + timedelta(days=days, **more)


@pytest.fixture
def env() -> Env:
    return Env()


def silent_pair(env: Env, *, days: int = 7, handoff_reentry: str = "always", **over: Any) -> tuple[Plan, Plan]:
    """A nurture plan whose silent customers go to a silent-customer plan (re-entry 'always', so a second
    hand-off would show as a second enrollment and a second touch)."""
    silent = env.plan("沉默唤醒", reentry=handoff_reentry)
    nurture = env.plan("新客7天培育", silence={"days": days, "then_plan_id": silent.plan_id}, **over)
    return nurture, silent


# --- touch rules ----------------------------------------------------------------------------------------------


def test_touch_rules_default_until_set_and_round_trip(env: Env) -> None:
    rules = env.tenants.touch_rules(TID)
    assert rules == {
        "quiet_hours": {"start": "22:00", "end": "08:00"},
        "content_windows": {
            "interactive": {"start": "08:00", "end": "18:00"},
            "marketing": {"start": "18:00", "end": "22:00"},
        },
        "daily_caps": {"marketing": 1},
        "monthly_receive_limit": None,
        "monthly_moment_cap": 4,
    }
    saved = env.tenants.set_touch_rules(
        TID, {"quiet_hours": {"start": "23:00", "end": "07:00"}, "monthly_receive_limit": 4}
    )
    assert saved["quiet_hours"] == {"start": "23:00", "end": "07:00"} and saved["monthly_receive_limit"] == 4
    assert saved["content_windows"] == rules["content_windows"] and saved["daily_caps"] == {"marketing": 1}
    assert env.tenants.touch_rules(TID) == saved
    stored = rules_of(env.stored_tenant())  # what the engine applies
    assert stored.quiet_hours == Window("23:00", "07:00") and stored.monthly_receive_limit == 4
    assert env.tenants.set_touch_rules(TID, {}) == rules  # an empty document restores the defaults
    assert env.stored_tenant().touch_rules == ""


def test_rules_that_never_let_a_type_out_are_refused_naming_it(env: Env) -> None:
    with pytest.raises(InvalidError) as caught:
        env.tenants.set_touch_rules(
            TID,
            {
                "quiet_hours": {"start": "17:00", "end": "23:00"},  # covers the whole marketing window 18–22
                "content_windows": {
                    "marketing": {"start": "18:00", "end": "22:00"},
                    "content": {"start": "09:00", "end": "09:00"},
                },
            },
        )
    details = caught.value.details
    assert [d["path"] for d in details] == ["/content_windows/marketing", "/content_windows/content"]
    assert "marketing" in caught.value.message and "content" in caught.value.message
    assert "marketing" in details[0]["message"] and "17:00" in details[0]["message"]
    assert env.stored_tenant().touch_rules == ""  # nothing stored


def test_the_tenants_quiet_hours_and_windows_move_touches_in_the_engine(env: Env) -> None:
    late = env.plan("晚间互动", steps=[{"id": "s1", "day": 0, "at": "22:30", "content_type": "interactive",
                                         "message": {"text": "今晚的练习做了吗"}}])  # fmt: skip
    night = env.plan("深夜互动", steps=[{"id": "s1", "day": 0, "at": "23:30", "content_type": "interactive",
                                          "message": {"text": "晚安"}}])  # fmt: skip

    def expressions(plan: Plan) -> list[str]:
        return [
            s["expression"]
            for s in env.scheduler.schedules.values()
            if s["payload"]["bucket_id"].startswith(plan.plan_id)
        ]

    env.engine.enroll(env.tenant, env.customer(1).customer_id, late.plan_id)  # the field's defaults
    assert expressions(late) == ["at(2026-12-02T08:00:00)"]  # 22:30 is in quiet hours 22–08: the next morning
    env.tenants.set_touch_rules(
        TID,
        {
            "quiet_hours": {"start": "23:00", "end": "07:00"},
            "content_windows": {"interactive": {"start": "07:00", "end": "23:00"}},
        },
    )
    tenant = env.store.get_tenant(TID)
    assert tenant is not None
    env.engine.enroll(tenant, env.customer(2).customer_id, late.plan_id)
    env.engine.enroll(tenant, env.customer(3).customer_id, night.plan_id)
    assert sorted(expressions(late)) == ["at(2026-12-01T22:30:00)", "at(2026-12-02T08:00:00)"]  # now allowed at 22:30
    assert expressions(night) == ["at(2026-12-02T07:00:00)"]  # 23:30 is in the tenant's quiet hours: to their end


# --- silence --------------------------------------------------------------------------------------------------


def test_seven_silent_days_exit_and_hand_off_once(env: Env) -> None:
    nurture, silent = silent_pair(env)
    c = env.customer(1)
    first = env.enroll(c.customer_id, nurture)
    env.at(days=7, minutes=-1)
    report = env.silence.run_silence(TID)
    assert report.due == 0 and env.enrollment(c.customer_id, nurture) == first  # not yet
    env.at(days=7, minutes=10)
    report = env.silence.run_silence(TID)
    assert (report.due, report.exited, report.handed_off) == (1, 1, 1)
    ended = env.enrollment(c.customer_id, nurture)
    assert ended is not None and (ended.status, ended.exit_reason) == (EXITED, "silence")
    assert ended.ended_at == "2026-12-08T09:10:00+08:00"
    handed = env.enrollment(c.customer_id, silent)
    assert handed is not None and (handed.status, handed.source) == (ACTIVE, "silence")
    assert env.silence.run_silence(TID).due == 0  # the timer is gone: a repeat finds nothing
    env.at(days=8)
    assert env.silence.run_silence(TID).due == 0
    assert env.enrollment(c.customer_id, silent) == handed and len(env.touches(silent)) == 1


def test_concurrent_silence_runs_hand_off_each_customer_once(env: Env) -> None:
    nurture, silent = silent_pair(env)
    customers = [env.customer(n).customer_id for n in range(6)]
    for cid in customers:
        env.enroll(cid, nurture)
    env.at(days=7, hours=1)
    barrier = threading.Barrier(3)
    reports: list[Any] = []

    def run() -> None:
        barrier.wait()
        reports.append(env.silence.run_silence(TID))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reports.append(env.silence.run_silence(TID))  # and once more, late
    assert sum(r.handed_off for r in reports) == 6 and sum(r.exited for r in reports) == 6
    assert sorted(t.customer_id for t in env.touches(silent)) == customers  # one hand-off touch each
    assert all(env.enrollment(cid, silent).source == "silence" for cid in customers)  # type: ignore[union-attr]


def test_a_run_that_dies_before_deleting_the_timer_is_finished_once_after_its_lease(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    nurture, silent = silent_pair(env)
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.at(days=7, minutes=1)

    def die(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("the Lambda timed out")

    monkeypatch.setattr(env.store, "delete_silence_timer", die)
    with pytest.raises(RuntimeError):
        env.silence.run_silence(TID)  # exited and handed off, but the timer stays claimed
    monkeypatch.undo()
    assert env.silence.run_silence(TID).skipped == 1  # within the lease: another run keeps off
    env.clock.advance(minutes=CLAIM_LEASE.total_seconds() / 60 + 1)
    report = env.silence.run_silence(TID)
    assert (report.exited, report.handed_off) == (0, 1)  # finished, without a second enrollment
    assert len(env.touches(silent)) == 1 and env.silence.run_silence(TID).due == 0


def test_activity_on_day_five_moves_the_deadline_to_day_twelve(env: Env) -> None:
    nurture, silent = silent_pair(env)
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.at(days=5)
    env.signal(c.customer_id, Signal("reply", env.clock.now(), kind=None))
    [timer] = env.store.silence_timers_of(TID, c.customer_id)
    assert timer.due == utc_key(T0 + timedelta(days=12))
    env.signal(c.customer_id, Signal("reply", T0 + timedelta(days=2)))  # a late, older event
    assert env.store.silence_timers_of(TID, c.customer_id)[0].due == timer.due  # never moves back
    env.at(days=7, hours=1)
    assert env.silence.run_silence(TID).due == 0
    assert env.enrollment(c.customer_id, nurture).status == ACTIVE  # type: ignore[union-attr]
    env.at(days=12, minutes=-1)
    assert env.silence.run_silence(TID).due == 0
    env.at(days=12)
    assert env.silence.run_silence(TID).handed_off == 1
    assert env.enrollment(c.customer_id, silent) is not None


def test_only_customer_activity_moves_the_timer(env: Env) -> None:
    nurture, _ = silent_pair(env)
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.at(days=3)
    env.signal(c.customer_id, Signal("stage", env.clock.now(), stage="hot"))
    env.signal(c.customer_id, Signal("tag", env.clock.now(), tag_ids=("t_cold0001",)))
    assert env.store.silence_timers_of(TID, c.customer_id)[0].due == utc_key(T0 + timedelta(days=7))
    env.signal(c.customer_id, Signal("checkin", env.clock.now()))
    assert env.store.silence_timers_of(TID, c.customer_id)[0].due == utc_key(T0 + timedelta(days=10))


def test_a_purchase_exit_before_the_deadline_leaves_the_job_nothing_to_do(env: Env) -> None:
    nurture, silent = silent_pair(env, exit=[{"type": "order", "kind": "trial"}])
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.at(days=2)
    assert env.signal(c.customer_id, Signal("order", env.clock.now(), kind="trial")) == [nurture.plan_id]
    env.at(days=10)  # the order was activity too: the timer moved to day 9
    report = env.silence.run_silence(TID)
    assert (report.due, report.exited, report.handed_off, report.stale) == (1, 0, 0, 1)
    ended = env.enrollment(c.customer_id, nurture)
    assert ended is not None and ended.exit_reason == "exit:order:trial"
    assert env.enrollment(c.customer_id, silent) is None
    assert env.store.silence_timers_of(TID, c.customer_id) == []


def test_a_stage_exit_no_touch_has_seen_yet_is_an_exit_not_silence(env: Env) -> None:
    nurture, silent = silent_pair(env, exit=[{"type": "stage", "stage": "converted"}])
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.change(c.customer_id, stage=Stage.CONVERTED)
    env.at(days=8)
    report = env.silence.run_silence(TID)
    assert (report.exited, report.handed_off) == (0, 0)
    assert env.enrollment(c.customer_id, nurture).exit_reason == "exit:stage:converted"  # type: ignore[union-attr]
    assert env.enrollment(c.customer_id, silent) is None


def test_silent_through_the_whole_plan_is_handed_off_when_the_simulator_says(env: Env) -> None:
    nurture, silent = silent_pair(env, days=3)
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.at(hours=1)
    [bucket] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()]
    assert env.engine.fire(TID, bucket).sent == 1
    assert env.enrollment(c.customer_id, nurture).status == COMPLETED  # type: ignore[union-attr]
    preview = simulation.simulate(
        nurture, rules_of(env.tenant), env.tenant.zone, [simulation.SimCustomer("c1", T0)], days=5
    )
    [handoff] = [t for t in preview if t.step_id == simulation.HANDOFF_STEP]
    assert handoff.handoff == silent.plan_id and handoff.reason == "silence"
    env.clock.current = handoff.due_at - timedelta(seconds=1)
    assert env.silence.run_silence(TID).due == 0
    env.clock.current = handoff.due_at
    assert env.silence.run_silence(TID).handed_off == 1  # at the very deadline the preview shows
    assert env.enrollment(c.customer_id, nurture).status == COMPLETED  # type: ignore[union-attr]
    assert env.enrollment(c.customer_id, silent).source == "silence"  # type: ignore[union-attr]


def test_a_lost_customer_exits_for_silence_without_a_hand_off(env: Env) -> None:
    nurture, silent = silent_pair(env)
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.change(c.customer_id, stage=Stage.LOST)
    env.at(days=7)
    report = env.silence.run_silence(TID)
    assert (report.exited, report.handed_off) == (1, 0)
    assert env.enrollment(c.customer_id, silent) is None


def test_a_new_run_of_the_plan_replaces_the_timer_and_a_repeat_start_keeps_it(env: Env) -> None:
    nurture, _ = silent_pair(env, reentry="always")
    c = env.customer(1)
    first = env.enroll(c.customer_id, nurture)
    env.at(days=3)
    env.signal(c.customer_id, Signal("share", env.clock.now()))
    assert not env.silence.on_enrolled(env.tenant, first, nurture)  # a repeat does not reset a moved timer
    assert env.store.silence_timers_of(TID, c.customer_id)[0].due == utc_key(T0 + timedelta(days=10))
    env.at(days=4)
    second = env.enroll(c.customer_id, nurture)  # re-entry "always": a new run
    [timer] = env.store.silence_timers_of(TID, c.customer_id)
    assert (timer.enrollment_id, timer.due) == (second.enrollment_id, utc_key(T0 + timedelta(days=11)))
    assert second.enrollment_id != first.enrollment_id
    env.at(days=10, hours=1)
    assert env.silence.run_silence(TID).due == 0  # the first run's deadline went with its timer


# --- triggers -------------------------------------------------------------------------------------------------


def test_a_tag_added_enrolls_into_its_plans_once(env: Env) -> None:
    vip = env.plan("VIP 专属服务", trigger={"type": "tag", "tag_id": VIP}, priority=5)
    again = env.plan("VIP 复购", trigger={"type": "tag", "tag_id": VIP}, reentry="after_completion")
    env.plan("VIP 草稿", trigger={"type": "tag", "tag_id": VIP}, publish=False)
    env.plan("冷淡唤醒", trigger={"type": "tag", "tag_id": "t_cold0001"})
    excluded = env.plan("非冷淡", trigger={"type": "tag", "tag_id": VIP}, audience={"tags_none": ["t_cold0001"]})
    c = env.customer(1)
    env.change(c.customer_id, tags=frozenset({VIP, "t_cold0001"}))
    assert env.triggers.on_tags_added(env.tenant, c.customer_id, [VIP]) == [vip.plan_id, again.plan_id]
    assert env.enrollment(c.customer_id, vip).source == "tag"  # type: ignore[union-attr]
    assert env.enrollment(c.customer_id, excluded) is None  # its audience says no
    # Added again: "never" and "after_completion" (still active) both keep the one enrollment.
    assert env.triggers.on_tags_added(env.tenant, c.customer_id, [VIP]) == []
    assert len(env.touches(vip)) == 1 and len(env.touches(again)) == 1
    assert env.triggers.on_tags_added(env.tenant, c.customer_id, []) == []


def test_a_stage_entered_enrolls_through_the_engines_signal(env: Env) -> None:
    trial = env.plan("试听转正", trigger={"type": "stage", "stage": "trial"}, silence={"days": 5})
    env.plan("转化后服务", trigger={"type": "stage", "stage": "converted"})
    c = env.customer(1)
    env.signal(c.customer_id, Signal("stage", T0, stage="hot"))
    assert env.store.enrollments_of(TID, c.customer_id) == []
    env.signal(c.customer_id, Signal("stage", T0, stage="trial"))
    [enrollment] = env.store.enrollments_of(TID, c.customer_id)
    assert (enrollment.plan_id, enrollment.source) == (trial.plan_id, "stage")
    [timer] = env.store.silence_timers_of(TID, c.customer_id)  # the trigger path starts the silence timer too
    assert (timer.plan_id, timer.due, timer.then_plan_id) == (trial.plan_id, utc_key(T0 + timedelta(days=5)), None)
    env.signal(c.customer_id, Signal("stage", T0, stage="trial"))
    assert len(env.touches(trial)) == 1


def test_a_silence_hand_off_with_no_target_plan_just_exits(env: Env) -> None:
    nurture = env.plan("无后续", silence={"days": 2})
    c = env.customer(1)
    env.enroll(c.customer_id, nurture)
    env.at(days=2)
    report = env.silence.run_silence(TID)
    assert (report.exited, report.handed_off) == (1, 0)
    assert env.store.enrollments_of(TID, c.customer_id)[0].exit_reason == "silence"


# --- wiring ---------------------------------------------------------------------------------------------------


def test_business_events_reach_the_lifecycle_through_the_wired_services() -> None:
    """bootstrap.build's services: a signed inbound message moves the silence timer; a trial order (stage → trial)
    enrolls into the trial-triggered plan. (Fakes only: the DynamoDB suite covers the same storage paths.)"""
    env = make_env(FakeStore())
    svc, tenant = env.svc, env.tenant
    svc.triggers.plan_cache_seconds = 0
    _, intake = env.scan(make_channel(env).state)
    cid = intake.customer_id
    steps = [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}]
    nurture = svc.plans.create(
        tenant, {"name": "培育", "trigger": {"type": "manual"}, "steps": steps, "silence": {"days": 7}}
    )
    trial = svc.plans.create(tenant, {"name": "试听", "trigger": {"type": "stage", "stage": "trial"}, "steps": steps})
    for plan in (nurture, trial):
        svc.plans.publish(tenant, plan.plan_id)
    assert svc.sop.enroll(tenant, cid, nurture.plan_id) is not None  # its "enrolled" signal starts the timer
    secret = env.store.get_tenant("unit").events_secret
    env.clock.advance(days=2)
    now = env.clock.now()

    def post(body: dict[str, Any]) -> None:
        raw = json.dumps({**body, "customer_id": cid, "occurred_at": now.isoformat()}, ensure_ascii=False).encode()
        stamp = str(int(env.clock.epoch()))
        svc.events.receive("unit", timestamp=stamp, signature=sign(secret, stamp, raw), body=raw)

    post({"event_id": "m1", "type": "message", "text": "收到，谢谢老师"})
    assert env.store.silence_timers_of("unit", cid)[0].due == utc_key(now + timedelta(days=7))
    assert env.store.get_enrollment("unit", cid, trial.plan_id) is None
    post({"event_id": "o1", "type": "order", "kind": "trial", "amount": 9.9, "product": "体验课"})
    joined = env.store.get_enrollment("unit", cid, trial.plan_id)
    assert joined is not None and joined.source == "stage"


def test_a_run_past_its_time_budget_leaves_the_rest_due_for_the_next(env: Env) -> None:
    nurture, silent = silent_pair(env)
    for n in range(3):
        env.enroll(env.customer(n).customer_id, nurture)
    env.at(days=7, hours=1)
    ticks = itertools.chain([0.0], itertools.repeat(5.0))  # the budget runs out after the first timer
    env.silence.monotonic = lambda: next(ticks)
    report = env.silence.run_silence(TID, deadline=1.0)
    assert (report.due, report.handed_off, report.deferred) == (3, 1, 2)
    env.silence.monotonic = lambda: 0.0
    report = env.silence.run_silence(TID, deadline=1.0)
    assert (report.due, report.handed_off, report.deferred) == (2, 2, 0)
    assert len(env.touches(silent)) == 3


def test_the_silence_job_runs_every_tenant_every_fifteen_minutes() -> None:
    import app

    [source] = [s for s in app.app.event_sources if getattr(s, "name", None) == "silence"]
    rate = source.schedule_expression  # type: ignore[attr-defined]
    assert (rate.value, rate.unit) == (15, "MINUTES") and source.handler_string == "app.silence"
    env = make_env(FakeStore())
    svc, tenant = env.svc, env.tenant
    steps = [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}]
    doc = {"name": "培育", "trigger": {"type": "manual"}, "steps": steps, "silence": {"days": 1}}
    nurture = svc.plans.publish(tenant, svc.plans.create(tenant, doc).plan_id)
    _, intake = env.scan(make_channel(env).state)
    assert svc.sop.enroll(tenant, intake.customer_id, nurture.plan_id) is not None  # "enrolled" starts the timer
    env.clock.advance(days=1)
    bootstrap.override(svc)
    try:
        totals = silence_jobs.silence()
        again = silence_jobs.silence()
    finally:
        bootstrap.override(None)
    assert (totals["due"], totals["exited"], again["due"]) == (1, 1, 0)
    assert env.store.get_enrollment("unit", intake.customer_id, nurture.plan_id).exit_reason == "silence"
