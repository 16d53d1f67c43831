"""An enrollment whose attempt died between its write and its first touch is finished by the next attempt (issue 9).

The enrollment item is written first (the re-entry policy decides there), then its first touch, timer and stage. A
crash in between left an active run with no touch: every retry answered "already enrolled" and the customer was
never touched. A retry within ``RESUME_WITHIN`` now redoes what follows the write; each step is idempotent, so a
retry of an attempt that did not crash changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.customers import Stage
from chalicelib.services.enrollments import RESUME_WITHIN
from tests.unit.test_sop_engine import Env, plan, step


class Crash(Exception):
    pass


@pytest.fixture
def env() -> Env:
    e = Env()
    e.plans.add(plan([step("s1", after_minutes=30), step("s2", day=1, at="10:00")]))
    return e


def _crash_on_first(env: Env, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The store's ``name`` raises once (the process dying at that write), then works again."""
    original = getattr(env.store, name)
    calls = {"n": 0}

    def once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Crash(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(env.store, name, once)


def _touches(env: Env) -> int:
    return sum(len(env.store.touches_in("sop", s["payload"]["bucket_id"])) for s in env.scheduler.schedules.values())


@pytest.mark.parametrize("dies_at", ["add_touch", "register_bucket", "advance_stage"])
def test_a_retry_finishes_an_enrollment_cut_short_after_its_write(
    env: Env, monkeypatch: pytest.MonkeyPatch, dies_at: str
) -> None:
    c = env.customer(1)
    _crash_on_first(env, monkeypatch, dies_at)
    with pytest.raises(Crash):
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    env.clock.advance(minutes=2)
    assert env.engine.enroll(env.tenant, c.customer_id, "pl_new7") is None  # still answered: already enrolled
    assert _touches(env) == 1 and env.scheduler.calls == 1
    stored = env.store.get_customer("sop", c.customer_id)
    assert stored is not None and stored.stage == Stage.NURTURING
    env.clock.advance(minutes=28)
    [report] = env.fire_due()
    assert report.sent == 1 and len(env.add_calls()) == 1


def test_a_retry_of_an_enrollment_that_did_not_crash_changes_nothing(env: Env) -> None:
    c = env.customer(1)
    assert env.engine.enroll(env.tenant, c.customer_id, "pl_new7") is not None
    assert env.engine.enroll(env.tenant, c.customer_id, "pl_new7") is None
    assert _touches(env) == 1 and env.scheduler.calls == 1
    env.clock.advance(minutes=30)
    [report] = env.fire_due()
    assert report.sent == 1 and len(env.add_calls()) == 1


def test_no_resume_past_the_window(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    c = env.customer(1)
    _crash_on_first(env, monkeypatch, "add_touch")
    with pytest.raises(Crash):
        env.engine.enroll(env.tenant, c.customer_id, "pl_new7")
    env.clock.advance(seconds=RESUME_WITHIN.total_seconds() + 1)
    assert env.engine.enroll(env.tenant, c.customer_id, "pl_new7") is None
    assert _touches(env) == 0 and env.scheduler.calls == 0
