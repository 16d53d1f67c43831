"""Issue 7 through the real app: a task confirmed in Siyu follows WeCom to ``sent``; enrollment refusals name their
reason; enrollments list per plan and per customer; stages that enrollment and silence set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def run_job(api: Api, name: str) -> Any:
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return api.client.lambda_.invoke(name, event).payload


def setup_plan(api: Api, *, exits: list[dict[str, Any]] | None = None, publish: bool = True) -> tuple[str, str, str]:
    """A tenant, staff zhang, a published one-step plan and a channel that does not enroll: (token, plan, state)."""
    tenant = {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}
    assert api.call("POST", "/admin/tenants", tenant, ADMIN).status_code == 201
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
    body = {
        "name": "新客7天培育",
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "同学你好～"}}],
        "exit": exits or [],
    }
    plan = api.call("POST", f"/t/{TENANT}/plans", body, token)
    assert plan.status_code == 201, plan.body
    if publish:
        assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "抖音", "source": "douyin",
                                                         "staff": {"userids": ["zhang"]}}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, plan.json["plan_id"], channel.json["state"]


def test_a_task_confirmed_in_siyu_becomes_sent_when_wecom_sends_it(api: Api) -> None:
    token, plan_id, state = setup_plan(api)
    customer_id = api.scan(state)[1].json["customer_id"]
    enrolled = api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": customer_id}, token)
    assert enrolled.status_code == 201, enrolled.body
    [task] = [t for t in api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"] if t["kind"] == "mass"]
    done = api.call("POST", f"/t/{TENANT}/tasks/{task['task_id']}/confirm", {}, token)
    assert done.status_code == 200 and done.json["status"] == "confirmed" and done.json["sent_at"] is None
    api.clock.advance(minutes=3)
    api.sandbox.world.confirm_task(task["msgid"], "zhang")  # 张老师 presses send in WeCom
    run_job(api, "task_sync")
    synced = api.call("GET", f"/t/{TENANT}/tasks/{task['task_id']}", token=token).json
    assert synced["status"] == "sent" and synced["sent_at"] is not None
    assert datetime.fromisoformat(synced["sent_at"]) == datetime.fromisoformat(api.clock.iso())
    assert synced["results"]["sent"] == 1
