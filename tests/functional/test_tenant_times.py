"""Every instant the API returns is in the tenant's zone, with its offset: a walk over the tenant and admin routes
(tenants, tokens, staff, tags, channels, customers, plans, enrollments, jobs, tasks, events) that checks every ISO
timestamp in every response, for a tenant in Asia/Shanghai and one in America/New_York."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, WECOM, Api

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def instants(body: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (json path, value) in ``body`` whose value is an ISO date-time, whatever its key."""
    if isinstance(body, dict):
        return [found for k, v in body.items() for found in instants(v, f"{path}/{k}")]
    if isinstance(body, list):
        return [found for i, v in enumerate(body) for found in instants(v, f"{path}/{i}")]
    return [(path, body)] if isinstance(body, str) and INSTANT.match(body) else []


class Walk:
    """Calls routes and collects every timestamp of every response, by route."""

    def __init__(self, api: Api, tenant_id: str) -> None:
        self.api = api
        self.tenant_id = tenant_id
        self.seen: list[tuple[str, str, str]] = []  # (route, json path, value)
        self.token = ""

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None, ok: int = 200) -> Any:
        resp = self.api.call(method, path, body, token if token is not None else self.token)
        assert resp.status_code == ok, (method, path, resp.body)
        self.seen += [(f"{method} {path}", p, v) for p, v in instants(resp.json)]
        return resp.json

    def wrong(self, offset: str) -> list[tuple[str, str, str]]:
        return [s for s in self.seen if not s[2].endswith(offset)]


def _walk(api: Api, tenant_id: str, timezone: str) -> Walk:
    w = Walk(api, tenant_id)
    t = f"/t/{tenant_id}"
    created = w("POST", "/admin/tenants", {"tenant_id": tenant_id, "name": "示例教育", "corp_id": CORP, "wecom": WECOM,
                                            "timezone": timezone}, ADMIN, ok=201)  # fmt: skip
    secret = created["events_secret"]
    w.token = w("POST", f"/admin/tenants/{tenant_id}/tokens", {"role": "admin"}, ADMIN, ok=201)["token"]
    w("GET", f"/admin/tenants/{tenant_id}", token=ADMIN)
    w("GET", "/admin/tenants", token=ADMIN)
    w("PATCH", f"/admin/tenants/{tenant_id}", {"name": "示例教育集团"}, ADMIN)
    # Staff (成员): created_at was +00:00 before.
    w("POST", f"{t}/staff", {"userid": "zhang", "name": "张老师"}, ok=201)
    w("POST", f"{t}/staff", {"userid": "wang", "name": "王主管"}, ok=201)
    w("PATCH", f"{t}/staff/zhang", {"lead_userid": "wang"})
    w("GET", f"{t}/staff")
    w("GET", f"{t}/staff/zhang")
    staff_token = w("POST", f"/admin/tenants/{tenant_id}/tokens", {"role": "staff", "staff_userid": "zhang"}, ADMIN,
                    ok=201)["token"]  # fmt: skip
    # Tags (标签).
    group = w("POST", f"{t}/tag-groups", {"name": "意向科目", "tags": ["政治"]}, ok=201)
    w("POST", f"{t}/tag-groups/{group['group_id']}/tags", {"name": "2028"}, ok=201)
    tags = w("GET", f"{t}/tag-groups")
    # A plan (培育计划) whose first touch is due at once, so a scan makes a staff task.
    plan = w("POST", f"{t}/plans", {"name": "新客培育", "trigger": {"type": "manual"}, "steps": [
        {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "同学你好～"}},
        {"id": "s2", "day": 2, "at": "10:00", "content_type": "service", "message": {"text": "资料包看了吗？"}}]},
        ok=201)  # fmt: skip
    pid = plan["plan_id"]
    w("POST", f"{t}/plans/{pid}/publish")
    w("GET", f"{t}/plans")
    w("GET", f"{t}/plans/{pid}")
    w("GET", f"{t}/plans/{pid}/versions")
    w("POST", f"{t}/plans/{pid}/simulate", {"days": 3, "cohort": [{"id": "c1", "joined_at": "2026-12-01T02:00:00Z"}]})
    # A channel (渠道活码) that enrolls into the plan, and a scan.
    body = {"name": "抖音直播间", "source": "douyin", "plan_id": pid, "staff": {"userids": ["zhang"]}}
    channel = w("POST", f"{t}/channels", {**body, "welcome": {"text": "您好"}}, ok=201)
    w("GET", f"{t}/channels")
    w("PATCH", f"{t}/channels/{channel['channel_id']}", {"name": "抖音直播间2"})
    w("GET", f"{t}/channels/{channel['channel_id']}")
    fields = api.sandbox.world.scan(CORP, channel["state"])
    cid = api.callback(tenant_id, fields).json["customer_id"]
    api.clock.advance(minutes=1)
    tag_id = tags["items"][0]["tags"][0]["tag_id"]
    w("POST", f"{t}/customers/{cid}/tags", {"add": [tag_id]})
    # A business event (an order), then the customer with its timeline.
    raw = json.dumps({"event_id": "o-1", "type": "order", "customer_id": cid, "kind": "trial", "amount": 9.9,
                      "occurred_at": api.clock.iso(seconds_ago=5)}).encode()  # fmt: skip
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    assert api.call("POST", f"{t}/events", raw, headers=headers).status_code == 200
    w("GET", f"{t}/customers")
    w("GET", f"{t}/customers/{cid}")
    w("POST", f"{t}/customers/{cid}/referral-channel", {}, ok=201)
    # Enrollments and jobs.
    other = w("POST", f"{t}/plans", {"name": "体验课转化", "trigger": {"type": "manual"}, "steps": [
        {"id": "s1", "day": 1, "at": "10:00", "content_type": "service", "message": {"text": "体验课感觉如何？"}}]},
        ok=201)["plan_id"]  # fmt: skip
    w("POST", f"{t}/plans/{other}/publish")
    assert w("POST", f"{t}/plans/{other}/enrollments", {"customer_id": cid}, ok=201)["enrolled"]
    job = w("POST", f"{t}/plans/{pid}/enrollments/bulk", {"filter": {"stage": "new"}}, ok=202)
    w("GET", f"{t}/enrollment-jobs/{job['job_id']}")
    # Tasks (staff tasks): list, read, snooze, confirm.
    tasks = w("GET", f"{t}/tasks")["items"]
    assert tasks, "the scan should have made a staff task"
    task_id = tasks[0]["task_id"]
    w("GET", f"{t}/tasks/{task_id}")
    w("POST", f"{t}/tasks/{task_id}/snooze", {"minutes": 30}, staff_token)
    w("POST", f"{t}/tasks/{task_id}/confirm", {}, staff_token)
    # Tokens, with their last use.
    w("GET", f"/admin/tenants/{tenant_id}/tokens", token=ADMIN)
    return w


@pytest.mark.parametrize(("timezone", "offset"), [("Asia/Shanghai", "+08:00"), ("America/New_York", "-05:00")])
def test_every_timestamp_is_in_the_tenant_zone(api: Api, timezone: str, offset: str) -> None:
    w = _walk(api, "acme", timezone)
    routes = {route for route, _, _ in w.seen}
    assert len(w.seen) >= 40 and len(routes) >= 20, (len(w.seen), sorted(routes))  # the walk really saw timestamps
    assert w.wrong(offset) == []


def test_moving_a_tenant_to_another_zone_moves_every_timestamp(api: Api) -> None:
    w = _walk(api, "acme", "Asia/Shanghai")
    w("PATCH", "/admin/tenants/acme", {"timezone": "Europe/Berlin"}, ADMIN)
    w.seen.clear()
    w("GET", "/admin/tenants/acme", token=ADMIN)
    w("GET", "/admin/tenants/acme/tokens", token=ADMIN)
    w("GET", "/t/acme/staff")
    w("GET", "/t/acme/customers")
    w("GET", "/t/acme/tasks")
    w("GET", "/t/acme/plans")
    assert len(w.seen) >= 10 and w.wrong("+01:00") == []
