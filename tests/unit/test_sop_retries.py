"""Retryable WeCom errors never lose a touch (issue 9 §1), on the fake store and the WeCom world with its faults:
each transient errcode class once and five times, the deadline, per-customer errors, permanent errors, and
reconciliation that adopts only a WeCom task carrying exactly the claimed recipients (issue 9 §2)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.plans import Lateness
from chalicelib.domain.sop import FAILED, RETRYING, SENT
from chalicelib.errors import ConflictError, WeComTransportError
from chalicelib.ports import WeComCredentials
from chalicelib.services.sop import delivery as delivery_module
from devstack.jobs import describe_fire
from tests.unit.test_sop_engine import CORP, Env, plan, step

TEXT = "s1 的内容"
OWNERS = ["zhang", "li", "zhang", "li", "zhang", "li"]
ADD = "externalcontact/add_msg_template"


class Metrics:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def __call__(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> Metrics:
    recorder = Metrics()
    monkeypatch.setattr(delivery_module, "count", recorder)
    return recorder


def _ready(env: Env, owners: list[str] = OWNERS, **lateness: Any) -> str:
    s1 = step("s1", after_minutes=30, **({"lateness": Lateness(**lateness)} if lateness else {}))
    env.plans.add(plan([s1]))
    for n, owner in enumerate(owners):
        env.engine.enroll(env.tenant, env.customer(n, owner).customer_id, "pl_new7")
    [bucket_id] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()]
    env.clock.advance(minutes=30)
    return bucket_id


def _until_quiet(env: Env, *, minutes: int = 5, runs: int = 60) -> int:
    """Run the backstop every ``minutes`` until no task is claimed or retrying; the minutes it took."""
    for n in range(runs):
        if not _open_tasks(env):
            return n * minutes
        env.clock.advance(minutes=minutes)
        env.engine.backstop("sop")
    raise AssertionError(f"still open after {runs} runs: {_open_tasks(env)}")


def _open_tasks(env: Env) -> list[str]:
    every = env.store.list_tasks("sop", userid=None, status=None, due_from=None, due_to=None, limit=99)
    return [t.task_id for t in every if t.status in ("claimed", RETRYING)]


def _in_wecom(env: Env, ext: str) -> int:
    tasks = env.world.corp(CORP).tasks.values()
    return sum(1 for t in tasks if t.text == TEXT and ext in {r.external_userid for r in t.recipients})


def _settled(env: Env, bucket_id: str, n: int = len(OWNERS)) -> dict[str, int]:
    """Every touch in exactly one WeCom task (sent) or in none (failed with a reason); the count of each."""
    out = {SENT: 0, FAILED: 0}
    for touch in env.store.touches_in("sop", bucket_id, state=None):
        ext = f"wmsop{int(touch.customer_id[1:]):027d}"
        if touch.state == SENT:
            assert _in_wecom(env, ext) == 1, touch
        else:
            assert touch.state == FAILED and touch.reason and _in_wecom(env, ext) == 0, touch
        out[touch.state] += 1
    assert sum(out.values()) == n
    return out


TRANSIENT = [
    ("busy", -1),
    ("frequency", 45009),
    ("concurrency", 45033),
    ("token", 42001),
]


@pytest.mark.parametrize("times", [1, 5])
@pytest.mark.parametrize(("name", "errcode"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
def test_a_transient_errcode_leaves_the_task_retrying_until_wecom_takes_it(
    env: Env, metrics: Metrics, name: str, errcode: int, times: int
) -> None:
    bucket_id = _ready(env)
    env.world.inject(ADD, errcode, times)
    [report] = env.fire_due()
    assert report.sent + report.retrying == len(OWNERS) and report.failed == 0
    if errcode in (-1, 42001) and times == 1:
        assert report.retrying == 0  # the client's own backoff (-1) or its one token refresh absorbs it
    else:
        assert report.retrying > 0 and metrics.counts["Task.retrying"] >= 1
        retrying = _open_tasks(env)
        assert all(env.store.get_task("sop", t).reason == f"wecom_{errcode}" for t in retrying)  # type: ignore[union-attr]
    took = _until_quiet(env)
    assert _settled(env, bucket_id) == {SENT: len(OWNERS), FAILED: 0}
    # 45009 waits out WeCom's blocks (60 s, then 60 min); the others back off in minutes.
    assert took <= (130 if errcode == 45009 and times == 5 else 15)
    assert "Touch.failed" not in metrics.counts


@pytest.mark.parametrize("times", [1, 5])
def test_gettoken_failing_after_the_token_expired_is_retried(env: Env, times: int) -> None:
    bucket_id = _ready(env)
    env.wecom.get_groupmsg_list(WeComCredentials("sop", CORP, "sec"), start_time=0, end_time=60)  # a cached token
    env.world.expire_tokens()
    env.world.inject("gettoken", 45009, times)
    [report] = env.fire_due()
    assert report.retrying > 0 and report.sent + report.retrying == len(OWNERS)
    _until_quiet(env)
    assert _settled(env, bucket_id) == {SENT: len(OWNERS), FAILED: 0}


class Flaky:
    """A transport wrapper failing ``times`` add_msg_template requests: before WeCom saw them (HTTP 5xx), or after
    (a timeout: WeCom created the task, the answer was lost)."""

    def __init__(self, inner: Any, times: int, *, after: bool) -> None:
        self.inner, self.times, self.after = inner, times, after

    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        if path.endswith("add_msg_template") and self.times > 0:
            self.times -= 1
            if self.after:
                self.inner.request(method, path, **kw)
            raise WeComTransportError(f"WeCom {path} answered HTTP 502")
        answer: dict[str, Any] = self.inner.request(method, path, **kw)
        return answer


@pytest.mark.parametrize("times", [1, 5])
@pytest.mark.parametrize("after", [False, True], ids=["5xx", "timeout"])
def test_http_failures_and_timeouts_are_retried_and_a_lost_answer_is_adopted_not_doubled(
    env: Env, times: int, after: bool
) -> None:
    bucket_id = _ready(env)
    env.wecom._transport = Flaky(env.wecom._transport, times, after=after)
    [report] = env.fire_due()
    assert report.retrying > 0 and report.failed == 0
    _until_quiet(env)
    assert _settled(env, bucket_id) == {SENT: len(OWNERS), FAILED: 0}


def test_past_its_deadline_a_task_fails_with_the_errcode_and_is_counted_failed(env: Env, metrics: Metrics) -> None:
    bucket_id = _ready(env, max_minutes=240)
    env.world.inject(ADD, 45033, 500)  # WeCom refuses for good
    [report] = env.fire_due()
    assert report.sent == 0 and report.retrying == len(OWNERS)
    took = _until_quiet(env)
    assert 240 <= took <= 250  # the step's lateness (240 min, above the 180 min floor) is the deadline
    assert _settled(env, bucket_id) == {SENT: 0, FAILED: len(OWNERS)}
    touches = env.store.touches_in("sop", bucket_id, state=None)
    assert {t.reason for t in touches} == {"wecom_45033"}
    tasks = env.store.list_tasks("sop", userid=None, status=FAILED, due_from=None, due_to=None, limit=9)
    assert len(tasks) == 2 and {t.reason for t in tasks} == {"wecom_45033"}
    assert sorted(c for t in tasks for c in t.customer_ids) == [f"c{n:05d}" for n in range(len(OWNERS))]
    assert metrics.counts["Touch.failed"] == len(OWNERS) and metrics.counts["Touch.failed.wecom_45033"] == 6


def test_a_permanent_error_fails_the_task_at_once_and_the_report_says_so(env: Env, metrics: Metrics) -> None:
    bucket_id = _ready(env)
    env.world.inject(ADD, 48002, 2)  # API forbidden for this app: an operator must act
    [report] = env.fire_due()
    assert (report.sent, report.failed, report.retrying) == (0, len(OWNERS), 0)
    assert report.reasons == {"wecom_48002": len(OWNERS)}
    assert _open_tasks(env) == []
    assert _settled(env, bucket_id) == {SENT: 0, FAILED: len(OWNERS)}
    assert metrics.counts["Touch.failed.wecom_48002"] == len(OWNERS)


def test_a_customer_wecom_cannot_reach_is_a_per_customer_outcome_not_a_failed_task(env: Env) -> None:
    bucket_id = _ready(env, ["zhang", "zhang"])
    env.world.event(CORP, "del_follow_user", userid="zhang", external_userid="wmsop" + "0" * 27, now=env.clock.epoch())
    [report] = env.fire_due()
    assert (report.sent, report.failed, report.retrying) == (2, 0, 0)
    [task] = env.store.list_tasks("sop", userid=None, status="created", due_from=None, due_to=None, limit=9)
    assert task.results == {"fail_list": 1} and task.customer_ids == ("c00000", "c00001")
    assert {t.state for t in env.store.touches_in("sop", bucket_id, state=None)} == {SENT}


def test_reconciliation_never_adopts_a_wecom_task_of_the_same_sender_and_text_for_other_customers(env: Env) -> None:
    bucket_id = _ready(env, ["zhang", "zhang"])
    delivery = env.engine.kernel.delivery
    original = delivery.deliver
    delivery.deliver = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("died before calling WeCom"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        env.fire_due()
    delivery.deliver = original  # type: ignore[method-assign]
    # Meanwhile the same staff member's task with the same text went to someone else (not a Siyu task's msgid).
    other = env.customer(9, "zhang")
    env.wecom.add_msg_template(
        WeComCredentials("sop", CORP, "sec"),
        sender="zhang",
        message=env.plans.plans[("pl_new7", 1)].steps[0].message,
        external_userids=[other.external_userid],
    )
    env.clock.advance(minutes=3)
    assert env.engine.reconcile("sop") == 1
    [task] = env.store.list_tasks("sop", userid=None, status="created", due_from=None, due_to=None, limit=9)
    assert task.customer_ids == ("c00000", "c00001")
    assert _settled(env, bucket_id, 2) == {SENT: 2, FAILED: 0}  # sent again, to exactly the claimed two
    assert _in_wecom(env, other.external_userid) == 1


def test_the_deployed_stack_alarms_on_the_metric_that_counts_failed_touches(env: Env, metrics: Metrics) -> None:
    _ready(env, ["zhang"])
    env.world.inject(ADD, 48002, 1)
    env.fire_due()
    template = json.loads((Path(__file__).parents[2] / "infra" / "resources.json").read_text())
    alarms = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    [alarm] = [a for a in alarms if a["MetricName"] in metrics.counts]
    assert alarm["MetricName"] == "TouchesFailed" and alarm["Namespace"] == "Siyu" and alarm["Threshold"] == 1


def test_a_wecom_outage_during_reconciliation_leaves_the_task_for_the_next_run_and_the_buckets_still_fire(
    env: Env,
) -> None:
    bucket_id = _ready(env, ["zhang"])
    delivery = env.engine.kernel.delivery
    original = delivery.deliver
    delivery.deliver = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("died before calling WeCom"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        env.fire_due()
    delivery.deliver = original  # type: ignore[method-assign]
    late = _ready_more(env)
    env.world.inject("externalcontact/get_groupmsg_list_v2", 45009, 1)  # the lookup itself is refused once
    env.clock.advance(minutes=3)
    reports = env.engine.backstop("sop")
    assert [r.sent for r in reports if r.bucket_id == late] == [1]  # the other bucket fired all the same
    assert len(_open_tasks(env)) == 1  # still claimed: looked up again next run
    _until_quiet(env)
    assert _settled(env, bucket_id, 1) == {SENT: 1, FAILED: 0}


def _ready_more(env: Env) -> str:
    """Another plan's bucket, due now and left open (its schedule was lost)."""
    env.plans.add(plan([step("t1", after_minutes=2)], plan_id="pl_other"))
    env.engine.enroll(env.tenant, env.customer(7, "li").customer_id, "pl_other")
    [bucket_id] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values() if "pl_other" in str(s)]
    env.scheduler.schedules.clear()
    return str(bucket_id)


def test_a_retrying_task_is_retried_by_its_delayed_schedule_before_the_backstop_comes(env: Env) -> None:
    bucket_id = _ready(env)
    env.world.inject(ADD, 45033, 2)
    [report] = env.fire_due()
    assert report.retrying == len(OWNERS)
    retries = [s for s in env.scheduler.schedules.values() if "task_id" in s["payload"]]
    assert len(retries) == 2  # one per retrying task, a minute after its retry_at (30 s after the error)
    assert {s["expression"] for s in retries} == {"at(2026-12-01T09:31:00)"}
    env.clock.advance(seconds=20)  # too early: the schedule fired ahead of retry_at, nothing is done
    assert env.engine.retry_task("sop", retries[0]["payload"]["task_id"])["outcome"] is None
    env.clock.advance(seconds=40)
    outcomes = [env.engine.retry_task("sop", s["payload"]["task_id"]) for s in retries]
    assert [o["outcome"] for o in outcomes] == ["created", "created"] and _open_tasks(env) == []
    assert env.engine.retry_task("sop", retries[0]["payload"]["task_id"])["outcome"] is None  # delivered twice
    assert _settled(env, bucket_id) == {SENT: len(OWNERS), FAILED: 0}
    assert describe_fire("-", outcomes[0]).endswith("retried: created")


def test_a_failed_touch_still_implies_the_enrollments_next_one(env: Env) -> None:
    env.plans.add(plan([step("s1", after_minutes=30), step("s2", after_minutes=90)]))
    env.engine.enroll(env.tenant, env.customer(1).customer_id, "pl_new7")
    env.clock.advance(minutes=30)
    env.world.inject(ADD, 48002, 1)
    [report] = env.fire_due()
    assert report.failed == 1
    [failed] = env.store.touches_in("sop", report.bucket_id, state=FAILED)
    assert failed.reason == "wecom_48002" and failed.next_bucket
    [queued] = env.store.touches_in("sop", failed.next_bucket)
    assert (queued.customer_id, queued.step_id) == ("c00001", "s2")
    env.clock.advance(minutes=60)
    assert env.engine.fire("sop", failed.next_bucket).sent == 1  # the enrollment moved on


def test_a_task_written_before_deadlines_existed_is_retried_within_the_shortest_deadline(env: Env) -> None:
    bucket_id = _ready(env, ["zhang"])
    delivery = env.engine.kernel.delivery
    original = delivery.deliver
    delivery.deliver = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("died before calling WeCom"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        env.fire_due()
    delivery.deliver = original  # type: ignore[method-assign]
    [task] = env.store.list_tasks("sop", userid=None, status="claimed", due_from=None, due_to=None, limit=5)
    assert env.store.save_task("sop", replace(task, deadline=None), expected_status="claimed")
    env.world.inject(ADD, 45033, 1)
    env.clock.advance(minutes=3)
    env.engine.reconcile("sop")
    retrying = env.store.get_task("sop", task.task_id)
    assert retrying is not None and retrying.status == RETRYING and retrying.reason == "wecom_45033"
    _until_quiet(env)
    assert _settled(env, bucket_id, 1) == {SENT: 1, FAILED: 0}


def test_staff_cannot_confirm_a_task_wecom_does_not_hold_which_would_end_its_retries(env: Env) -> None:
    _ready(env, ["zhang"])
    env.world.inject(ADD, 45033, 1)
    env.fire_due()
    [task_id] = _open_tasks(env)
    with pytest.raises(ConflictError):
        env.staff_tasks.confirm("sop", task_id, userid="zhang", proof_url=None)
    assert env.store.get_task("sop", task_id).status == RETRYING  # type: ignore[union-attr]
    _until_quiet(env)
    confirmed = env.staff_tasks.confirm("sop", task_id, userid="zhang", proof_url=None)
    assert confirmed.status == "confirmed"  # once WeCom holds it, as before
