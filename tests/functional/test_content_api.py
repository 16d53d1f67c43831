"""The content and script libraries through the real app (moto's S3 for the files, the sandbox for WeCom): CRUD and
files over HTTP, references refused when missing, and a step's image that goes out 4 days after it was uploaded to
WeCom (its media_id expired: uploaded again), and a 40007 answered once and recovered."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.functional.conftest import TENANT, Api

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(80))


def _ops(api: Api) -> str:
    api.create_tenant()
    token = api.token(TENANT, "admin")
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    return token


def _image(api: Api, token: str, title: str = "课程海报") -> str:
    made = api.call("POST", f"/t/{TENANT}/content", {"kind": "image", "title": title, "stage": "nurturing"}, token)
    assert made.status_code == 201, made.body
    assert made.json["complete"] is False
    cid = str(made.json["content_id"])
    put = api.call("PUT", f"/t/{TENANT}/content/{cid}/file?filename=poster.png", PNG, token,
                   headers={"Content-Type": "image/png"})  # fmt: skip
    assert put.status_code == 200, put.body
    assert put.json["complete"] is True and put.json["file"]["size"] == len(PNG)
    return cid


def test_content_crud_and_its_file_over_http(api: Api) -> None:
    token = _ops(api)
    cid = _image(api, token)
    got = api.call("GET", f"/t/{TENANT}/content/{cid}/file", token=token, headers={"Accept": "image/png"})
    assert got.status_code == 200 and got.body == PNG and got.headers["Content-Type"] == "image/png"
    viewer = api.token(TENANT, "viewer")
    listed = api.call("GET", f"/t/{TENANT}/content?kind=image", token=viewer)
    assert [c["content_id"] for c in listed.json["items"]] == [cid]
    assert (
        api.call("POST", f"/t/{TENANT}/content", {"kind": "text", "title": "t", "text": "x"}, viewer).status_code == 403
    )
    body = {"rev": 2, "title": "新海报", "tags": ["海报"]}
    first = api.call("PUT", f"/t/{TENANT}/content/{cid}", body, token)
    again = api.call("PUT", f"/t/{TENANT}/content/{cid}", body, token)  # a retried PUT: no second change
    assert first.status_code == again.status_code == 200 and first.json["rev"] == again.json["rev"] == 3
    stale = api.call("PUT", f"/t/{TENANT}/content/{cid}", {"rev": 2, "title": "别的"}, token)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_rev"
    assert api.call("DELETE", f"/t/{TENANT}/content/{cid}", token=token).status_code == 204
    assert api.call("GET", f"/t/{TENANT}/content/{cid}", token=token).status_code == 404
    objects = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="siyu-local-blobs")
    assert objects.get("KeyCount", 0) == 0  # the item's files went with it


def test_bad_content_is_a_clear_400_and_stores_nothing(api: Api) -> None:
    token = _ops(api)
    link = api.call("POST", f"/t/{TENANT}/content", {"kind": "link", "title": "t"}, token)
    assert link.status_code == 400 and link.json["error"]["message"].startswith("url")
    cid = api.call("POST", f"/t/{TENANT}/content", {"kind": "image", "title": "t"}, token).json["content_id"]
    gif = api.call("PUT", f"/t/{TENANT}/content/{cid}/file?filename=a.png", b"GIF89a" * 20, token,
                   headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert gif.status_code == 400 and "PNG" in gif.json["error"]["message"]
    assert api.call("GET", f"/t/{TENANT}/content/{cid}/file", token=token).status_code == 404
    objects = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="siyu-local-blobs")
    assert objects.get("KeyCount", 0) == 0


def test_scripts_by_stage_over_http_and_a_missing_content_reference_is_named(api: Api) -> None:
    token = _ops(api)
    bad = {"stage": "hot", "scene": "closing", "title": "限时", "text": "今晚报名", "content_ids": ["cnt_nope"]}
    refused = api.call("POST", f"/t/{TENANT}/scripts", bad, token)
    assert refused.status_code == 400 and "cnt_nope" in refused.json["error"]["message"]
    cid = _image(api, token)
    made = api.call("POST", f"/t/{TENANT}/scripts", {**bad, "content_ids": [cid]}, token)
    assert made.status_code == 201, made.body
    staff = api.token(TENANT, "staff", "zhang")
    hot = api.call("GET", f"/t/{TENANT}/scripts?stage=hot", token=staff)
    assert [s["title"] for s in hot.json["items"]] == ["限时"] and hot.json["items"][0]["scene_name"] == "促单"
    channel = {"name": "抖音", "source": "douyin", "staff": {"userids": ["zhang"]},
               "welcome": {"text": "您好", "content_ids": ["cnt_gone"]}}  # fmt: skip
    refused = api.call("POST", f"/t/{TENANT}/channels", channel, token)
    assert refused.status_code == 400 and "cnt_gone" in refused.json["error"]["message"]


def _plan(api: Api, token: str, content_ids: list[str]) -> str:
    step = {"id": "d4", "day": 4, "at": "10:00", "content_type": "content",
            "message": {"text": "资料发你", "content_ids": content_ids}}  # fmt: skip
    doc = {"name": "资料包培育", "trigger": {"type": "manual"}, "steps": [step]}
    plan = api.call("POST", f"/t/{TENANT}/plans", doc, token)
    assert plan.status_code == 201, plan.body
    assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    return str(plan.json["plan_id"])


def _enroll(api: Api, token: str, plan_id: str, welcome: dict[str, Any]) -> dict[str, Any]:
    """A channel into the plan; one customer scans it; the day-4 step's schedule (its Scheduler target input)."""
    body = {"name": "抖音", "source": "douyin", "plan_id": plan_id, "staff": {"userids": ["zhang"]}, "welcome": welcome}
    channel = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert channel.status_code == 201, channel.body
    assert api.scan(channel.json["state"])[1].status_code == 200
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    (schedule,) = scheduler.list_schedules(GroupName="siyu-functional")["Schedules"]
    detail = scheduler.get_schedule(Name=schedule["Name"], GroupName="siyu-functional")
    return dict(json.loads(detail["Target"]["Input"]))


def _sent_templates(api: Api) -> list[Any]:
    return api.sandbox.world.calls("externalcontact/add_msg_template")


def test_a_touch_four_days_after_its_image_was_uploaded_goes_out(api: Api) -> None:
    token = _ops(api)
    cid = _image(api, token)
    plan_id = _plan(api, token, [cid])
    target = _enroll(api, token, plan_id, {"text": "您好", "content_ids": [cid]})  # the welcome uploads it today
    [welcome] = api.sandbox.world.welcome_messages()
    first_media = welcome["attachments"][0]["image"]["media_id"]
    api.clock.advance(days=4)  # past 10:00 on day 4 is not needed: the fire is at its time (the clock moved 4 days)
    fired = api.client.lambda_.invoke("fire", target).payload
    assert fired["sent"] == 1 and fired["failed"] == 0, fired
    [call] = _sent_templates(api)
    assert call.errcode == 0  # WeCom never saw the expired media_id: uploaded again first
    assert call.payload["attachments"][0]["image"]["media_id"] != first_media
    assert call.payload["text"]["content"] == "资料发你"


def test_a_40007_when_the_touch_is_sent_is_recovered_once(api: Api) -> None:
    token = _ops(api)
    cid = _image(api, token)
    plan_id = _plan(api, token, [cid])
    target = _enroll(api, token, plan_id, {"text": "您好"})
    api.clock.advance(days=4)
    api.sandbox.world.inject("externalcontact/add_msg_template", 40007)
    fired = api.client.lambda_.invoke("fire", target).payload
    assert fired["sent"] == 1 and fired["failed"] == 0, fired
    assert [c.errcode for c in _sent_templates(api)] == [40007, 0]
    uploads = [c for c in api.sandbox.world.calls("media/upload") if c.errcode == 0]
    assert len(uploads) == 2  # before the send, and again after WeCom refused the media
