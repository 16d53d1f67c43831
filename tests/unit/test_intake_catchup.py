"""Issue 9 §3: an add whose callback died after storing the customer and before enrolling them in the channel's plan
is caught up by the backstop (services/intake_catchup.py); WeCom's redelivery is a duplicate and cannot do it."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.sop import ACTIVE, EXITED
from tests.unit.conftest import Env, make_channel


class Crash(BaseException):
    """The process dying: not an error anything catches."""


class DyingEnroller:
    def enroll(self, *args: Any, **kwargs: Any) -> Any:
        raise Crash


def _channel_with_plan(env: Env) -> Any:
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "新客7天培育",
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}],
        },
    )
    env.svc.plans.publish(env.tenant, plan.plan_id)
    return make_channel(env, plan_id=plan.plan_id)


def _crashed_add(env: Env, channel: Any) -> tuple[dict[str, Any], str]:
    """A scan whose callback dies right after the customer is stored; WeCom then redelivers it."""
    fields = env.world.scan(env.tenant.corp_id, channel.state, now=env.clock.epoch())
    real = env.svc.intake.enroller
    env.svc.intake.enroller = DyingEnroller()
    try:
        with pytest.raises(Crash):
            env.deliver(fields)
    finally:
        env.svc.intake.enroller = real
    assert env.deliver(fields).outcome == "duplicate"  # the redelivery cannot repair it
    customer_id = next(iter(c for (t, c) in env.store.customers if t == "unit"))
    return fields, customer_id


def test_the_backstop_enrolls_a_customer_whose_callback_died_before_the_channel_plan(env: Env) -> None:
    channel = _channel_with_plan(env)
    _, cid = _crashed_add(env, channel)
    assert env.store.get_enrollment("unit", cid, channel.plan_id) is None
    assert env.svc.catchup.run(env.tenant) == 0  # a callback may still be at work: it is left alone for 2 minutes
    env.clock.advance(minutes=3)
    assert env.svc.catchup.run(env.tenant) == 1
    enrollment = env.store.get_enrollment("unit", cid, channel.plan_id)
    assert enrollment is not None and enrollment.status == ACTIVE and enrollment.source == "channel"
    env.clock.advance(minutes=5)
    assert env.svc.catchup.run(env.tenant) == 0  # the next run finds the enrollment: nothing twice
    assert len(env.store.enrollments_of("unit", cid)) == 1


def test_an_enrollment_that_ended_is_an_answer_not_a_loss(env: Env) -> None:
    channel = _channel_with_plan(env)
    fields = env.world.scan(env.tenant.corp_id, channel.state, now=env.clock.epoch())
    cid = env.deliver(fields).customer_id
    enrollment = env.store.get_enrollment("unit", cid, channel.plan_id)
    at = env.clock.now().isoformat()
    assert env.store.end_enrollment("unit", enrollment, status=EXITED, reason="order", at=at)
    env.clock.advance(minutes=3)
    assert env.svc.catchup.run(env.tenant) == 0
    assert env.store.get_enrollment("unit", cid, channel.plan_id).status != ACTIVE


def test_customers_added_long_ago_or_without_a_channel_plan_are_not_read_again(env: Env) -> None:
    channel = _channel_with_plan(env)
    _, cid = _crashed_add(env, channel)
    env.clock.advance(minutes=20)  # past the look-back: the backstop ran in between in production
    assert env.svc.catchup.run(env.tenant) == 0
    assert env.store.get_enrollment("unit", cid, channel.plan_id) is None
    plain = make_channel(env, name="无计划渠道")
    fields = env.world.scan(env.tenant.corp_id, plain.state, now=env.clock.epoch())
    env.deliver(fields)
    env.clock.advance(minutes=3)
    assert env.svc.catchup.run(env.tenant) == 0
