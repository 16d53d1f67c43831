"""The sandbox's phone page (devstack/sandbox_ui.py): it lists what the corp holds and each action is the control
API's own route with the right body; failures come back as a message on the page, never a traceback."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from chalicelib import schemas
from devstack.sandbox_callbacks import CallbackRegistry, Delivery
from devstack.sandbox_http import RawAnswer
from devstack.sandbox_ui import SandboxUi
from devstack.wecom_world import WeComWorld

CORP = "wwacme0000000001"


class Parts:
    def __init__(self) -> None:
        self.world = WeComWorld(clock=lambda: 1_764_554_405.0)
        self.callbacks = CallbackRegistry("http://127.0.0.1:1")
        registration: dict[str, str | None] = {
            "corp_id": CORP,
            "tenant_id": "acme",
            "token": "t",
            "encoding_aes_key": "k" * 43,
            "agent_id": "",
            "callback_url": None,
        }
        self.callbacks.add(self.callbacks.build(registration), registration)
        self.events_secrets = None
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def control(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body = json.loads(raw)
        self.calls.append((path, body))
        if path == "/sandbox/scan":
            return 200, {"external_userid": "wmX", "userid": "zhang", "callback_status": 200}
        if path == "/sandbox/jssdk/context":
            return 200, body
        return 403, {"error": {"code": "forbidden", "message": "no movable clock"}}

    def post_business_event(self, *args: Any) -> Any:
        raise AssertionError("no events secret: never posted")


def _post(ui: SandboxUi, action: str, form: dict[str, str]) -> str:
    answer: RawAnswer = ui.pages()[("POST", f"/sandbox/ui/{action}")]({}, urlencode(form).encode())
    assert answer.status == 303
    return parse_qs(urlsplit(answer.headers["Location"]).query)["done"][0]


def test_the_page_lists_the_corps_codes_and_actions_call_the_control_routes() -> None:
    parts = Parts()
    parts.world.register_corp(CORP)
    parts.world.corp(CORP).members["zhang"] = "张老师"
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    page = ui.pages()[("GET", "/sandbox/ui")]({}, b"")
    text = page.body.decode()
    assert page.status == 200 and CORP in text and "客户扫码加好友" in text and 'for="clock-hours"' in text
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) == len(set(ids))  # one field per id: each label names its own field
    done = _post(ui, "scan", {"corp_id": CORP, "state": "ch_1", "name": "小明妈妈"})
    assert parts.calls[-1] == ("/sandbox/scan", {"corp_id": CORP, "state": "ch_1", "name": "小明妈妈"})
    assert "wmX" in done and "zhang" in done
    refused = _post(ui, "clock", {"corp_id": CORP, "hours": "10"})
    assert parts.calls[-1] == ("/sandbox/clock", {"advance": "PT10H"}) and refused.startswith("没有成功")
    assert _post(ui, "clock", {"corp_id": CORP, "hours": "0"}).startswith("没有成功")
    assert _post(ui, "reply", {"corp_id": CORP, "external_userid": "wmX", "text": "hi"}).startswith("没有成功")


def test_the_page_shows_the_alerts_staff_received_with_their_link() -> None:
    parts = Parts()
    parts.world.register_corp(CORP)
    token = parts.world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    card = {
        "title": "热线索：李妈妈刚刚积极回复",
        "description": "d",
        "url": "http://c.test/console/acme/my",
        "btntxt": "去跟进",
    }
    body = {"touser": "zhang", "msgtype": "textcard", "agentid": 1, "textcard": card, "enable_duplicate_check": 1}
    for _ in range(2):  # the second is a duplicate WeCom does not show again
        assert parts.world.handle("/cgi-bin/message/send", {"access_token": token}, body)["errcode"] == 0
    text = SandboxUi(parts).pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()  # type: ignore[arg-type]
    assert "员工收到的应用消息" in text and "热线索：李妈妈刚刚积极回复" in text
    assert '<a href="http://c.test/console/acme/my">去跟进</a>' in text and "重复，未再显示" in text


def test_a_staff_members_chat_opens_for_the_console_sidebar() -> None:
    parts = Parts()
    parts.world.event(CORP, "add_external_contact", userid="zhang", external_userid="wmParentUi01", State="ch_1")
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    text = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert 'value="zhang wmParentUi01"' in text and "单聊" in text
    done = _post(ui, "chat", {"corp_id": CORP, "chat": "zhang wmParentUi01"})
    assert parts.calls[-1] == (
        "/sandbox/jssdk/context",
        {"corp_id": CORP, "userid": "zhang", "external_userid": "wmParentUi01"},
    )
    assert "/console/acme/sidebar" in done
    assert _post(ui, "chat", {"corp_id": CORP}).startswith("没有成功")


class SigningParts(Parts):
    """Parts that know the tenant's events secret and keep what would be signed and posted to the API."""

    def __init__(self) -> None:
        super().__init__()
        self.events_secrets = lambda tenant_id: "s3cret" if tenant_id == "acme" else None  # type: ignore[assignment]
        self.posted: list[tuple[str, str, dict[str, Any], int]] = []

    def post_business_event(self, *args: Any) -> Any:
        tenant_id, secret, event, timestamp = args
        self.posted.append((tenant_id, secret, event, timestamp))
        return Delivery(200, '{"results": []}')


def test_a_customer_buys_a_course_as_a_signed_order_event() -> None:
    parts = SigningParts()
    parts.world.event(CORP, "add_external_contact", userid="zhang", external_userid="wmBuyer01", State="ch_1")
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    text = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert "客户下单" in text and 'for="order-order_customer"' in text and 'value="wmBuyer01"' in text
    form = {"corp_id": CORP, "order_customer": "wmBuyer01", "kind": "full", "product": "考研全程班", "amount": "6980"}
    done = _post(ui, "order", form)
    assert done == "已下单：正价课 6980 元（事件 HTTP 200）"
    [(tenant_id, secret, event, timestamp)] = parts.posted
    assert (tenant_id, secret, timestamp) == ("acme", "s3cret", 1_764_554_405)
    assert schemas.validate("event", event) == event  # what POST /t/{tenant}/events accepts
    assert event["event_id"].startswith("sbx-order-") and event["occurred_at"] == "2025-12-01T02:00:05+00:00"
    assert {k: event[k] for k in ("type", "external_userid", "kind", "amount", "product")} == {
        "type": "order",
        "external_userid": "wmBuyer01",
        "kind": "full",
        "amount": 6980.0,
        "product": "考研全程班",
    }
    _post(ui, "order", {**form, "kind": "trial", "amount": "9.9", "product": ""})
    assert parts.posted[-1][2]["kind"] == "trial" and "product" not in parts.posted[-1][2]
    assert parts.posted[-1][2]["event_id"] != event["event_id"]  # each click is its own order


def test_an_order_with_a_bad_amount_or_kind_posts_nothing() -> None:
    parts = SigningParts()
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    base = {"corp_id": CORP, "order_customer": "wmBuyer01", "kind": "full", "amount": "6980"}
    for bad in ({"amount": "abc"}, {"amount": "-1"}, {"amount": "nan"}, {"kind": "free"}, {"amount": "1e12"}):
        assert _post(ui, "order", {**base, **bad}).startswith("没有成功"), bad
    assert _post(ui, "order", {k: v for k, v in base.items() if k != "order_customer"}).startswith("没有成功")
    assert parts.posted == []
    parts.events_secrets = None
    assert "事件密钥" in _post(ui, "order", base) and parts.posted == []


def test_a_staff_member_makes_a_group_for_the_console_to_sync() -> None:
    parts = Parts()
    parts.world.register_corp(CORP)
    parts.world.corp(CORP).members["zhang"] = "张老师"
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    text = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert (
        "员工建群" in text
        and '<option value="zhang">张老师（zhang）</option>' in text
        and 'for="group-group_name"' in text
    )
    refused = _post(ui, "group", {"corp_id": CORP, "owner": "zhang", "group_name": "示例教育·考研数学冲刺·3期·01"})
    assert parts.calls[-1] == (
        "/sandbox/groups",
        {"corp_id": CORP, "owner": "zhang", "name": "示例教育·考研数学冲刺·3期·01"},
    )
    assert refused.startswith("没有成功")  # this fake's control refuses it: the message says so, no traceback
    assert _post(ui, "group", {"corp_id": CORP, "group_name": "x"}).startswith("没有成功")  # no owner


def test_a_group_made_on_the_phone_is_in_the_corp() -> None:
    parts = Parts()
    parts.world.register_corp(CORP)
    seeded: list[dict[str, Any]] = []

    def control(method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body = json.loads(raw)
        seeded.append(parts.world.seed_group(body["corp_id"], owner=body["owner"], name=body["name"]))
        return 200, seeded[-1]

    parts.control = control  # type: ignore[method-assign]
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    assert "群主（员工 userid）" in ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()  # no members: typed
    done = _post(ui, "group", {"corp_id": CORP, "owner": "zhang", "group_name": "考研3期01"})
    chat_id = seeded[0]["chat_id"]
    assert done.startswith("zhang 建了群") and chat_id in done and "/console/acme/jobs" in done
    groups = parts.world.groups(CORP)
    assert [(g["chat_id"], g["name"], g["owner"]) for g in groups] == [(chat_id, "考研3期01", "zhang")]
    assert f'<option value="{chat_id}">考研3期01</option>' in ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()


def test_a_staff_member_publishes_a_moments_post_from_the_phone() -> None:
    parts = Parts()
    parts.world.register_corp(CORP)
    for ext in ("wmA1", "wmB2"):
        parts.world.event(CORP, "add_external_contact", userid="zhang", external_userid=ext)
    token = parts.world.handle("gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    body = {"text": {"content": "开学季"}, "visible_range": {"sender_list": {"user_list": ["zhang"]}}}
    jobid = parts.world.handle("externalcontact/add_moment_task", {"access_token": token}, body)["jobid"]
    for _ in range(3):
        parts.world.handle("externalcontact/get_moment_task_result", {"access_token": token, "jobid": jobid}, None)
    [post] = parts.world.pending_moments(CORP, "zhang")

    def control(method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        sent = json.loads(raw)
        parts.calls.append((path, sent))
        reached = parts.world.publish_moment(sent["corp_id"], sent["moment_id"], sent["userid"])
        return 200, {"reached": len(reached)}

    parts.control = control  # type: ignore[method-assign]
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    page = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert "员工发表朋友圈" in page and f'value="zhang {post["moment_id"]}"' in page and "2 位可见" in page
    done = _post(ui, "moment", {"corp_id": CORP, "moment": f"zhang {post['moment_id']}"})
    assert parts.calls[-1] == (
        "/sandbox/moments/publish",
        {"corp_id": CORP, "moment_id": post["moment_id"], "userid": "zhang"},
    )
    assert done == "zhang 已发表朋友圈：2 位客户可见"
    assert parts.world.pending_moments(CORP, "zhang") == []
    assert f'value="zhang {post["moment_id"]}"' not in ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()


def test_a_customer_refuses_a_waiting_hand_over_from_the_phone() -> None:
    parts = Parts()
    parts.world.event(CORP, "add_external_contact", userid="zhang", external_userid="wmA1")
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    assert "客户拒绝转接" not in ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()  # nothing waiting
    token = parts.world.handle("gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    body = {"handover_userid": "zhang", "takeover_userid": "li", "external_userid": ["wmA1"]}
    parts.world.handle("externalcontact/transfer_customer", {"access_token": token}, body)
    text = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert "客户拒绝转接" in text and "wmA1：zhang → li" in text
    _post(ui, "refuse", {"corp_id": CORP, "external_userid": "wmA1"})
    assert parts.calls[-1] == ("/sandbox/handover/refuse", {"corp_id": CORP, "external_userid": "wmA1"})
    _post(ui, "settle", {"corp_id": CORP})
    assert parts.calls[-1] == ("/sandbox/handover/settle", {"corp_id": CORP})
