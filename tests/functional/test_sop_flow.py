"""The SOP engine end to end through the real app: a plan, a channel that enrolls, a due touch fired by the
backstop Lambda, the staff task in the API and in the sandbox, and a signed purchase that ends the enrollment."""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def _setup(api: Api, steps: list[dict[str, Any]]) -> tuple[str, str, str]:
    created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                  "wecom": WECOM}, ADMIN)  # fmt: skip
    secret = created.json["events_secret"]
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    plan = api.call(
        "POST",
        f"/t/{TENANT}/plans",
        {
            "name": "新客7天培育",
            "trigger": {"type": "manual"},
            "steps": steps,
            "exit": [{"type": "order", "kind": "trial"}],
        },
        token,
    )
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin", "plan_id": plan_id,
                                                         "staff": {"userids": ["zhang"]}}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, secret, channel.json["state"]


def _backstop(api: Api) -> Any:
    return api.client.lambda_.invoke(
        "backstop",
        api.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        ),
    )


def test_a_due_touch_becomes_one_staff_task_and_a_purchase_ends_the_plan(api: Api) -> None:
    token, secret, state = _setup(
        api,
        [
            {
                "id": "s1",
                "after_minutes": 0,
                "content_type": "service",
                "message": {"text": "同学你好，资料包发你～"},
                "notes": "破冰：先问考研年份",
            },
            {"id": "s2", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
        ],
    )
    customers = [api.scan(state)[1].json["customer_id"] for _ in range(3)]
    # s1 is due at once: each scan's enrollment fires it on the spot (no schedule, no wait for the backstop).
    calls = api.sandbox.world.calls("externalcontact/add_msg_template")
    assert [c.payload["sender"] for c in calls] == ["zhang"] * 3
    tasks = api.call("GET", f"/t/{TENANT}/tasks?userid=zhang", token=token).json["items"]
    mass = [t for t in tasks if t["kind"] == "mass"]
    assert {t["status"] for t in mass} == {"created"} and {t["notes"] for t in mass} == {"破冰：先问考研年份"}
    assert sorted(c["customer_id"] for t in mass for c in t["customers"]) == sorted(customers)
    task = mass[0]
    assert _backstop(api).payload["buckets_fired"] == 0  # nothing left: no second task
    # The next step (day 1 at 10:00) went to EventBridge Scheduler as one schedule for all three customers.
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    schedules = scheduler.list_schedules(GroupName="siyu-functional")["Schedules"]
    assert len(schedules) == 1
    detail = scheduler.get_schedule(Name=schedules[0]["Name"], GroupName="siyu-functional")
    assert detail["ScheduleExpression"].endswith("T10:00:00)") and detail["ActionAfterCompletion"] == "DELETE"
    assert detail["FlexibleTimeWindow"] == {"Mode": "OFF"}
    # Staff confirm by hand, with a screenshot.
    done = api.call(
        "POST", f"/t/{TENANT}/tasks/{task['task_id']}/confirm", {"proof_url": "https://img.example.com/p.png"}, token
    )
    assert done.status_code == 200 and done.json["status"] == "confirmed"
    # A trial purchase ends that customer's enrollment; the scheduled touch will skip at fire time.
    raw = json.dumps(
        {
            "event_id": "o-1",
            "type": "order",
            "customer_id": customers[0],
            "kind": "trial",
            "occurred_at": api.clock.iso(seconds_ago=5),
            "amount": 9.9,
            "product": "体验课",
        }
    ).encode()
    stamp = api.clock.stamp()
    resp = api.call(
        "POST",
        f"/t/{TENANT}/events",
        raw,
        headers={"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)},
    )
    assert resp.status_code == 200 and resp.json["results"][0]["status"] == "applied"
    fired = api.client.lambda_.invoke("fire", detail["Target"]["Input"] and json.loads(detail["Target"]["Input"]))
    report = fired.payload
    assert report["skipped"] == 1 and report["reasons"] == {"enrollment_ended": 1}  # the buyer exited on the order
    assert report["sent"] == 0 and report["moved"] == 0  # fired early: the others stay for 10:00 tomorrow


def test_staff_see_only_their_own_tasks_and_simulate_needs_no_writes(api: Api) -> None:
    token, _, state = _setup(
        api, [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "你好"}}]
    )
    api.scan(state)
    _backstop(api)
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "li", "name": "李老师"}, token)
    li = api.token(TENANT, "staff", "li")
    assert api.call("GET", f"/t/{TENANT}/tasks", token=li).json["items"] == []
    zhang = api.token(TENANT, "staff", "zhang")
    mine = api.call("GET", f"/t/{TENANT}/tasks", token=zhang).json["items"]
    assert len(mine) == 1
    assert api.call("POST", f"/t/{TENANT}/tasks/{mine[0]['task_id']}/confirm", {}, li).status_code == 404
    plans = api.call("GET", f"/t/{TENANT}/plans", token=token).json["items"]
    sim = api.call(
        "POST",
        f"/t/{TENANT}/plans/{plans[0]['plan_id']}/simulate",
        {"days": 2, "cohort": [{"id": "c1", "joined_at": "2026-12-01T21:50:00+08:00"}]},
        token,
    )
    assert sim.status_code == 200, sim.body
    assert [t["step_id"] for t in sim.json["touches"]] == ["s1"]
    assert len(api.sandbox.world.calls("externalcontact/add_msg_template")) == 1  # the simulation sent nothing


def test_bulk_enrollment_and_migration_over_http(api: Api) -> None:
    token, _, state = _setup(api, [{"id": "s1", "day": 1, "at": "10:00", "content_type": "interactive",
                                    "message": {"text": "每日一练"}}])  # fmt: skip
    plan_id = api.call("GET", f"/t/{TENANT}/plans", token=token).json["items"][0]["plan_id"]
    scanned = [api.scan(state)[1].json["customer_id"] for _ in range(4)]  # the channel enrolls them
    # The channel's enrollment made the new customers `nurturing` (issue 7 §7), so that is the stage to filter on.
    body = {"filter": {"stage": "nurturing"}}
    job = api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments/bulk", body, token)
    assert job.status_code == 202 and job.json["status"] == "done" and job.json["scanned"] == 4
    assert job.json["enrolled"] == 0 and job.json["skipped"] == 4  # already enrolled by the channel (re-entry: never)
    assert job.json["refused"] == {"already_enrolled": 4}
    progress = api.call("GET", f"/t/{TENANT}/enrollment-jobs/{job.json['job_id']}", token=token)
    assert progress.json == job.json
    bad = api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments/bulk", {"filter": {"stage": "nope"}}, token)
    assert bad.status_code == 400
    edited = api.call(
        "PATCH",
        f"/t/{TENANT}/plans/{plan_id}",
        {
            "steps": [
                {
                    "id": "s1b",
                    "day": 1,
                    "at": "11:00",
                    "content_type": "interactive",
                    "message": {"text": "每日一练 新"},
                }
            ]
        },
        token,
    )
    assert edited.status_code == 200 and edited.json["version"] == 2
    preview = api.call(
        "POST",
        f"/t/{TENANT}/plans/{plan_id}/migrate?dry_run=true",
        {"from_version": 1, "step_map": {"s1": "s1b"}},
        token,
    )
    assert preview.status_code == 200 and preview.json["moves"] == {"s1->s1b": len(scanned)}
    assert preview.json["dry_run"] is True
