"""The SOP engine on fakes: buckets, one task per executor, effectively-once fires, backstop, crash reconciliation."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.customers import Attribution, Customer, Relation, Stage
from chalicelib.domain.facts import StaffDayDelta
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import ExitRule, Lateness, Plan, PlanStatus, Step, Trigger
from chalicelib.domain.sop import ACTIVE, EXITED, SENT, SKIPPED, Enrollment, Subject, chunks
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.ports import Signal, WeComCredentials
from chalicelib.services.sop import SopEngine
from chalicelib.services.staff_tasks import StaffTaskService
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.store import FakeStore

CORP = "wwsop000000000001"
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


class Plans:
    def __init__(self) -> None:
        self.plans: dict[tuple[str, int], Plan] = {}

    def add(self, plan: Plan) -> Plan:
        self.plans[(plan.plan_id, plan.version)] = plan
        return plan

    def current_plan(self, tenant_id: str, plan_id: str) -> Plan | None:
        versions = [p for (pid, _), p in self.plans.items() if pid == plan_id]
        return max(versions, key=lambda p: p.version) if versions else None

    def plan_version(self, tenant_id: str, plan_id: str, version: int) -> Plan | None:
        return self.plans.get((plan_id, version))

    def published_versions(self, tenant_id: str) -> list[Plan]:
        """Every version of every published plan, carrying the plan-wide status (as PlanService reads them)."""
        current = {pid: self.current_plan(tenant_id, pid) for pid, _ in self.plans}
        return [
            replace(p, status=cur.status)
            for (pid, _), p in self.plans.items()
            if (cur := current[pid]) is not None and cur.status == PlanStatus.PUBLISHED
        ]


class CrashAfterSend(WeComClient):
    """A WeCom client whose process 'dies' right after WeCom accepted add_msg_template."""

    crash = False

    def add_msg_template(self, *args: Any, **kwargs: Any) -> Any:
        result = super().add_msg_template(*args, **kwargs)
        if self.crash:
            raise RuntimeError("lambda died after the WeCom call")
        return result


class Env:
    def __init__(self, store: Any = None) -> None:
        self.clock = FixedClock(T0)
        self.world = WeComWorld(clock=self.clock.epoch)
        self.store = store if store is not None else FakeStore()
        self.scheduler = FakeScheduler()
        self.plans = Plans()
        self.wecom = CrashAfterSend(WorldTransport(self.world), sleep=lambda s: None)
        self.engine = SopEngine(self.store, self.plans, self.scheduler, self.wecom, self.clock, SeqIds())
        self.staff_tasks = StaffTaskService(self.store, self.clock)
        self.tenant = Tenant("sop", "SOP 教育", CORP, "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
        self.store.create_tenant(self.tenant)
        self.world.register_corp(CORP)

    def customer(self, n: int, owner: str = "zhang", stage: Stage = Stage.NEW) -> Customer:
        ext = f"wmsop{n:027d}"
        self.world.event(
            CORP, "add_external_contact", userid=owner, external_userid=ext, State="", now=self.clock.epoch()
        )
        at = T0.isoformat()
        c = Customer(
            customer_id=f"c{n:05d}",
            external_userid=ext,
            owner_userid=owner,
            source_channel_id="ch_x",
            stage=stage,
            added_at=at,
            created_at=at,
            updated_at=at,
            external_userids=(ext,),
            touches=(Attribution("ch_x", owner, at, "new"),),
            relations=(Relation(owner, ext, "active", at),),
            version=1,
        )
        self.store.create_customer("sop", c, StaffDayDelta(owner, "2026-12-01", {"adds": 1}))
        return c

    def change(self, c: Customer, **changes: Any) -> None:
        """Change a customer as another service would (a versioned save)."""
        current = self.store.get_customer("sop", c.customer_id)
        assert current is not None
        self.store.save_customer(
            "sop", replace(current, **changes, version=current.version + 1), expected_version=current.version
        )

    def fire_due(self) -> list[Any]:
        return [
            self.engine.fire("sop", name_payload["payload"]["bucket_id"])
            for name_payload in list(self.scheduler.schedules.values())
        ]

    def add_calls(self) -> list[Any]:
        return self.world.calls("externalcontact/add_msg_template")


def plan(steps: list[Step], **kw: Any) -> Plan:
    base: dict[str, Any] = dict(
        plan_id="pl_new7",
        version=1,
        name="新客7天培育",
        status=PlanStatus.PUBLISHED,
        trigger=Trigger("manual"),
        steps=tuple(steps),
    )
    base.update(kw)
    return Plan(**base)


def step(sid: str, **kw: Any) -> Step:
    base: dict[str, Any] = dict(id=sid, content_type="service", message=Message(text=f"{sid} 的内容"))
    base.update(kw)
    return Step(**base)


@pytest.fixture
def env() -> Env:
    return Env()


def test_one_schedule_per_bucket_and_one_task_per_executor(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=30), step("s2", day=1, at="10:00", content_type="interactive")]))
    owners = ["zhang", "li", "zhang", "li", "zhang"]
    for n, owner in enumerate(owners):
        assert env.engine.enroll(env.tenant, env.customer(n, owner).customer_id, "pl_new7") is not None
    assert env.scheduler.calls == 1 and len(env.scheduler.schedules) == 1  # five touches, one bucket
    [sched] = env.scheduler.schedules.values()
    assert sched["expression"] == "at(2026-12-01T09:30:00)" and sched["timezone"] == "Asia/Shanghai"
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert report.sent == 5 and report.tasks == 2
    calls = env.add_calls()
    assert sorted(c.payload["sender"] for c in calls) == ["li", "zhang"]
    assert sorted(len(c.payload["external_userid"]) for c in calls) == [2, 3]
    # The next step went into one new bucket (day 1 at 10:00) with one schedule.
    assert env.scheduler.calls == 2
    tasks = env.store.list_tasks("sop", userid=None, status="created", due_from=None, due_to=None, limit=10)
    assert len(tasks) == 2 and all(t.msgid for t in tasks) and tasks[0].notes == ""


def test_a_repeated_or_concurrent_fire_has_one_effect(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=30)]))
    for n in range(20):
        env.engine.enroll(env.tenant, env.customer(n, "zhang" if n % 2 else "li").customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    [bucket_id] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()]
    barrier = threading.Barrier(3)

    def fire() -> None:
        barrier.wait()
        env.engine.fire("sop", bucket_id)

    threads = [threading.Thread(target=fire) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    env.engine.fire("sop", bucket_id)  # and once more, late
    recipients = [u for c in env.add_calls() for u in c.payload["external_userid"]]
    assert len(recipients) == 20 and len(set(recipients)) == 20  # every customer in exactly one task
    # The stored tasks say the same: each customer in exactly one task that was sent, none in an empty one.
    stored = env.store.list_tasks("sop", userid=None, status=None, due_from=None, due_to=None, limit=50)
    carried = [cid for t in stored if t.status == "created" for cid in t.customer_ids]
    assert len(carried) == 20 and len(set(carried)) == 20
    assert all(t.customer_ids == () for t in stored if t.status == "empty")
    assert {t.state for t in env.store.touches_in("sop", bucket_id, state=None)} == {SENT}
    enrollments = [env.store.get_enrollment("sop", f"c{n:05d}", "pl_new7") for n in range(20)]
    assert {e.status for e in enrollments if e} == {"completed"}


def test_lost_schedule_is_fired_by_the_backstop(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=10)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.scheduler.schedules.clear()  # the schedule never fired (lost)
    env.clock.advance(minutes=16)
    reports = env.engine.backstop("sop")
    assert [r.sent for r in reports] == [1]
    assert env.engine.backstop("sop") == []  # drained: nothing left open


def test_exit_on_purchase_between_scheduling_and_firing(env: Env) -> None:
    env.plans.add(
        plan([step("s1", after_minutes=30), step("s2", after_minutes=60)], exits=(ExitRule("order", kind="trial"),))
    )
    buyer, other = env.customer(1), env.customer(2)
    for c in (buyer, other):
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    env.change(buyer, stage=Stage.TRIAL)
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert report.sent == 1 and report.skipped == 1 and report.reasons == {"exit:order:trial": 1}
    exited = env.store.get_enrollment("sop", buyer.customer_id, "pl_new7")
    assert exited is not None and exited.status == EXITED
    [call] = env.add_calls()
    assert call.payload["external_userid"] == [other.external_userid]


def test_signal_exits_and_negative_reply(env: Env) -> None:
    env.plans.add(
        plan([step("s1", after_minutes=30)], exits=(ExitRule("order", kind="trial"), ExitRule("negative_reply")))
    )
    a, b = env.customer(1), env.customer(2)
    for c in (a, b):
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    # A full order meets a trial exit (a full buyer is past the trial: issue 8 §2, as the simulator says); the
    # trial order after it finds nothing left to end.
    assert env.engine.on_signal("sop", a.customer_id, Signal("order", T0, kind="full")) == ["pl_new7"]
    assert env.engine.on_signal("sop", a.customer_id, Signal("order", T0, kind="trial")) == []
    assert env.engine.on_signal("sop", b.customer_id, Signal("reply", T0, kind="negative")) == ["pl_new7"]
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert report.sent == 0 and report.skipped == 2 and env.add_calls() == []


def test_paused_plan_skips_and_reentry_policy_holds(env: Env) -> None:
    p = env.plans.add(plan([step("s1", after_minutes=30)]))
    c = env.customer(1)
    assert env.engine.enroll(env.tenant, c.customer_id, "pl_new7") is not None
    assert env.engine.enroll(env.tenant, c.customer_id, "pl_new7") is None  # reentry never
    env.plans.add(replace(p, status=PlanStatus.PAUSED))
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert report.reasons == {"plan_paused": 1}


def test_cap_with_two_plans_competing(env: Env) -> None:
    marketing = dict(content_type="marketing", day=0, at="19:00")
    env.plans.add(plan([step("m1", **marketing)], plan_id="pl_a", priority=10))
    env.plans.add(plan([step("m1", **marketing, on_cap="drop")], plan_id="pl_b", priority=1))
    env.plans.add(plan([step("m1", **marketing)], plan_id="pl_c", priority=1))
    c = env.customer(1)
    for pid in ("pl_a", "pl_b", "pl_c"):
        env.engine.enroll(env.tenant, c.customer_id, pid)
    env.clock.advance(hours=10)  # 19:00 Shanghai
    reports = {r.bucket_id.split(".")[0]: r for r in env.fire_due()}
    assert reports["pl_a"].sent == 1
    assert reports["pl_b"].dropped == 1 and reports["pl_b"].reasons == {"cap": 1}
    assert reports["pl_c"].moved == 1 and reports["pl_c"].reasons == {"moved:cap": 1}
    deferred = env.store.touches_in("sop", "pl_c.1.m1.202612021000")
    assert [t.due_at for t in deferred] == ["2026-12-02T18:00:00+08:00"]  # next day, first marketing minute


def test_late_touch_follows_its_lateness_policy(env: Env) -> None:
    env.plans.add(
        plan(
            [
                step("s1", after_minutes=30, lateness=Lateness(max_minutes=60, then="skip")),
                step("s2", after_minutes=600),
            ]
        )
    )
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(hours=3)
    [report] = [env.engine.fire("sop", s["payload"]["bucket_id"]) for s in list(env.scheduler.schedules.values())[:1]]
    assert report.skipped == 1 and report.reasons == {"lateness": 1}
    assert env.store.get_enrollment("sop", "c00001", "pl_new7").status == ACTIVE  # type: ignore[union-attr]
    assert env.scheduler.calls == 2  # the next step is scheduled all the same


def test_crash_after_the_wecom_call_is_reconciled_without_a_second_task(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=30)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.wecom.crash = True
    with pytest.raises(RuntimeError):
        env.fire_due()
    env.wecom.crash = False
    [task] = env.store.list_tasks("sop", userid=None, status="claimed", due_from=None, due_to=None, limit=5)
    env.clock.advance(minutes=1)
    assert env.engine.reconcile("sop") == 0  # too early: it may still be in flight
    env.clock.advance(minutes=2)
    assert env.engine.reconcile("sop") == 1
    assert len(env.add_calls()) == 1  # adopted, not sent twice
    settled = env.store.get_task("sop", task.task_id)
    assert settled is not None and settled.status == "created" and settled.msgid
    listed = env.wecom.get_groupmsg_list(
        WeComCredentials("sop", CORP, "sec"),
        start_time=int(env.clock.epoch()) - 3600,
        end_time=int(env.clock.epoch()) + 60,
    )
    assert [m["msgid"] for m in listed["group_msg_list"]] == [settled.msgid]


def test_crash_before_the_wecom_call_is_sent_by_reconciliation(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=30)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    delivery = env.engine.kernel.delivery
    original = delivery.deliver
    delivery.deliver = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("died before calling WeCom"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        env.fire_due()
    delivery.deliver = original  # type: ignore[method-assign]
    env.clock.advance(minutes=3)
    assert env.engine.reconcile("sop") == 1
    assert len(env.add_calls()) == 1
    assert env.store.list_tasks("sop", userid=None, status="created", due_from=None, due_to=None, limit=5)


def test_recipients_split_above_the_wecom_limit() -> None:
    assert [len(c) for c in chunks([str(i) for i in range(25_001)])] == [10_000, 10_000, 5_001]
    assert chunks([]) == [[]]


def test_erased_or_lost_customers_are_skipped(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=30)]))
    gone, lost = env.customer(1), env.customer(2)
    for c in (gone, lost):
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    env.store.erase_customer("sop", gone.customer_id, tombstones=[])
    env.change(lost, stage=Stage.LOST)
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert report.reasons == {"customer_erased": 1, "customer_lost": 1} and env.add_calls() == []
    assert {t.state for t in env.store.touches_in("sop", report.bucket_id, state=None)} == {SKIPPED}


def test_follow_up_tasks_are_created_once(env: Env) -> None:
    due = T0 + timedelta(minutes=15)
    ids = {
        env.staff_tasks.follow_up(
            "sop",
            customer_id="c1",
            owner_userid="zhang",
            reason="positive_reply",
            text="多少钱",
            due=due,
            dedupe_key="ev1",
        )
        for _ in range(3)
    }
    assert len(ids) == 1
    [task] = env.staff_tasks.tasks("sop", userid="zhang", status=None, due_from=None, due_to=None, limit=10)
    assert task.kind == "follow_up" and task.reason == "positive_reply"
    confirmed = env.staff_tasks.confirm("sop", task.task_id, userid="zhang", proof_url="https://img.example/1.png")
    assert confirmed.status == "confirmed" and confirmed.proof_url
    with pytest.raises(NotFoundError):  # another staff member's task does not exist for them
        env.staff_tasks.confirm("sop", task.task_id, userid="li", proof_url=None)


def test_an_early_fire_keeps_the_bucket_for_the_backstop(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=120)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    [report] = env.fire_due()  # an hour and more too early (a misfire)
    assert report.sent == 0 and env.add_calls() == []
    env.clock.advance(minutes=119)
    assert env.engine.backstop("sop") == []  # not due yet: the bucket waits
    env.clock.advance(minutes=2)
    assert [r.sent for r in env.engine.backstop("sop")] == [1]


def test_the_wecom_monthly_receive_limit_holds_across_plans(env: Env) -> None:
    from chalicelib.domain.plans import TouchRules
    from chalicelib.domain.touch_rules import rules_text

    env.tenant = replace(env.tenant, touch_rules=rules_text(TouchRules(monthly_receive_limit=2)))
    env.store.put_tenant(env.tenant)
    service = dict(content_type="service", after_minutes=30)
    for pid in ("pl_a", "pl_b", "pl_c"):
        env.plans.add(plan([step("s1", **service, on_cap="drop")], plan_id=pid))
    c = env.customer(1)
    for pid in ("pl_a", "pl_b", "pl_c"):
        env.engine.enroll(env.tenant, c.customer_id, pid)
    env.clock.advance(minutes=30)
    reports = sorted(env.fire_due(), key=lambda r: r.bucket_id)
    assert [r.sent for r in reports] == [1, 1, 0]
    assert reports[2].dropped == 1 and reports[2].reasons == {"monthly_limit": 1}


def test_higher_priority_wins_the_daily_cap_even_when_it_fires_later(env: Env) -> None:
    env.plans.add(plan([step("m1", content_type="marketing", day=0, at="18:30")], plan_id="pl_low", priority=1))
    env.plans.add(plan([step("m1", content_type="marketing", day=0, at="20:00")], plan_id="pl_high", priority=9))
    c = env.customer(1)
    for pid in ("pl_low", "pl_high"):
        env.engine.enroll(env.tenant, c.customer_id, pid)
    env.clock.current = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)  # 18:30 Shanghai: the low plan's touch is due
    [low] = [
        env.engine.fire("sop", s["payload"]["bucket_id"])
        for s in list(env.scheduler.schedules.values())
        if s["payload"]["bucket_id"].startswith("pl_low")
    ]
    assert low.sent == 0 and low.moved == 1 and low.reasons == {"moved:cap": 1}  # yields to the higher plan
    env.clock.current = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 20:00: the high plan's touch
    [high] = [
        env.engine.fire("sop", s["payload"]["bucket_id"])
        for s in list(env.scheduler.schedules.values())
        if s["payload"]["bucket_id"].startswith("pl_high")
    ]
    assert high.sent == 1


# --- implied next touches: a sent touch names the next one; it is written only when its bucket fires -------------


class WriteLog:
    """Counts calls of the store's methods (by default its per-touch writes); works on the fake and DynamoStore."""

    WRITES = ("add_touch", "move_touch", "take_quota", "end_enrollment", "feed_bucket", "register_bucket")

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...] = WRITES) -> None:
        self.names = names
        self.calls: dict[str, int] = dict.fromkeys(names, 0)
        for name in names:
            original = getattr(store, name)

            def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                self.calls[_name] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(store, name, counted)

    def reset(self) -> None:
        self.calls = dict.fromkeys(self.names, 0)


def _three_steps(env: Env) -> Plan:
    return env.plans.add(
        plan(
            [
                step("s1", after_minutes=30),
                step("s2", after_minutes=90, content_type="interactive"),
                step("s3", after_minutes=150),
            ]
        )
    )


def test_a_sent_touch_implies_the_next_one_at_no_extra_write(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _three_steps(env)
    for n, owner in enumerate(["zhang", "li", "zhang"]):
        env.engine.enroll(env.tenant, env.customer(n, owner).customer_id, "pl_new7")
    log = WriteLog(env.store, monkeypatch)
    env.clock.advance(minutes=30)
    [first] = env.fire_due()
    assert first.sent == 3
    # Per sent touch: the claim and the quota. Queuing the next step is no write of its own: one registration
    # and one feeder record for the next bucket, whatever the number of touches.
    assert log.calls == {
        "add_touch": 0,
        "move_touch": 3,
        "take_quota": 3,
        "end_enrollment": 0,
        "feed_bucket": 1,
        "register_bucket": 1,
    }
    s2_bucket = "pl_new7.1.s2.202612010230"  # 09:00 + 90 minutes in Shanghai, as a UTC minute
    queued = env.store.touches_in("sop", s2_bucket)
    assert [(t.customer_id, t.step_id, t.occurrence, t.due_at) for t in queued] == [
        (f"c{n:05d}", "s2", 0, "2026-12-01T10:30:00+08:00") for n in range(3)
    ]
    log.reset()
    env.clock.advance(minutes=60)
    second = env.engine.fire("sop", s2_bucket)
    assert (second.sent, second.tasks) == (3, 2)
    assert log.calls["add_touch"] == 0 and log.calls["move_touch"] == 3
    assert env.engine.fire("sop", s2_bucket).sent == 0  # a repeat fire finds nothing scheduled
    written = env.store.touches_in("sop", s2_bucket, state=None)
    assert len(written) == 3 and {t.state for t in written} == {SENT}  # written once each, no implied copies
    env.clock.advance(minutes=60)
    log.reset()
    last = env.engine.fire("sop", "pl_new7.1.s3.202612010330")
    assert last.sent == 3 and log.calls["end_enrollment"] == 3  # the last step implies nothing: enrollments end
    ended = [env.store.get_enrollment("sop", f"c{n:05d}", "pl_new7") for n in range(3)]
    assert {e.status for e in ended if e} == {"completed"} and all(ended)
    texts = [c.payload["text"]["content"] for c in env.add_calls() if c.errcode == 0]  # not the token retries
    assert sorted(texts) == sorted(["s1 的内容"] * 2 + ["s2 的内容"] * 2 + ["s3 的内容"] * 2)


def test_an_implied_touch_is_revalidated_when_it_fires(env: Env) -> None:
    env.plans.add(
        plan([step("s1", after_minutes=30), step("s2", after_minutes=90)], exits=(ExitRule("order", kind="trial"),))
    )
    buyer, other = env.customer(1), env.customer(2)
    for c in (buyer, other):
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.fire_due()
    env.change(buyer, stage=Stage.TRIAL)  # bought between the two steps
    env.clock.advance(minutes=60)
    report = env.engine.fire("sop", "pl_new7.1.s2.202612010230")
    assert report.sent == 1 and report.reasons == {"exit:order:trial": 1}
    [skipped] = env.store.touches_in("sop", report.bucket_id, state=SKIPPED)
    assert skipped.customer_id == buyer.customer_id and skipped.reason == "exit:order:trial"
    exited = env.store.get_enrollment("sop", buyer.customer_id, "pl_new7")
    assert exited is not None and exited.status == EXITED


def test_a_crash_after_readying_the_next_bucket_but_before_the_claims_loses_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_steps(env)
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    with monkeypatch.context() as patch:
        patch.setattr(env.store, "create_task", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("died")))
        with pytest.raises(RuntimeError):
            env.fire_due()
    s2_bucket = "pl_new7.1.s2.202612010230"
    assert env.store.touches_in("sop", s2_bucket) == []  # fed, but no claim names a touch there yet
    [s1] = env.store.touches_in("sop", "pl_new7.1.s1.202612010130")  # still scheduled: the backstop fires it
    assert s1.customer_id == "c00001"
    env.clock.advance(minutes=6)
    assert [r.sent for r in env.engine.backstop("sop")] == [1]
    assert [t.customer_id for t in env.store.touches_in("sop", s2_bucket)] == ["c00001"]
    assert len([c for c in env.add_calls() if c.errcode == 0]) == 1


def test_a_late_joiner_fired_after_the_next_bucket_drained_still_gets_the_next_step(env: Env) -> None:
    plan_ = env.plans.add(plan([step("s1", after_minutes=10), step("s2", after_minutes=20)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    late = env.customer(2)
    env.clock.advance(minutes=10)
    env.fire_due()
    env.clock.advance(minutes=10)
    assert env.engine.fire("sop", "pl_new7.1.s2.202612010120").sent == 1  # s2 fired and drained
    # A touch lands in s1's bucket after both fired (the backstop's "joined a bucket after it fired").
    joined = Enrollment(
        Subject.customer(late.customer_id), "pl_new7", 1, "en_late", T0.astimezone(env.tenant.zone).isoformat()
    )
    assert env.store.put_enrollment("sop", joined, reentry="never")
    env.engine.kernel.schedule(env.tenant, plan_, joined, plan_.steps[0], occurrence=0)
    env.engine.kernel.fire_inline()
    senders = [
        (c.payload["text"]["content"], tuple(c.payload["external_userid"])) for c in env.add_calls() if c.errcode == 0
    ]
    ext = {c: f"wmsop{n:027d}" for n, c in ((1, "c00001"), (2, "c00002"))}
    assert sorted(senders) == sorted(
        [
            ("s1 的内容", (ext["c00001"],)),
            ("s2 的内容", (ext["c00001"],)),
            ("s1 的内容", (ext["c00002"],)),
            ("s2 的内容", (ext["c00002"],)),
        ]
    )
    done = env.store.get_enrollment("sop", late.customer_id, "pl_new7")
    assert done is not None and done.status == "completed"


def test_the_fire_reads_customers_and_enrollments_a_page_at_a_time(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.plans.add(plan([step("s1", after_minutes=30)]))
    owners = ["zhang", "li"]
    for n in range(250):
        env.engine.enroll(env.tenant, env.customer(n, owners[n % 2]).customer_id, "pl_new7")
    reads = WriteLog(env.store, monkeypatch, ("get_customer", "get_enrollment", "get_customers", "get_enrollments"))
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert (report.sent, report.tasks) == (250, 2)
    # Two pages (200 + 50): one batched read of each kind per page, no single reads per touch.
    assert reads.calls == {"get_customer": 0, "get_enrollment": 0, "get_customers": 2, "get_enrollments": 2}


def test_a_task_whose_touches_another_fire_took_carries_only_its_own(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.plans.add(plan([step("s1", after_minutes=30)]))
    for n in range(3):
        env.engine.enroll(env.tenant, env.customer(n).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    claim = env.store.move_touch
    taken: list[str] = []

    def raced(tenant_id: str, touch: Any, **kwargs: Any) -> bool:
        if kwargs.get("to_state") == SENT and not taken:  # another fire claimed the first one just before us
            taken.append(touch.customer_id)
            claim(tenant_id, touch, **{**kwargs, "task_id": "tk_other"})
            return False
        return bool(claim(tenant_id, touch, **kwargs))

    monkeypatch.setattr(env.store, "move_touch", raced)
    [report] = env.fire_due()
    assert report.sent == 2 and taken == ["c00000"]
    [task] = env.store.list_tasks("sop", userid=None, status="created", due_from=None, due_to=None, limit=5)
    assert task.customer_ids == ("c00001", "c00002")
    fetched = env.store.get_task("sop", task.task_id)
    assert fetched is not None and fetched.customer_ids == ("c00001", "c00002")
    [call] = [c for c in env.add_calls() if c.errcode == 0]
    assert len(call.payload["external_userid"]) == 2
