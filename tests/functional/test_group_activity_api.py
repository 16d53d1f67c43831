"""Group activity and group stats through the real app (chalice.test.Client, moto DynamoDB, the WeCom sandbox):
group messages and check-ins posted as business events become active members and day counters, once each."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib import bootstrap
from chalicelib.domain.business_events import sign
from chalicelib.domain.groups import GroupState
from chalicelib.domain.signals import GROUP_JOINED, Signal
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
BASE = f"/t/{TENANT}/groups/{CHAT}"


def _setup(api: Api) -> tuple[str, str, list[str]]:
    """A tenant, a group of 30 members, and two customers scanned in: (token, events secret, customer ids)."""
    created = api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    )
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    body = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}, "welcome": {"text": "您好"}}
    state = api.call("POST", f"/t/{TENANT}/channels", body, token).json["state"]
    customers = [api.scan(state)[1].json["customer_id"] for _ in range(2)]
    store = bootstrap.services().store
    assert store.save_group_state(TENANT, CHAT, GroupState(name="考研数学·3期·01", member_count=30), expected_rev=0)
    return token, created.json["events_secret"], customers


def _post(api: Api, secret: str, events: list[dict[str, Any]]) -> Any:
    raw = json.dumps({"events": events}, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200, resp.body
    return resp.json


def _message(api: Api, event_id: str, customer_id: str, seconds_ago: int = 60) -> dict[str, Any]:
    return {"event_id": event_id, "type": "message", "customer_id": customer_id, "chat_id": CHAT,
            "occurred_at": api.clock.iso(seconds_ago=seconds_ago), "text": "老师，今天的题做完了"}  # fmt: skip


def test_group_messages_make_active_members_and_day_counters_once(api: Api) -> None:
    token, secret, (c1, c2) = _setup(api)
    first = _post(api, secret, [_message(api, "m1", c1), _message(api, "m2", c1, 30), _message(api, "m3", c2)])
    assert [r["status"] for r in first["results"]] == ["applied"] * 3
    api.clock.advance(seconds=5)
    again = _post(api, secret, [_message(api, "m1", c1)])  # a retried delivery
    assert again["results"][0]["status"] == "duplicate"
    activity = api.call("GET", f"{BASE}/activity", token=token)
    assert activity.status_code == 200, activity.body
    assert (activity.json["active_count"], activity.json["silent_count"], activity.json["window_days"]) == (2, 28, 7)
    by_member = {a["member"]: a for a in activity.json["active"]}
    assert by_member[c1]["messages"] == 2 and by_member[c1]["last_spoke_at"] == "2026-12-01T09:59:35+08:00"
    stats = api.call("GET", f"{BASE}/stats?from=2026-12-01&to=2026-12-01", token=token)
    assert stats.status_code == 200, stats.body
    day = stats.json["days"][0]
    assert (day["date"], day["messages"], day["speakers"], day["members"]) == ("2026-12-01", 3, 2, None)
    text = json.dumps(stats.json, ensure_ascii=False) + json.dumps(activity.json, ensure_ascii=False)
    assert "老师，今天" not in text  # message text is never kept


def test_a_window_a_tenant_default_and_joins_by_scene(api: Api) -> None:
    token, secret, (c1, _) = _setup(api)
    _post(api, secret, [_message(api, "m1", c1, seconds_ago=3 * 86_400)])
    assert api.call("GET", f"{BASE}/activity?window_days=2", token=token).json["active_count"] == 0
    assert api.call("GET", f"/t/{TENANT}/settings/group-activity", token=token).json == {"window_days": 7}
    put = api.call("PUT", f"/t/{TENANT}/settings/group-activity", {"window_days": 2}, token)
    assert put.status_code == 200 and put.json == {"window_days": 2}
    assert api.call("GET", f"{BASE}/activity", token=token).json["active_count"] == 0
    svc = bootstrap.services()  # until change_external_chat publishes joins (g2), the signal is published here
    tenant = svc.tenants.get(TENANT)
    joined = Signal(GROUP_JOINED, api.clock.now() - timedelta(minutes=1), kind="3", chat_id=CHAT, ref="j1")
    svc.signals.publish(tenant, CHAT, joined)
    svc.signals.publish(tenant, CHAT, joined)
    day = api.call("GET", f"{BASE}/stats", token=token).json["days"][-1]
    assert (day["joins"], day["joins_by_scene"], day["members"]) == (1, {"3": 1}, 30)


def test_bad_reads_are_clear_4xx_and_store_nothing(api: Api) -> None:
    token, _, _ = _setup(api)
    for url in (
        f"{BASE}/activity?window_days=0",
        f"{BASE}/activity?window_days=91",
        f"{BASE}/stats?from=2026-12-02&to=2026-12-01",
        f"{BASE}/stats?from=2026-01-01&to=2026-12-01",
        f"{BASE}/stats?from=yesterday",
        f"{BASE}/stats?since=2026-12-01",
    ):
        resp = api.call("GET", url, token=token)
        assert resp.status_code == 400 and resp.json["error"]["code"], (url, resp.body)
    assert api.call("GET", f"/t/{TENANT}/groups/wrNope/activity", token=token).status_code == 404
    assert api.call("GET", f"/t/{TENANT}/groups/wrNope/stats", token=token).status_code == 404
    bad = api.call("PUT", f"/t/{TENANT}/settings/group-activity", {"window_days": 365}, token)
    assert bad.status_code == 400
    assert api.call("GET", f"/t/{TENANT}/settings/group-activity", token=token).json == {"window_days": 7}
