"""Alerts to staff through the real app and the WeCom sandbox: a positive reply reaches the owner's WeCom once, as
a textcard linking to the console; one in the quiet hours arrives at their end, sent by the task sync job."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from chalicelib.domain.business_events import sign
from chalicelib.jobs import tasks as task_jobs
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

AGENT_ID = 1000002


def setup_tenant(api: Api, *, agent_id: int | None = AGENT_ID) -> tuple[str, str]:
    """A tenant with its app's agent id, staff zhang (lead wang) and a channel; returns (admin token, events secret)."""
    wecom = {**WECOM, "agent_id": agent_id} if agent_id else WECOM
    body = {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": wecom}
    created = api.call("POST", "/admin/tenants", body, ADMIN)
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    for staff in ({"userid": "wang", "name": "王主管"}, {"userid": "zhang", "name": "张老师", "lead_userid": "wang"}):
        assert api.call("POST", f"/t/{TENANT}/staff", staff, token).status_code == 201
    return token, created.json["events_secret"]


def customer(api: Api, token: str, name: str = "李妈妈") -> tuple[str, str]:
    channel = {"name": "抖音直播间", "source": "douyin", "staff": {"userids": ["zhang"]}}
    state = api.call("POST", f"/t/{TENANT}/channels", channel, token).json["state"]
    fields, scanned = api.scan(state, name=name)
    assert scanned.status_code == 200
    return str(scanned.json["customer_id"]), str(fields["ExternalUserID"])


def reply(api: Api, secret: str, cid: str, event_id: str = "m-1", text: str = "试听课怎么报名？") -> Any:
    event = {"event_id": event_id, "type": "message", "customer_id": cid, "occurred_at": api.clock.iso(), "text": text}
    raw = json.dumps(event, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200, resp.body
    return resp.json["results"][0]


def arrived(api: Api, userid: str = "zhang") -> list[dict[str, Any]]:
    """What reached the member's WeCom, read through the sandbox's control route."""
    query = urlencode({"corp_id": CORP, "userid": userid})
    with urllib.request.urlopen(f"{api.sandbox.base_url}/sandbox/app_messages?{query}", timeout=5) as resp:
        messages: list[dict[str, Any]] = json.load(resp)["app_messages"]
    return messages


def test_a_positive_reply_reaches_the_owner_in_wecom_once_linking_to_the_customer(api: Api) -> None:
    token, secret = setup_tenant(api)
    cid, _ = customer(api, token)
    assert reply(api, secret, cid)["reply"] == "positive"
    api.clock.advance(seconds=30)
    assert reply(api, secret, cid)["status"] == "duplicate"  # the same event delivered again
    [card] = arrived(api)
    assert card["status"] == "delivered" and card["agentid"] == AGENT_ID
    assert card["title"] == "热线索：李妈妈刚刚积极回复" and card["btntxt"] == "去跟进"
    assert card["url"] == f"http://console.test/console/{TENANT}/customers/{cid}"
    assert "报名" not in card["description"]  # never the customer's words
    assert arrived(api, "wang") == []
    assert task_jobs.sync()["alerts_sent"] == 0  # nothing left for the job
    assert len(arrived(api)) == 1


def test_alerts_in_the_quiet_hours_arrive_at_their_end(api: Api) -> None:
    """The reply's alert waits for 08:00; so do the alerts of its follow-up task, escalated overnight (due 15 minutes
    after the reply, overdue 2 hours later): at 08:00 the owner has both and the lead the escalation, each once."""
    token, secret = setup_tenant(api)
    cid, _ = customer(api, token)
    api.clock.move_to(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))  # 23:30 in Shanghai: quiet
    reply(api, secret, cid)
    assert arrived(api) == []
    assert task_jobs.sync()["alerts_sent"] == 0
    api.clock.move_to(datetime(2026, 12, 1, 23, 59, tzinfo=UTC))  # 07:59: still quiet (the task escalates now)
    assert task_jobs.sync()["escalated"] == 1
    assert arrived(api) == [] and arrived(api, "wang") == []
    api.clock.move_to(datetime(2026, 12, 2, 0, 0, 30, tzinfo=UTC))  # 08:00:30
    assert task_jobs.sync()["alerts_sent"] == 3
    by_title = {card["title"]: card for card in arrived(api)}
    assert sorted(by_title) == ["任务逾期", "热线索：李妈妈刚刚积极回复"]
    hot = by_title["热线索：李妈妈刚刚积极回复"]
    assert hot["sent_at"] == datetime(2026, 12, 2, 0, 0, 30, tzinfo=UTC).timestamp()
    [lead] = arrived(api, "wang")
    assert lead["title"] == "任务逾期已升级" and lead["url"] == f"http://console.test/console/{TENANT}/my"
    api.clock.advance(minutes=10)
    assert task_jobs.sync()["alerts_sent"] == 0 and len(arrived(api)) == 2


def test_without_an_agent_id_no_alert_is_sent_and_the_reply_still_counts(api: Api) -> None:
    token, secret = setup_tenant(api, agent_id=None)
    cid, _ = customer(api, token)
    assert reply(api, secret, cid)["status"] == "applied"
    assert arrived(api) == [] and api.sandbox.world.calls("message/send") == []


def test_a_customer_who_deletes_their_staff_member_alerts_them(api: Api) -> None:
    token, _ = setup_tenant(api)
    cid, ext = customer(api, token)
    fields = api.sandbox.world.event(CORP, "del_follow_user", userid="zhang", external_userid=ext)
    assert api.callback(TENANT, fields).status_code == 200
    [card] = arrived(api)
    assert card["title"] == "客户流失：李妈妈" and card["url"].endswith(f"/console/{TENANT}/customers/{cid}")
