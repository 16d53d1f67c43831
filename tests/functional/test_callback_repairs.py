"""Issue 9 §3 through the real app: a callback whose WeCom calls fail still answers 200 at once, a welcome nobody
sent shows on the timeline and as the owner's task, and the ``repair`` job makes the rest from the repair queue —
the table-backed queue of the local stage, and SQS (with its dead-letter queue) as deployed, both under moto. The job
runs inside the backstop (app.py); here it is called on its own, and once through the backstop's handler."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.adapters.dynamodb.repairs import TableRepairQueue
from chalicelib.bootstrap import services
from chalicelib.errors import UpstreamError
from chalicelib.jobs import repairs as repair_jobs
from tests.functional.conftest import CORP, TENANT, Api

MARK, WELCOME, ROTATE = (
    "externalcontact/mark_tag",
    "externalcontact/send_welcome_msg",
    "externalcontact/update_contact_way",
)


def _setup(api: Api) -> tuple[str, dict[str, Any]]:
    token = api.create_tenant()
    for userid, name in (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    resp = api.call(
        "POST",
        f"/t/{TENANT}/channels",
        {
            "name": "抖音-考研直播间",
            "source": "douyin",
            "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"]},
            "welcome": {"text": "您好，资料包稍后发您～"},
            "tags": [{"group": "流量平台来源", "name": "抖音"}],
        },
        token,
    )
    assert resp.status_code == 201, resp.body
    return token, resp.json


def _tags_in_wecom(api: Api, fields: dict[str, Any]) -> list[str]:
    follow = api.sandbox.world.corps[CORP].follows[fields["ExternalUserID"]][fields["UserID"]]
    return list(follow.tags)


def test_failed_tags_and_rotation_are_repaired_from_the_table_queue(api: Api) -> None:
    _, channel = _setup(api)
    api.sandbox.world.inject(MARK, 45009)
    api.sandbox.world.inject(ROTATE, 45033)
    fields, resp = api.scan(channel["state"])
    assert resp.status_code == 200 and resp.json["outcome"] == "created" and resp.json["welcome"] == "sent"
    assert _tags_in_wecom(api, fields) == []
    queue = services().repairs.queue  # type: ignore[union-attr]
    assert isinstance(queue, TableRepairQueue)

    report = repair_jobs.repair()
    assert report == {"repairs_received": 2, "repairs_made": 2, "repairs_retried": 0, "repairs_dead": 0}
    assert len(_tags_in_wecom(api, fields)) == 1
    assert [c.errcode for c in api.sandbox.world.calls(ROTATE)][-1] == 0
    assert repair_jobs.repair()["repairs_received"] == 0  # done items are gone

    # WeCom redelivers the callback: a duplicate, which queues nothing and calls nothing.
    calls = len(api.sandbox.world.calls())
    again = api.callback(TENANT, fields)
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert len(api.sandbox.world.calls()) == calls and repair_jobs.repair()["repairs_received"] == 0


def test_a_hopeless_repair_is_dead_with_its_reason_in_the_table(api: Api) -> None:
    _, channel = _setup(api)
    api.sandbox.world.inject(MARK, 84061, 2)  # no relationship: WeCom will never take it
    api.scan(channel["state"])
    assert repair_jobs.repair()["repairs_dead"] == 1
    queue = services().repairs.queue  # type: ignore[union-attr]
    assert isinstance(queue, TableRepairQueue)
    [(item, reason, receives)] = queue.dead_items()
    assert item is not None and item.kind == "mark_tag" and reason == "wecom_invalid_argument" and receives == 1
    assert repair_jobs.repair()["repairs_received"] == 0


def test_a_missed_welcome_is_on_the_timeline_and_a_task_for_the_owner(api: Api) -> None:
    token, channel = _setup(api)
    api.sandbox.world.inject(WELCOME, -1, 5)
    _, resp = api.scan(channel["state"])
    assert resp.status_code == 200 and resp.json["welcome"] == "failed"
    cid = resp.json["customer_id"]
    entries = api.call("GET", f"/t/{TENANT}/customers/{cid}/timeline?limit=50", token=token).json["items"]
    assert [e["type"] for e in entries].count("welcome_missed") == 1
    tasks = [t for t in api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"] if t["kind"] == "welcome"]
    assert len(tasks) == 1 and tasks[0]["userid"] == "zhanglaoshi" and tasks[0]["customer_ids"] == [cid]


@pytest.fixture
def sqs(api: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The deployed shape: a repair queue with a redrive policy to its DLQ (infra/resources.json), in moto."""
    client = boto3.client("sqs", region_name="us-east-1")
    dlq = client.create_queue(QueueName="siyu-functional-repair-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"})
    queue = client.create_queue(QueueName="siyu-functional-repair", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    monkeypatch.setenv("SIYU_REPAIR_QUEUE_URL", queue)
    monkeypatch.setenv("SIYU_REPAIR_DLQ_URL", dlq)
    return client, queue, dlq


def _letters(client: Any, url: str) -> list[dict[str, Any]]:
    messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") or []
    return [json.loads(m["Body"]) for m in messages]


def test_a_failed_tag_marking_is_repaired_through_sqs(api: Api, sqs: Any) -> None:
    client, queue, dlq = sqs
    _, channel = _setup(api)
    api.sandbox.world.inject(MARK, 45009)
    fields, resp = api.scan(channel["state"])
    assert resp.status_code == 200 and resp.json["outcome"] == "created"
    attrs = client.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert repair_jobs.repair() == {"repairs_received": 1, "repairs_made": 1, "repairs_retried": 0, "repairs_dead": 0}
    assert len(_tags_in_wecom(api, fields)) == 1
    assert repair_jobs.repair()["repairs_received"] == 0 and _letters(client, dlq) == []


def test_poison_and_hopeless_items_go_to_the_dlq_with_their_reason(api: Api, sqs: Any) -> None:
    client, queue, dlq = sqs
    _, channel = _setup(api)
    client.send_message(QueueUrl=queue, MessageBody="not a repair")
    api.sandbox.world.inject(MARK, 84061, 2)
    api.scan(channel["state"])
    assert repair_jobs.repair()["repairs_dead"] == 2
    letters = sorted(_letters(client, dlq), key=lambda letter: letter["reason"])
    assert [(letter["reason"], letter["receives"]) for letter in letters] == [
        ("unreadable", 1),
        ("wecom_invalid_argument", 1),
    ]
    assert json.loads(letters[1]["body"])["kind"] == "mark_tag"
    assert repair_jobs.repair()["repairs_received"] == 0


def test_the_sandbox_takes_a_delay_fault(api: Api) -> None:
    import urllib3

    resp = urllib3.PoolManager().request(
        "POST",
        f"{api.sandbox.base_url}/sandbox/faults",
        body=json.dumps({"api": "externalcontact/get", "delay_ms": 4000, "times": 2}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 200 and json.loads(resp.data)["delay_ms"] == 4000
    assert api.sandbox.world.delays == {"externalcontact/get": [4.0, 4.0]}
    api.sandbox.world.delays.clear()  # the sandbox is shared by the session: no slow call for later tests
    for bad in ({"api": "externalcontact/get"}, {"api": "externalcontact/get", "delay_ms": -1}):
        refused = urllib3.PoolManager().request(
            "POST",
            f"{api.sandbox.base_url}/sandbox/faults",
            body=json.dumps(bad).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert refused.status == 400 and json.loads(refused.data)["error"]["code"] == "invalid_request"
    assert api.sandbox.world.delays == {} and api.sandbox.world.faults == {}


def test_the_backstop_runs_the_repairs(api: Api) -> None:
    _, channel = _setup(api)
    api.sandbox.world.inject(MARK, 45009)
    fields, _ = api.scan(channel["state"])
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    report = api.client.lambda_.invoke("backstop", event).payload
    assert report["buckets_fired"] == 0 and report["repairs_made"] == 1
    assert len(_tags_in_wecom(api, fields)) == 1


def test_the_backstop_catches_up_a_channel_enrollment_the_callback_could_not_make(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, channel = _setup(api)
    plan = api.call(
        "POST",
        f"/t/{TENANT}/plans",
        {
            "name": "新客7天培育",
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}],
        },
        token,
    ).json
    assert api.call("POST", f"/t/{TENANT}/plans/{plan['plan_id']}/publish", {}, token).status_code == 200
    patch = {"plan_id": plan["plan_id"]}
    assert api.call("PATCH", f"/t/{TENANT}/channels/{channel['channel_id']}", patch, token).status_code == 200
    sop = services().sop

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise UpstreamError("DynamoDB refused the enrollment")

    with monkeypatch.context() as patched:
        patched.setattr(sop, "enroll", refused)  # the callback's enrollment fails; the customer is stored
        api.scan(channel["state"])
    [customer] = api.call("GET", f"/t/{TENANT}/customers", None, token).json["items"]
    enrollments = f"/t/{TENANT}/plans/{plan['plan_id']}/enrollments"
    assert api.call("GET", enrollments, None, token).json["items"] == []
    api.clock.advance(minutes=3)
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    api.client.lambda_.invoke("backstop", event)
    items = api.call("GET", enrollments, None, token).json["items"]
    assert len(items) == 1 and items[0]["source"] == "channel"
    assert items[0]["customer_id"] == customer["customer_id"]


def test_a_dead_letter_redriven_from_the_dlq_is_retried(api: Api, sqs: Any) -> None:
    """The runbook's replay: SQS's redrive moves a dead letter back to the queue as it is (the job's
    {"reason", "receives", "body"}), and the job takes the item out of its body."""
    client, queue, dlq = sqs
    _, channel = _setup(api)
    api.sandbox.world.inject(MARK, 84061, 2)  # refused in the callback and in the repair: dead
    fields, _ = api.scan(channel["state"])
    assert repair_jobs.repair()["repairs_dead"] == 1
    [message] = client.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["reason"] == "wecom_invalid_argument"
    client.send_message(QueueUrl=queue, MessageBody=message["Body"])  # what "Start DLQ redrive" does
    client.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    assert repair_jobs.repair() == {"repairs_received": 1, "repairs_made": 1, "repairs_retried": 0, "repairs_dead": 0}
    assert len(_tags_in_wecom(api, fields)) == 1
    client.send_message(QueueUrl=queue, MessageBody=json.dumps({"reason": "x", "receives": 1, "body": "{}"}))
    assert repair_jobs.repair()["repairs_dead"] == 1  # a letter whose body is no item is still poison
