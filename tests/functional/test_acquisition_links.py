"""Acquisition-link channels (获客链接) through the real app and the WeCom sandbox: a link channel's URL, opened by a
parent in WeChat, brings an attributed customer with the channel's tags, welcome and plan, exactly as a QR scan
does; the quota shows with its warning and, once spent, the link adds no one; bad input is a 4xx that stores
nothing; a create retried with its Idempotency-Key makes one link; deleting the channel deletes the link."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.wecom_world.acquisition import QuotaExhaustedError
from tests.functional.conftest import CORP, TENANT, Api

CHANNELS = f"/t/{TENANT}/channels"
CREATE = "externalcontact/customer_acquisition/create_link"


def _setup(api: Api) -> tuple[str, str]:
    """A tenant, two staff, a published one-step plan (due at once): (token, plan_id)."""
    token = api.create_tenant()
    for userid, name in (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    step = {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "同学你好，试听课链接～"}}
    plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "信息流新客", "trigger": {"type": "manual"},
                                                   "steps": [step]}, token)  # fmt: skip
    assert plan.status_code == 201, plan.body
    assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    return token, plan.json["plan_id"]


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "抖音信息流·考研12月",
        "kind": "link",
        "source": "douyin",
        "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"]},
        "welcome": {"text": "您好，我是思语考研的老师，资料包稍后发您～"},
        "tags": [{"group": "流量平台来源", "name": "抖音"}],
    }
    body.update(over)
    return body


def _open(api: Api, url: str, **kwargs: Any) -> Any:
    """A parent opens the link in WeChat; WeCom's add callback reaches Siyu as WeCom sends it."""
    fields = api.sandbox.world.open_link(CORP, url, **kwargs)
    resp = api.callback(TENANT, fields)
    assert resp.status_code == 200, resp.body
    return fields


def test_an_add_through_a_link_channel_is_attributed_tagged_welcomed_and_enrolled(api: Api) -> None:
    token, plan_id = _setup(api)
    resp = api.call("POST", CHANNELS, _body(plan_id=plan_id), token)
    assert resp.status_code == 201, resp.body
    channel = resp.json
    [link] = api.sandbox.world.links(CORP)
    assert channel["kind"] == "link" and channel["link_id"] == link["link_id"]
    assert channel["url"] == f"{link['url']}?customer_channel={channel['channel_id']}"
    assert link["users"] == ["zhanglaoshi", "lilaoshi"]
    assert channel["quota"]["balance"] == 1000 and channel["quota"]["warning"] is None

    fields = _open(api, channel["url"], name="小明妈妈")
    assert fields["State"] == channel["channel_id"]
    listed = api.call("GET", f"/t/{TENANT}/customers", token=token).json["items"]
    [customer] = listed
    detail = api.call("GET", f"/t/{TENANT}/customers/{customer['customer_id']}", token=token).json
    assert detail["source_channel_id"] == channel["channel_id"] and detail["owner_userid"] == "zhanglaoshi"
    tag_ids = {t["tag_id"] for t in channel["tags"]}
    assert tag_ids <= set(detail["tags"])
    welcomes = api.sandbox.world.welcome_messages()
    assert [w["text"] for w in welcomes] == ["您好，我是思语考研的老师，资料包稍后发您～"]
    enrollments = api.call("GET", f"/t/{TENANT}/customers/{customer['customer_id']}/enrollments", token=token).json
    assert [e["plan_id"] for e in enrollments["items"]] == [plan_id]
    assert len(api.sandbox.world.calls("externalcontact/mark_tag")) == 1

    api.callback(TENANT, fields)  # WeCom redelivers the same add: no second customer, welcome or enrollment
    assert len(api.call("GET", f"/t/{TENANT}/customers", token=token).json["items"]) == 1
    assert len(api.sandbox.world.welcome_messages()) == 1

    board = api.call("GET", f"{CHANNELS}?kind=link", token=token).json
    assert [c["channel_id"] for c in board["items"]] == [channel["channel_id"]] and board["quota"]["balance"] == 999


def test_the_quota_warns_when_low_and_a_spent_quota_adds_no_one(api: Api) -> None:
    token, _ = _setup(api)
    channel = api.call("POST", CHANNELS, _body(), token).json
    api.sandbox.world.set_link_quota(CORP, balance=1, total=500)
    quota = api.call("GET", f"{CHANNELS}/{channel['channel_id']}", token=token).json["quota"]
    assert (quota["balance"], quota["total"], quota["low"], quota["exhausted"]) == (1, 500, True, False)
    assert "获客额度不足" in quota["warning"]
    _open(api, channel["url"])
    with pytest.raises(QuotaExhaustedError):
        api.sandbox.world.open_link(CORP, channel["url"])
    assert len(api.call("GET", f"/t/{TENANT}/customers", token=token).json["items"]) == 1
    quota = api.call("GET", f"{CHANNELS}?kind=link", token=token).json["quota"]
    assert quota["exhausted"] and "已用完" in quota["warning"]


@pytest.mark.parametrize(
    "over",
    [
        {"kind": "wechat"},
        {"staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"], "daily_caps": {"lilaoshi": 5}}},
        {"staff": {"mode": "single", "userids": ["zhanglaoshi"], "backup_userid": "lilaoshi"}},
        {"staff": {"mode": "single", "userids": ["nobody"]}},
        {"name": ""},
    ],
)
def test_bad_input_is_a_4xx_and_stores_nothing(api: Api, over: dict[str, Any]) -> None:
    token, _ = _setup(api)
    resp = api.call("POST", CHANNELS, _body(**over), token)
    assert resp.status_code == 400, resp.body
    assert set(resp.json["error"]) >= {"code", "message"}
    assert api.call("GET", CHANNELS, token=token).json["items"] == []
    assert api.sandbox.world.calls(CREATE) == [] and api.sandbox.world.links(CORP) == []


def test_wecom_refusing_the_link_stores_nothing(api: Api) -> None:
    token, _ = _setup(api)
    api.sandbox.world.inject(CREATE, 48002)  # the secret is not a 可调用应用's
    resp = api.call("POST", CHANNELS, _body(), token)
    assert resp.status_code >= 400 and "error" in resp.json
    assert api.call("GET", CHANNELS, token=token).json["items"] == []


def test_creating_twice_with_one_key_makes_one_link_and_deleting_removes_it(api: Api) -> None:
    token, _ = _setup(api)
    headers = {"Idempotency-Key": "ad-link-1"}
    first = api.call("POST", CHANNELS, _body(), token, headers=headers)
    again = api.call("POST", CHANNELS, _body(), token, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json["channel_id"] == first.json["channel_id"] and again.json["url"] == first.json["url"]
    assert len(api.sandbox.world.calls(CREATE)) == 1 and len(api.sandbox.world.links(CORP)) == 1
    staff = {"staff": {"mode": "single", "userids": ["lilaoshi"]}}
    edited = api.call("PATCH", f"{CHANNELS}/{first.json['channel_id']}", staff, token)
    assert edited.status_code == 200 and api.sandbox.world.links(CORP)[0]["users"] == ["lilaoshi"]
    assert api.call("DELETE", f"{CHANNELS}/{first.json['channel_id']}", token=token).status_code == 204
    assert api.sandbox.world.links(CORP) == []
    assert api.call("GET", f"{CHANNELS}/{first.json['channel_id']}", token=token).status_code == 404
