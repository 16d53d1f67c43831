"""The fault matrix of issue 9 §4, SOP delivery: each retryable WeCom fault, injected 1x and 5x through the sandbox's
``POST /sandbox/faults``, against a plan with an inline step and a scheduled step; the stack's clock then walks on
(the pump's fires, the backstop every 5 minutes: devstack.timewarp) and the case checks, against the sandbox's stored
WeCom tasks (devstack.drill_check):

- touches planned = touches in exactly one WeCom task + touches ``failed`` past their deadline (never earlier);
- 0 doubled, 0 lost, 0 reported failed that WeCom has;
- recovery (every touch in one task or failed) within the backstop period plus the retry backoff, in virtual time.

The faults hit both steps: ``times`` before the enrollments (each enrollment fires the inline step at once) and
``times`` again just before the scheduled step's minute. These cases need issue 9 §1/§2 (retrying, crash-safe
reconciliation) and land with that fix. docs/operations.md, "Fault matrix".
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.domain import retries
from chalicelib.domain.sop import FAILED
from devstack import jobs
from devstack.drill_check import CheckResult, Planned, check, plan_touches, world_tasks
from devstack.jobs import PeriodicJobs
from devstack.pump import SchedulerPump
from devstack.timewarp import Walker
from tests.functional.conftest import CORP, TENANT, Api

GROUP = "siyu-functional"
CUSTOMERS = 6  # 12 touches; two staff members, so the scheduled step makes two WeCom tasks
STAFF = ("zhanglaoshi", "lilaoshi")
STEPS = {"s1": "同学你好，考研资料包已备好～", "s2": "本周六的试听课别忘了哦"}
SCHEDULED_AFTER = timedelta(minutes=10)  # s2's after_minutes
DEADLINE = timedelta(minutes=120)  # the steps' lateness.max_minutes: a touch may end failed only past it
BACKSTOP_PERIOD = timedelta(minutes=5)  # app.py: @app.schedule(Rate(5, MINUTES), name="backstop")
SCHEDULE_GRAIN = timedelta(minutes=1)  # a retry runs the minute after its retry_at (its one-time schedule)


def recovery_limit(errcode: int | None, times: int) -> timedelta:
    """The issue's bound on the time to recover: the backstop period plus the backoff, which is the delivery's own
    schedule (domain/retries.py) for ``times`` failures in a row. A 45009 waits out WeCom's blocks (60 s, then 60
    min); past the task's deadline its touches end failed, which settles them too."""
    backoff = sum((retries.retry_after(errcode, k) + SCHEDULE_GRAIN for k in range(1, times + 1)), timedelta())
    return BACKSTOP_PERIOD + backoff


CLIENT_TIMEOUT = "0.5"  # SIYU_WECOM_TIMEOUT_SECONDS in these cases, so a delay fault times the client out quickly
SEND = "externalcontact/add_msg_template"


@dataclass(frozen=True)
class Fault:
    """One fault class of the issue: the sandbox fault bodies (``times`` added per case), after an optional token
    expiry."""

    name: str
    bodies: tuple[dict[str, Any], ...]
    expire_tokens: bool = False

    @property
    def errcode(self) -> int | None:
        """The errcode the fault answers (None: the call does not get through: HTTP 5xx, a timeout)."""
        code = self.bodies[0].get("errcode")
        return int(code) if code is not None else None


FAULTS = (
    Fault("add_msg_template -1", ({"api": SEND, "errcode": -1},)),
    Fault("add_msg_template 45009", ({"api": SEND, "errcode": 45009},)),
    Fault("add_msg_template 45033", ({"api": SEND, "errcode": 45033},)),
    Fault("token expired, then gettoken 45009", ({"api": "gettoken", "errcode": 45009},), expire_tokens=True),
    Fault("add_msg_template HTTP 502", ({"api": SEND, "http_status": 502},)),
    Fault("add_msg_template timeout", ({"api": SEND, "late_ms": 1000},)),
)
CASES = [pytest.param(fault, times, id=f"{fault.name} x{times}") for fault in FAULTS for times in (1, 5)]


@pytest.fixture
def matrix(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The functional stack with a short WeCom client timeout (read when the services are built, on first use)."""
    monkeypatch.setenv("SIYU_WECOM_TIMEOUT_SECONDS", CLIENT_TIMEOUT)
    bootstrap.reset()
    yield api
    api.sandbox.http_faults.clear()  # the sandbox is the session's: leave no fault to the next test
    api.sandbox.world.faults.clear()


def _sandbox(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{api.sandbox.base_url}{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _inject(api: Api, fault: Fault, times: int) -> None:
    """Through the sandbox's control API, as an operator drilling the stack would."""
    if fault.expire_tokens:
        _sandbox(api, "/sandbox/expire_tokens", {})
    for body in fault.bodies:
        _sandbox(api, "/sandbox/faults", {**body, "times": times})


def _pending(api: Api, fault: Fault) -> int:
    """Injected faults not met yet (a fault only counts if a call met it)."""
    name = str(fault.bodies[0]["api"])
    return len(api.sandbox.world.faults.get(name, [])) + api.sandbox.http_faults.pending(name)


def _setup(api: Api) -> tuple[str, str, list[Planned]]:
    """A tenant, two staff, customers who scanned a channel (no plan: intake is not under test here) and a published
    manual plan: s1 inline (after 0 minutes), s2 scheduled. Returns the token, the plan id and the customers."""
    token = api.create_tenant()
    for userid in STAFF:
        staff = api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": userid}, token)
        assert staff.status_code == 201, staff.body
    body = {"name": "抖音", "source": "douyin", "staff": {"mode": "round_robin", "userids": list(STAFF)}}
    created = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert created.status_code == 201, created.body
    channel = created.json
    planned = []
    for _ in range(CUSTOMERS):
        fields, resp = api.scan(channel["state"])
        assert resp.status_code == 200, resp.body
        planned.append(Planned(str(resp.json["customer_id"]), str(fields["ExternalUserID"])))
    lateness = {"max_minutes": int(DEADLINE.total_seconds() // 60), "then": "skip"}
    steps = [
        {"id": sid, "after_minutes": after, "content_type": "service", "message": {"text": text}, "lateness": lateness}
        for (sid, text), after in zip(STEPS.items(), (0, int(SCHEDULED_AFTER.total_seconds() // 60)), strict=True)
    ]
    plan = api.call(
        "POST", f"/t/{TENANT}/plans", {"name": "故障演练", "trigger": {"type": "manual"}, "steps": steps}, token
    )
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    return token, plan_id, planned


def _walker(api: Api) -> Walker:
    """The local stack's pump and periodic jobs (the deployed handlers) on the test clock, driven by hand."""
    handlers = jobs.Handlers()
    log: list[str] = []
    periodic = PeriodicJobs(handlers, log.append, api.clock.epoch)
    pump = SchedulerPump(
        boto3.client("scheduler", region_name="us-east-1"),
        GROUP,
        fire=jobs.fire_and_report(handlers.fire, log.append),
        backstop=periodic,
        now=api.clock.now,
        log=log.append,
    )
    return Walker(pump, periodic, api.clock)


def _check(api: Api, plan_id: str, planned: list[Planned]) -> CheckResult:
    store = bootstrap.services().store
    return check(planned, STEPS, plan_touches(store, TENANT, plan_id), world_tasks(api.sandbox.world, CORP))


def _failed_too_early(api: Api, plan_id: str, due: dict[str, datetime]) -> list[str]:
    """Touches already ``failed`` although their step's deadline has not passed."""
    now = api.clock.now()
    store = bootstrap.services().store
    return [
        f"{t.subject.id}/{t.step_id} ({t.reason})"
        for t in plan_touches(store, TENANT, plan_id)
        if t.state == FAILED and now < due[t.step_id] + DEADLINE
    ]


@pytest.mark.parametrize(("fault", "times"), CASES)
def test_every_touch_lands_in_exactly_one_wecom_task_or_fails_past_its_deadline(
    matrix: Api, fault: Fault, times: int
) -> None:
    api = matrix
    token, plan_id, planned = _setup(api)
    walker = _walker(api)
    start = api.clock.now()
    due = {"s1": start, "s2": start + SCHEDULED_AFTER}

    _inject(api, fault, times)  # the inline step meets it
    for customer in planned:
        resp = api.call(
            "POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": customer.customer_id}, token
        )
        assert resp.status_code == 201, resp.body

    walker.move_to(due["s2"] - timedelta(seconds=30))
    _inject(api, fault, times)  # and the scheduled step too, at its minute
    met_at_s2 = False
    early: list[str] = []
    recovered: timedelta | None = None
    limit = recovery_limit(fault.errcode, times)
    while api.clock.now() < due["s2"] + limit:
        walker.move_to(api.clock.now() + timedelta(minutes=1))
        met_at_s2 = met_at_s2 or _pending(api, fault) < times
        early += _failed_too_early(api, plan_id, due)
        result = _check(api, plan_id, planned)
        if result.accounted and result.ok:
            recovered = api.clock.now() - due["s2"]
            break
    # On past every deadline, a backstop period at a time: nothing may fail early or change for the worse since.
    while api.clock.now() < due["s2"] + DEADLINE + 2 * BACKSTOP_PERIOD:
        walker.move_to(api.clock.now() + BACKSTOP_PERIOD)
        early += _failed_too_early(api, plan_id, due)
    final = _check(api, plan_id, planned)

    assert met_at_s2 or _pending(api, fault) < times, "the scheduled step did not meet the fault"
    assert not early, f"failed before the deadline ({DEADLINE}): {early}"
    assert final.doubled == 0, final.summary()
    assert final.lost == 0 and final.misreported == 0, final.summary()
    assert final.accounted, final.summary()
    assert recovered is not None, f"not settled within {limit} of the scheduled step: {result.summary()}"
