"""The holdout in the engine (issue 11 §2), on the fake store through the wired services: a held-out customer's
touches are skipped ``holdout`` (closed, on the timeline, told as TOUCH_SKIPPED "holdout"), take none of their
quota and reach no staff task, while the run goes on step by step and exit rules still end it; ENROLLED says which
arm the customer is in. The treated customers of the same plan are untouched by it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.business_events import parse_event
from chalicelib.domain.metrics.holdout import in_holdout
from chalicelib.domain.signals import ENROLLED, EXITED, TOUCH_SENT, TOUCH_SKIPPED, Signal
from chalicelib.domain.sop import COMPLETED
from chalicelib.domain.sop import EXITED as EXITED_STATE
from chalicelib.domain.tenants import Tenant
from chalicelib.services.timeline import TimelineService
from tests.fakes.store import FakeStore
from tests.unit.conftest import Env, make_channel, make_env

STEPS = [
    {"id": "s1", "after_minutes": 30, "content_type": "service", "message": {"text": "你好，我是李老师"}},
    {"id": "s2", "after_minutes": 90, "content_type": "interactive", "message": {"text": "今天的每日一练"}},
]
CUSTOMERS = 12


class Heard:
    def __init__(self) -> None:
        self.signals: list[tuple[str, Signal]] = []

    def __call__(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
        self.signals.append((subject_id, signal))

    def of(self, kind: str) -> list[tuple[str, Signal]]:
        return [(s, sig) for s, sig in self.signals if sig.type == kind]


def _setup(percent: int = 50) -> tuple[Env, Any, list[Any], Heard]:
    env = make_env(FakeStore())
    env.clock.current = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # every step due by day
    heard = Heard()
    env.svc.signals.subscribe((ENROLLED, TOUCH_SENT, TOUCH_SKIPPED, EXITED), "test", heard)
    doc = {
        "name": "新客培育（对照组）",
        "trigger": {"type": "manual"},
        "steps": STEPS,
        "exit": [{"type": "order", "kind": "trial"}],
        "holdout_percent": percent,
        "reentry": "never",
    }
    plan = env.svc.plans.publish(env.tenant, env.svc.plans.create(env.tenant, doc).plan_id)
    state = make_channel(env).state
    customers = []
    for _ in range(CUSTOMERS):
        _, created = env.scan(state)
        customers.append(env.store.get_customer("unit", created.customer_id))
        assert env.svc.sop.enroll(env.tenant, created.customer_id, plan.plan_id) is not None
    return env, plan, customers, heard


def _arms(plan: Any, customers: list[Any]) -> tuple[list[Any], list[Any]]:
    held = [c for c in customers if in_holdout("unit", plan.plan_id, c.customer_id, plan.holdout_percent)]
    treated = [c for c in customers if c not in held]
    assert held and treated  # the scenario needs both arms (SeqIds make this fixed)
    return held, treated


def _touches(env: Env) -> list[Any]:
    return list(env.store._sop()["touches"].values())


def test_a_held_out_customer_gets_no_touch_and_takes_no_quota_while_the_treated_are_sent() -> None:
    env, plan, customers, heard = _setup()
    held, treated = _arms(plan, customers)
    env.clock.advance(minutes=30)
    env.svc.sop.backstop("unit")
    by_customer = {(t.subject.id, t.step_id): t for t in _touches(env) if t.state != "scheduled"}
    assert {by_customer[(c.customer_id, "s1")].state for c in treated} == {"sent"}
    assert {(by_customer[(c.customer_id, "s1")].state, by_customer[(c.customer_id, "s1")].reason) for c in held} == {
        ("skipped", "holdout")
    }
    recipients = {
        u for call in env.world.calls("externalcontact/add_msg_template") for u in call.payload["external_userid"]
    }
    assert recipients == {c.external_userid for c in treated}
    caps = env.store._sop()["caps"]
    assert all(("unit", c.customer_id, "2026-12") not in caps for c in held)  # no quota taken, no timeline record
    assert all(caps[("unit", c.customer_id, "2026-12")]["m"] == 1 for c in treated)
    skipped = {s for s, sig in heard.of(TOUCH_SKIPPED) if sig.kind == "holdout" and sig.plan_id == plan.plan_id}
    assert skipped == {c.customer_id for c in held} and len(heard.of(TOUCH_SKIPPED)) == len(held)
    assert {s for s, _ in heard.of(TOUCH_SENT)} == {c.customer_id for c in treated}


def test_the_held_out_run_goes_on_step_by_step_and_completes_with_every_step_on_the_timeline() -> None:
    env, plan, customers, heard = _setup()
    held, _ = _arms(plan, customers)
    env.clock.advance(minutes=30)
    env.svc.sop.backstop("unit")
    env.clock.advance(minutes=60)
    env.svc.sop.backstop("unit")
    for c in held:
        mine = sorted((t.step_id, t.state, t.reason) for t in _touches(env) if t.subject.id == c.customer_id)
        assert mine == [("s1", "skipped", "holdout"), ("s2", "skipped", "holdout")]
        enrollment = env.store.get_enrollment("unit", c.customer_id, plan.plan_id)
        assert enrollment.status == COMPLETED
    page = TimelineService(env.store).page("unit", held[0], env.tenant.zone, limit=50)
    touches = [e["detail"] for e in page["items"] if e["type"] == "touch"]
    assert sorted((d["step_id"], d["outcome"], d.get("reason")) for d in touches) == [
        ("s1", "skipped", "holdout"),
        ("s2", "skipped", "holdout"),
    ]
    assert len([s for s, sig in heard.of(TOUCH_SKIPPED) if sig.kind == "holdout"]) == 2 * len(held)


def test_the_enrolled_signal_says_which_arm_each_customer_is_in() -> None:
    _, plan, customers, heard = _setup()
    held, _ = _arms(plan, customers)
    told = {s: sig for s, sig in heard.of(ENROLLED)}
    assert set(told) == {c.customer_id for c in customers}
    assert {s for s, sig in told.items() if sig.holdout} == {c.customer_id for c in held}
    assert {sig.plan_id for sig in told.values()} == {plan.plan_id}


def test_a_held_out_customer_still_exits_on_purchase() -> None:
    env, plan, customers, heard = _setup()
    held, treated = _arms(plan, customers)
    for c in (held[0], treated[0]):
        item = {"event_id": f"ord-{c.customer_id}", "customer_id": c.customer_id, "type": "order", "kind": "trial"}
        item.update(amount=990, occurred_at=env.clock.now().isoformat())
        env.svc.events.apply(env.tenant, parse_event(item, 0))
    for c in (held[0], treated[0]):
        enrollment = env.store.get_enrollment("unit", c.customer_id, plan.plan_id)
        assert (enrollment.status, enrollment.exit_reason) == (EXITED_STATE, "exit:order:trial")
    assert {s for s, sig in heard.of(EXITED)} == {held[0].customer_id, treated[0].customer_id}
    env.clock.advance(minutes=30)
    env.svc.sop.backstop("unit")
    mine = [(t.state, t.reason) for t in _touches(env) if t.subject.id == held[0].customer_id]
    assert mine == [("skipped", "enrollment_ended")]  # the exit, not the holdout, says why


def test_a_plan_without_a_holdout_touches_everyone() -> None:
    env, _, _, heard = _setup(percent=0)
    env.clock.advance(minutes=30)
    env.svc.sop.backstop("unit")
    assert {t.state for t in _touches(env) if t.step_id == "s1"} == {"sent"}
    assert not any(sig.holdout for _, sig in heard.of(ENROLLED)) and heard.of(TOUCH_SKIPPED) == []
