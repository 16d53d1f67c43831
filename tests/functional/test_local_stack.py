"""The local stack's Scheduler pump, in process: moto's Scheduler holds the bucket schedules the app creates, and the
pump fires them through the same handlers `make run` uses (devstack.run.Handlers -> chalicelib.jobs.sop), on a
virtual clock. This is the README's minutes-apart walk-through without the servers: a scan enrolls two customers,
the first step becomes one staff task on time, staff confirm it, a signed trial purchase ends one enrollment, and
the next step's task carries only the other customer. And the sandbox's time machine: POST /sandbox/clock moves the
stack's clock a day and the pump fires, on the way, the touch that quiet hours held until the next morning."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from chalicelib.domain.business_events import sign
from chalicelib.settings import Settings
from devstack import jobs
from devstack.local_pump import SecretWatch, start_pump
from devstack.pump import SchedulerPump
from devstack.timewarp import ClockControl
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api, TestClock

GROUP = "siyu-functional"  # the group the `api` fixture provisions (SIYU_SCHEDULE_GROUP)
STEPS = [  # two minutes apart: each touch is more than a minute ahead when scheduled, so it gets its own schedule
    {"id": "s1", "after_minutes": 2, "content_type": "service", "message": {"text": "同学你好～"}, "notes": "破冰"},
    {"id": "s2", "after_minutes": 4, "content_type": "service", "message": {"text": "资料包看了吗？"}},
]


def _at(clock: TestClock, hhmmss: str) -> None:
    """Move the stack's clock to a time of 2026-12-01 given in Asia/Shanghai (UTC+8)."""
    hour, minute, second = (int(p) for p in hhmmss.split(":"))
    clock.move_to(datetime(2026, 12, 1, hour - 8, minute, second, tzinfo=UTC))


def _schedules(client: Any) -> dict[str, str]:
    names = [s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]]
    return {n: client.get_schedule(Name=n, GroupName=GROUP)["ScheduleExpression"] for n in names}


def _mass_tasks(api: Api, token: str) -> list[dict[str, Any]]:
    items = api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"]
    return sorted((t for t in items if t["kind"] == "mass"), key=lambda t: t["step_id"])


def test_the_pump_fires_bucket_schedules_on_time_through_the_fire_handler(api: Api) -> None:
    created = api.call(
        "POST",
        "/admin/tenants",
        {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "timezone": "Asia/Shanghai", "wecom": WECOM},
        ADMIN,
    )
    secret = created.json["events_secret"]
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    plan = api.call(
        "POST",
        f"/t/{TENANT}/plans",
        {
            "name": "四分钟体验",
            "trigger": {"type": "manual"},
            "steps": STEPS,
            "exit": [{"type": "order", "kind": "trial"}],
        },
        token,
    ).json
    assert api.call("POST", f"/t/{TENANT}/plans/{plan['plan_id']}/publish", {}, token).status_code == 200
    channel = api.call(
        "POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin", "staff": {"userids": ["zhang"]}}, token
    ).json
    patched = api.call("PATCH", f"/t/{TENANT}/channels/{channel['channel_id']}", {"plan_id": plan["plan_id"]}, token)
    assert patched.status_code == 200, patched.body

    buyer, other = (api.scan(channel["state"], userid="zhang")[1].json["customer_id"] for _ in range(2))
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    assert list(_schedules(scheduler).values()) == ["at(2026-12-01T10:02:00)"]  # one schedule for both customers

    lines: list[str] = []
    handlers = jobs.Handlers()
    pump = SchedulerPump(
        scheduler,
        GROUP,
        fire=jobs.fire_and_report(handlers.fire, lines.append),
        backstop=jobs.PeriodicJobs(handlers, lines.append, api.clock.epoch),
        now=api.clock.now,
        log=lines.append,
    )
    _at(api.clock, "10:01:50")
    assert pump.run_once() == 0 and _mass_tasks(api, token) == []  # not due yet

    _at(api.clock, "10:02:01")  # the due minute: the pump fires, the task is there
    assert pump.run_once() == 1
    [first] = _mass_tasks(api, token)
    assert first["step_id"] == "s1" and first["userid"] == "zhang" and first["notes"] == "破冰"
    assert sorted(c["customer_id"] for c in first["customers"]) == sorted([buyer, other])
    assert first["status"] == "created" and first["msgid"]
    assert lines[-1].startswith(f"pump: bucket {first['bucket_id']}: 1 task(s); touches 2 sent")
    # ActionAfterCompletion=DELETE: the fired schedule is gone; the next step has its own.
    assert list(_schedules(scheduler).values()) == ["at(2026-12-01T10:04:00)"]

    # Staff confirm: in WeCom (the sandbox sends it) and in Siyu.
    assert api.sandbox.world.confirm_task(first["msgid"], "zhang")["sent"] == 2
    confirmed = api.call("POST", f"/t/{TENANT}/tasks/{first['task_id']}/confirm", {}, token)
    assert confirmed.status_code == 200 and confirmed.json["status"] == "confirmed"

    # A signed trial purchase ends the buyer's enrollment.
    _at(api.clock, "10:03:00")
    body = json.dumps(
        {
            "event_id": "order-1",
            "type": "order",
            "customer_id": buyer,
            "occurred_at": "2026-12-01T10:02:30+08:00",
            "kind": "trial",
            "amount": 9.9,
        }
    ).encode()
    stamp = api.clock.stamp()
    resp = api.call(
        "POST",
        f"/t/{TENANT}/events",
        body,
        headers={"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, body)},
    )
    assert resp.status_code == 200 and resp.json["results"][0]["status"] == "applied", resp.body

    _at(api.clock, "10:04:00")
    assert pump.run_once() == 1
    second = _mass_tasks(api, token)[-1]
    assert second["step_id"] == "s2"
    assert [c["customer_id"] for c in second["customers"]] == [other]  # the buyer left the plan
    assert "1 skipped" in lines[-1] and "enrollment_ended: 1" in lines[-1]
    assert _schedules(scheduler) == {}  # the last step: nothing left to fire
    assert pump.run_once() == 0


def _tenant_with_a_channel_plan(api: Api, *, after_minutes: int, text: str) -> tuple[str, dict[str, Any]]:
    """A tenant, staff zhang, and a channel whose published one-step plan enrolls every parent who scans it."""
    api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    )
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    step = {"id": "s1", "after_minutes": after_minutes, "content_type": "service", "message": {"text": text}}
    plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "p", "trigger": {"type": "manual"}, "steps": [step]}, token)
    api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token)
    channel = api.call(
        "POST",
        f"/t/{TENANT}/channels",
        {"name": "抖音", "source": "douyin", "plan_id": plan.json["plan_id"], "staff": {"userids": ["zhang"]}},
        token,
    ).json
    return token, channel


def test_start_pump_runs_the_backstop_at_once_and_stops_with_the_stack(api: Api) -> None:
    """A schedule lost while the stack was down (moto keeps none across restarts): the pump's first backstop, at
    start, catches the overdue bucket."""
    token, channel = _tenant_with_a_channel_plan(api, after_minutes=10, text="你好")
    api.scan(channel["state"])
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    for name in _schedules(scheduler):
        scheduler.delete_schedule(Name=name, GroupName=GROUP)  # lost while the stack was down

    api.clock.advance(minutes=11)
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        walker = start_pump(
            Settings(schedule_group=GROUP), scheduler, stack, jobs.Handlers(), clock=api.clock, log=lines.append
        )
        assert "pump: backstop fired 1 overdue bucket(s)" in lines
        assert "pump: ran the periodic jobs at start: backstop, task_sync, silence" in lines
        assert [t["step_id"] for t in _mass_tasks(api, token)] == ["s1"]
        thread = walker.pump._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()  # the ExitStack (Ctrl-C in `make run`) stopped it


def _call_sandbox(api: Api, method: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{api.sandbox.base_url}/sandbox/clock", data=data, method=method)
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_moving_the_clock_a_day_shows_the_next_mornings_task(api: Api) -> None:
    """At 21:55 a parent scans in; the plan's first touch, 30 minutes later, falls in quiet hours and is due at 08:00.
    Moving the stack's clock a day through the sandbox fires it at 08:00, as if the night had passed."""
    token, channel = _tenant_with_a_channel_plan(api, after_minutes=30, text="早上好～")
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        walker = start_pump(
            Settings(schedule_group=GROUP),
            scheduler,
            stack,
            jobs.Handlers(),
            clock=api.clock,
            log=lines.append,
            interval=3600,  # no tick of its own during the test: only the moves walk
        )
        api.sandbox.clock = ClockControl(walker, api.clock, stage="local", timezone="Asia/Shanghai")
        stack.callback(setattr, api.sandbox, "clock", None)

        status, moved = _call_sandbox(api, "POST", {"to": "2026-12-01T21:55:00+08:00"})
        assert status == 200 and moved["schedules_fired"] == 0, moved
        api.scan(channel["state"], userid="zhang")
        assert list(_schedules(scheduler).values()) == ["at(2026-12-02T08:00:00)"]  # quiet hours until 08:00

        status, moved = _call_sandbox(api, "POST", {"advance": "P1D"})
        assert status == 200, moved
        assert moved["from"] == "2026-12-01T21:55:00+08:00" and moved["to"] == "2026-12-02T21:55:00+08:00"
        assert moved["schedules_fired"] == 1 and moved["tasks_created"] == 1 and moved["jobs_coalesced_hourly"]
        assert 0 < moved["job_runs"]["backstop"] <= 25  # at most once per virtual hour
        [task] = _mass_tasks(api, token)
        assert task["step_id"] == "s1" and task["status"] == "created"
        assert task["created_at"].startswith("2026-12-02T08:00:0")  # made at 08:00, as if the night had passed
        assert _schedules(scheduler) == {}

        status, refused = _call_sandbox(api, "POST", {"to": "2026-12-02T08:00:00+08:00"})
        assert status == 409 and refused["error"]["code"] == "clock_moved_back"
        assert _call_sandbox(api, "GET")[1]["now"] == "2026-12-02T21:55:00+08:00"


def test_the_pump_keeps_the_events_secret_file_current_after_a_rotation(api: Api, tmp_path: Path) -> None:
    created = api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    ).json
    (tmp_path / "events_secret").write_text(created["events_secret"] + "\n")
    lines: list[str] = []
    changed: list[str] = []
    watch = SecretWatch(jobs.Handlers(), tmp_path, TENANT, lines.append, changed.append)
    assert watch() is False and lines == []  # the kept secret is the stored one: nothing to say

    rotated = api.call("PATCH", f"/admin/tenants/{TENANT}", {"rotate_events_secret": True}, ADMIN).json
    assert rotated["events_secret"] != created["events_secret"]
    assert watch() is True
    assert (tmp_path / "events_secret").read_text().strip() == rotated["events_secret"]
    assert changed == [rotated["events_secret"]]
    [line] = lines
    assert line.startswith(f"events secret of {TENANT} rotated") and rotated["events_secret"] in line
    assert watch() is False and len(lines) == 1  # one line per rotation
