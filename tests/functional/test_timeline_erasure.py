"""One record of each customer, and an erasure that leaves nothing behind, through the real app (moto, sandbox).

A scenario touches every feature — a scan through a channel, tags, an enrollment whose first touch fires into a staff
task that is confirmed, a reply with text, an order that exits the plan, a check-in, a custom event, a referral
code — then reads the timeline, erases the customer and scans every table and every schedule for what named them.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api
from tests.functional.test_sop_answers import run_job

WORDS = "老师，这个课多少钱？怎么报名"


def _setup(api: Api) -> tuple[str, str, str]:
    created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                  "wecom": WECOM}, ADMIN)  # fmt: skip
    token = api.token(TENANT, "admin")
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "wang", "name": "王主管"}, token)
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师", "lead_userid": "wang"}, token)
    steps = [
        {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "同学你好，资料包发你～"}},
        {"id": "s2", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
    ]
    plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "新客7天培育", "trigger": {"type": "manual"},
                                                    "steps": steps, "exit": [{"type": "order", "kind": "trial"}]},
                    token)  # fmt: skip
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {
        "name": "抖音", "source": "douyin", "plan_id": plan_id, "staff": {"userids": ["zhang"]},
        "welcome": {"text": "您好"}, "tags": [{"group": "流量平台来源", "name": "抖音"}]}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, created.json["events_secret"], channel.json["state"]


def _event(api: Api, secret: str, body: dict[str, Any]) -> None:
    body = {"occurred_at": api.clock.iso(seconds_ago=5), **body}
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200 and resp.json["results"][0]["status"] == "applied", resp.body


def _story(api: Api) -> tuple[str, str, dict[str, Any], str]:
    """Every feature once for one customer; returns (admin token, customer id, their scan, a bystander's id)."""
    token, secret, state = _setup(api)
    fields, scanned = api.scan(state)
    cid = scanned.json["customer_id"]
    api.clock.advance(seconds=30)
    other = api.scan(state)[1].json["customer_id"]  # a bystander: erasure must leave them whole
    api.clock.advance(seconds=30)
    group = api.call("POST", f"/t/{TENANT}/tag-groups", {"name": "意向", "tags": ["高意向"]}, token).json
    hot = group["tags"][0]["tag_id"]
    assert api.call("POST", f"/t/{TENANT}/customers/{cid}/tags", {"add": [hot]}, token).status_code == 200
    api.clock.advance(minutes=125)  # overdue: the sync escalates it to zhang's lead, a task copying its recipients
    assert run_job(api, "task_sync")["lead_tasks"] >= 1
    escalated = api.call("GET", f"/t/{TENANT}/tasks?userid=wang", token=token).json["items"]
    assert cid in [c["customer_id"] for t in escalated for c in t["customers"]]
    tasks = api.call("GET", f"/t/{TENANT}/tasks?userid=zhang", token=token).json["items"]
    mine = next(t for t in tasks if cid in [c["customer_id"] for c in t["customers"]])
    confirmed = api.call("POST", f"/t/{TENANT}/tasks/{mine['task_id']}/confirm", {}, token)
    assert confirmed.status_code == 200
    api.clock.advance(seconds=30)
    _event(api, secret, {"event_id": "m-1", "type": "message", "customer_id": cid, "text": WORDS})
    api.clock.advance(seconds=30)
    _event(api, secret, {"event_id": "o-1", "type": "order", "customer_id": cid, "kind": "trial", "amount": 9.9})
    api.clock.advance(seconds=30)
    _event(api, secret, {"event_id": "k-1", "type": "checkin", "customer_id": cid, "streak": 3})
    api.clock.advance(seconds=30)
    _event(api, secret, {"event_id": "x-1", "type": "custom", "customer_id": cid, "name": "看完直播"})
    referral = api.call("POST", f"/t/{TENANT}/customers/{cid}/referral-channel", {}, token)
    assert referral.status_code == 201, referral.body
    api.clock.advance(seconds=30)
    friend = api.scan(referral.json["state"])[1].json["customer_id"]  # someone they brought (老带新)
    assert api.call("GET", f"/t/{TENANT}/customers/{friend}", token=token).json["referrer_customer_id"] == cid
    return token, cid, fields, other


def test_the_timeline_tells_the_whole_story_newest_first_in_pages(api: Api) -> None:
    token, cid, _, _ = _story(api)
    detail = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    entries = detail["timeline"]
    assert detail["timeline_next_cursor"] is None
    types = [e["type"] for e in entries]
    assert types == [
        "custom",
        "checkin",
        "order",  # the exit it causes has the order's own time; equal times keep a stable order
        "enrollment_ended",
        "message",
        "tags_changed",
        "touch",
        "enrolled",
        "add_external_contact",
    ]
    by_type = {e["type"]: e for e in entries}
    assert by_type["enrollment_ended"]["detail"]["reason"] == "exit:order:trial"
    touch = by_type["touch"]
    assert touch["detail"]["outcome"] == "sent" and touch["detail"]["step_id"] == "s1"
    assert touch["task"]["status"] == "confirmed" and touch["task"]["kind"] == "mass"
    message = by_type["message"]
    assert message["detail"]["reply"] == "positive" and message["task"]["kind"] == "follow_up"
    assert WORDS not in json.dumps(entries, ensure_ascii=False) and "多少钱" not in json.dumps(entries)
    assert by_type["add_external_contact"]["detail"] == {"first": True}
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
    # The same story two entries a page: the cursor walks it in the same order, nothing twice, nothing lost.
    seen, cursor = [], None
    for _ in range(20):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline?{query}", token=token)
        assert page.status_code == 200, page.body
        seen += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == entries
    older = api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline?before={by_type['order']['at']}", token=token)
    assert [e["type"] for e in older.json["items"]] == types[4:]  # older than the order (and its exit)
    bad = api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline?cursor=bm9wZQ", token=token)
    assert bad.status_code == 400 and bad.json["error"]["code"]


def test_staff_read_only_their_own_customers_timeline(api: Api) -> None:
    token, cid, _, _ = _story(api)
    api.call("POST", f"/t/{TENANT}/staff", {"userid": "li", "name": "李老师"}, token)
    li = api.token(TENANT, "staff", "li")
    zhang = api.token(TENANT, "staff", "zhang")
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline", token=li).status_code == 404
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline", token=zhang).status_code == 200


def _everything(api: Api) -> str:
    """Every item of both tables and every schedule's definition, as one string to search."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    dump = []
    for table in ("siyu-functional", "siyu-functional-idempotency"):
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            dump += page["Items"]
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    for s in scheduler.list_schedules(GroupName="siyu-functional")["Schedules"]:
        dump.append(scheduler.get_schedule(Name=s["Name"], GroupName="siyu-functional")["Target"])
    return json.dumps(dump, ensure_ascii=False, default=str)


def _readd_through(api: Api, token: str, customer_id: str, state: str) -> None:
    """The customer deletes their staff member, then adds again by scanning ``state`` (an existing customer: the
    code does not create them, it only shows in their touches, their fact and that day's count)."""
    ext = api.call("GET", f"/t/{TENANT}/customers/{customer_id}", token=token).json["external_userid"]
    lost = api.callback(TENANT, api.sandbox.world.event(CORP, "del_follow_user", userid="zhang", external_userid=ext))
    assert lost.status_code == 200, lost.body
    api.clock.advance(seconds=30)
    again = api.scan(state, external_userid=ext)[1].json
    assert again["customer_id"] == customer_id and again["outcome"] == "readd", again


def _shared_synced_task(api: Api, token: str, channel_id: str, cid: str, other: str) -> str:
    """Both customers in one task of a second plan (bulk enrolled), sent and synced: the customer has left zhang
    (not_friend), the bystander got it (sent). Its outcomes match its recipients by position. Returns its id."""
    steps = [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "今晚八点直播"}}]
    plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "直播提醒", "trigger": {"type": "manual"}, "steps": steps},
                    token).json["plan_id"]  # fmt: skip
    assert api.call("POST", f"/t/{TENANT}/plans/{plan}/publish", {}, token).status_code == 200
    job = api.call("POST", f"/t/{TENANT}/plans/{plan}/enrollments/bulk", {"filter": {"channel": channel_id}}, token)
    assert job.status_code == 202 and job.json["status"] == "done", job.body
    [task] = [t for t in api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"] if t["plan_id"] == plan]
    assert sorted(task["customer_ids"]) == sorted([cid, other]), task
    ext = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json["external_userid"]
    lost = api.callback(TENANT, api.sandbox.world.event(CORP, "del_follow_user", userid="zhang", external_userid=ext))
    assert lost.status_code == 200, lost.body
    api.clock.advance(minutes=3)
    api.sandbox.world.confirm_task(task["msgid"], "zhang")
    assert run_job(api, "task_sync")["sent"] >= 1
    synced = api.call("GET", f"/t/{TENANT}/tasks/{task['task_id']}", token=token).json
    assert synced["outcomes"] == {cid: "not_friend", other: "sent"}, synced
    return str(task["task_id"])


def test_erasure_leaves_nothing_that_names_the_customer_or_holds_their_words(api: Api) -> None:
    token, cid, fields, other = _story(api)
    code = api.call("POST", f"/t/{TENANT}/customers/{cid}/referral-channel", {}, token).json  # the same code again
    assert cid[1:] not in code["state"]
    _readd_through(api, token, other, code["state"])  # the bystander comes back through the code (老带新)
    profile = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    shared = _shared_synced_task(api, token, profile["source_channel_id"], cid, other)
    before = _everything(api)
    marks = [cid, cid[1:], fields["ExternalUserID"], profile["name"], WORDS, "多少钱"]
    assert all(m in before for m in marks[:4])  # the scan proves what it looks for is there to find
    erased = api.call("DELETE", f"/t/{TENANT}/customers/{cid}", token=token)
    assert erased.status_code == 200 and erased.json["erased"] is True, erased.body
    assert erased.json["tasks_updated"] >= 2  # the mass task's recipients and the follow-up task
    after = _everything(api)
    assert [m for m in marks if m in after] == []
    assert api.call("GET", f"/t/{TENANT}/customers/{other}", token=token).status_code == 200
    kept = api.call("GET", f"/t/{TENANT}/tasks/{shared}", token=token).json  # the bystander keeps their own outcome
    assert kept["customer_ids"] == [other] and kept["outcomes"] == {other: "sent"}, kept
    # Outcomes match recipients by position, and which of the two came first is up to their (random) ids: the
    # stored string must have lost the erased one's character whichever it was.
    head = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="siyu-functional", Key={"pk": {"S": f"T#{TENANT}#TASK#{shared}"}, "sk": {"S": "TASK"}}
    )["Item"]
    assert json.loads(head["doc"]["S"])["outcomes"] == "1" and head["n"]["N"] == "1"
    # Nothing stored named the referrer (the code's id is random), so nothing was rewritten; the code is gone.
    assert other in after and erased.json["referred_customers_unlinked"] == 0 and code["state"] in after
    assert api.call("GET", f"/t/{TENANT}/channels/{code['channel_id']}", token=token).status_code == 404
    friends = api.call("GET", f"/t/{TENANT}/customers?channel={code['state']}", token=token).json["items"]
    assert len(friends) == 1 and friends[0]["referrer_customer_id"] is None  # their own record stays
    back = api.call("GET", f"/t/{TENANT}/customers/{other}", token=token).json
    assert code["state"] in [t["channel_id"] for t in back["touches"]] and back["referrer_customer_id"] is None
    # A repeat finds nothing to erase and changes nothing.
    assert api.call("DELETE", f"/t/{TENANT}/customers/{cid}", token=token).status_code == 404
    assert _everything(api) == after
