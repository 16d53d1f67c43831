"""A staff task WeCom refuses for now (issue 9 §1), through the app, moto's Scheduler and the local pump: the fire
leaves it ``retrying`` with a delayed schedule, the pump fires that schedule through the fire handler a minute after
its retry time, and the task is created in the sandbox once, with no backstop needed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

from devstack import jobs
from devstack.pump import SchedulerPump
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api, TestClock

GROUP = "siyu-functional"
STEP = {"id": "s1", "after_minutes": 2, "content_type": "service", "message": {"text": "同学你好～"}}


def _at(clock: TestClock, hhmmss: str) -> None:
    hour, minute, second = (int(p) for p in hhmmss.split(":"))
    clock.move_to(datetime(2026, 12, 1, hour - 8, minute, second, tzinfo=UTC))


def _schedules(client: Any) -> list[str]:
    names = [s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]]
    return sorted(client.get_schedule(Name=n, GroupName=GROUP)["ScheduleExpression"] for n in names)


def test_a_refused_task_is_retried_by_its_delayed_schedule_through_the_pump(api: Api) -> None:
    api.call(
        "POST",
        "/admin/tenants",
        {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "timezone": "Asia/Shanghai", "wecom": WECOM},
        ADMIN,
    )
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    plan = api.call(
        "POST", f"/t/{TENANT}/plans", {"name": "重试", "trigger": {"type": "manual"}, "steps": [STEP]}, token
    ).json
    assert api.call("POST", f"/t/{TENANT}/plans/{plan['plan_id']}/publish", {}, token).status_code == 200
    channel = api.call(
        "POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin", "staff": {"userids": ["zhang"]}}, token
    ).json
    api.call("PATCH", f"/t/{TENANT}/channels/{channel['channel_id']}", {"plan_id": plan["plan_id"]}, token)
    api.scan(channel["state"], userid="zhang")

    scheduler = boto3.client("scheduler", region_name="us-east-1")
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
    api.sandbox.world.inject("externalcontact/add_msg_template", 45033, 1)  # concurrency limit, once
    _at(api.clock, "10:02:01")
    assert pump.run_once() == 1
    assert "0 sent" in lines[-1] and "1 retrying" in lines[-1]
    [task] = api.call("GET", f"/t/{TENANT}/tasks?status=retrying", token=token).json["items"]
    assert task["reason"] == "wecom_45033" and task["msgid"] is None
    assert _schedules(scheduler) == ["at(2026-12-01T10:03:00)"]  # retry_at 10:02:31, to the next minute

    _at(api.clock, "10:03:01")
    assert pump.run_once() == 1
    assert lines[-1] == f"pump: task {task['task_id']} retried: created"
    done = api.call("GET", f"/t/{TENANT}/tasks/{task['task_id']}", token=token).json
    assert done["status"] == "created" and done["msgid"]
    made = [t for t in api.sandbox.world.corp(CORP).tasks.values() if t.text == "同学你好～"]
    assert [t.msgid for t in made] == [done["msgid"]]
    assert _schedules(scheduler) == [] and pump.run_once() == 0
