"""The signal bus and what the services tell it: publishers name what happened, the bus reaches each subscriber of
that type in order, and a subscriber's failure stays with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.signals import (
    ADDED,
    ENROLLED,
    EXITED,
    LOST,
    ORDER,
    STAGE,
    TAG,
    TASK_CONFIRMED,
    TOUCH_SENT,
    TOUCH_SKIPPED,
    TYPES,
    Signal,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import UpstreamError
from chalicelib.services.signals import SignalBus
from tests.fakes.store import FakeStore
from tests.unit.conftest import Env, make_channel, make_env

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class Heard:
    """A subscriber that writes down every signal it hears."""

    signals: list[tuple[str, str, Signal]] = field(default_factory=list)

    def __call__(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
        self.signals.append((tenant.tenant_id, subject_id, signal))

    def of(self, kind: str) -> list[tuple[str, Signal]]:
        return [(subject, s) for _, subject, s in self.signals if s.type == kind]


def _listening(env: Env, *types: str) -> Heard:
    heard = Heard()
    env.svc.signals.subscribe(types, "test", heard)
    return heard


def test_subscribers_hear_their_types_in_subscription_order(env: Env) -> None:
    bus, order = SignalBus(), []
    bus.subscribe((ORDER,), "first", lambda t, s, sig: order.append(("first", sig.type)))
    bus.subscribe((ORDER, TAG), "second", lambda t, s, sig: order.append(("second", sig.type)))
    bus.publish(env.tenant, "c1", Signal(ORDER, AT, kind="trial"))
    bus.publish(env.tenant, "c1", Signal(TAG, AT, tag_ids=("t1",)))
    bus.publish(env.tenant, "c1", Signal(STAGE, AT, stage="hot"))  # nobody listens: nothing happens
    assert order == [("first", ORDER), ("second", ORDER), ("second", TAG)]
    assert bus.subscribers(ORDER) == ["first", "second"] and bus.subscribers(STAGE) == []


def test_a_failing_subscriber_does_not_keep_the_others_from_hearing(env: Env) -> None:
    bus, heard = SignalBus(), Heard()

    def failing(tenant: Tenant, subject_id: str, signal: Signal) -> None:
        raise UpstreamError("WeCom is down")

    bus.subscribe((ORDER,), "failing", failing)
    bus.subscribe((ORDER,), "heard", heard)
    bus.publish(env.tenant, "c1", Signal(ORDER, AT))
    assert len(heard.of(ORDER)) == 1


def test_a_bug_in_a_subscriber_is_not_swallowed(env: Env) -> None:
    bus = SignalBus()
    bus.subscribe((ORDER,), "buggy", lambda t, s, sig: [][1])
    with pytest.raises(IndexError):
        bus.publish(env.tenant, "c1", Signal(ORDER, AT))


def test_an_unknown_signal_type_cannot_be_subscribed() -> None:
    with pytest.raises(ValueError, match="unknown signal type"):
        SignalBus().subscribe(("ordered",), "typo", lambda t, s, sig: None)
    assert {ADDED, LOST, TAG, STAGE, ENROLLED, TASK_CONFIRMED} <= TYPES


def test_intake_tells_added_with_its_channel_and_tags_and_then_lost() -> None:
    env = make_env(FakeStore())
    heard = _listening(env, ADDED, TAG, LOST)
    ch = make_channel(env)
    fields, created = env.scan(ch.state)
    cid = created.customer_id
    [(subject, added)] = heard.of(ADDED)
    assert (subject, added.kind, added.channel_id) == (cid, "new", ch.channel_id)
    [(_, tagged)] = heard.of(TAG)
    assert tagged.tag_ids == tuple(t.tag_id for t in ch.tags) and tagged.tag_ids
    env.deliver(fields)  # WeCom's retry of the same callback: a duplicate tells nobody
    assert len(heard.of(ADDED)) == 1
    env.clock.advance(hours=1)
    env.event("del_follow_user", userid="zhang", external_userid=fields["ExternalUserID"])
    assert [(s, sig.kind) for s, sig in heard.of(LOST)] == [(cid, "lost")]
    env.clock.advance(hours=1)
    env.scan(make_channel(env, name="B站视频", source="bilibili").state, external_userid=fields["ExternalUserID"])
    assert [(s, sig.kind) for s, sig in heard.of(ADDED)] == [(cid, "new"), (cid, "readd")]


def test_an_enrollment_tells_enrolled_and_the_nurturing_stage(env: Env) -> None:
    heard = _listening(env, ENROLLED, STAGE)
    _, created = env.scan(make_channel(env).state)
    steps = [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}]
    plan = env.svc.plans.create(env.tenant, {"name": "培育", "trigger": {"type": "manual"}, "steps": steps})
    env.svc.plans.publish(env.tenant, plan.plan_id)
    enrollment = env.svc.sop.enroll(env.tenant, created.customer_id, plan.plan_id)
    [(_, enrolled)] = heard.of(ENROLLED)
    assert enrolled.enrollment == enrollment and enrolled.plan.plan_id == plan.plan_id
    assert [(s, sig.stage) for s, sig in heard.of(STAGE)] == [(created.customer_id, "nurturing")]


def test_a_confirmed_task_is_told_once(env: Env) -> None:
    heard = _listening(env, TASK_CONFIRMED)
    _, created = env.scan(make_channel(env).state)
    task_id = env.svc.staff_tasks.follow_up(
        "unit",
        customer_id=created.customer_id,
        owner_userid="zhang",
        reason="positive_reply",
        text="",
        due=env.clock.now(),
        dedupe_key="d1",
    )
    env.svc.staff_tasks.confirm("unit", task_id, userid="zhang", proof_url=None)
    env.svc.staff_tasks.confirm("unit", task_id, userid="zhang", proof_url=None)
    assert [(s, sig.kind) for s, sig in heard.of(TASK_CONFIRMED)] == [("zhang", task_id)]


def _plan(env: Env, after_minutes: int, **over: Any) -> Any:
    steps = [{"id": "s1", "after_minutes": after_minutes, "content_type": "service", "message": {"text": "你好"}}]
    doc = {"name": f"培育{after_minutes}", "trigger": {"type": "manual"}, "steps": steps, **over}
    plan = env.svc.plans.create(env.tenant, doc)
    return env.svc.plans.publish(env.tenant, plan.plan_id)


def test_the_kernel_tells_each_touch_sent_or_skipped_and_each_exit(env: Env) -> None:
    heard = _listening(env, TOUCH_SENT, TOUCH_SKIPPED, EXITED)
    now_plan = _plan(env, 0)
    later_plan = _plan(env, 60, exit=[{"type": "order", "kind": "trial"}])
    ch = make_channel(env)
    first = env.scan(ch.state)[1].customer_id
    fields, second = env.scan(ch.state)
    env.svc.sop.enroll(env.tenant, first, now_plan.plan_id)  # due now: fired before enroll returns
    assert [(s, sig.kind, sig.plan_id) for s, sig in heard.of(TOUCH_SENT)] == [(first, "s1", now_plan.plan_id)]
    env.svc.sop.enroll(env.tenant, first, later_plan.plan_id)
    env.svc.sop.enroll(env.tenant, second.customer_id, later_plan.plan_id)
    env.svc.signals.publish(env.tenant, first, Signal(ORDER, env.clock.now(), kind="full"))  # a full order: exits
    assert [(s, sig.kind, sig.plan_id) for s, sig in heard.of(EXITED)] == [
        (first, "exit:order:full", later_plan.plan_id)
    ]
    env.event("del_follow_user", userid="zhang", external_userid=fields["ExternalUserID"])
    env.clock.advance(minutes=61)
    env.svc.sop.backstop("unit")
    skipped = {(s, sig.kind) for s, sig in heard.of(TOUCH_SKIPPED)}
    assert (second.customer_id, "customer_lost") in skipped and len(heard.of(TOUCH_SENT)) == 1
