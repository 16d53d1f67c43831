"""The sandbox's phone page (devstack/sandbox_ui.py): it lists what the corp holds and each action is the control
API's own route with the right body; failures come back as a message on the page, never a traceback."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from devstack.sandbox_callbacks import CallbackRegistry
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
    assert page.status == 200 and CORP in text and "客户扫码加好友" in text and 'for="hours"' in text
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


def test_a_staff_member_makes_a_group_for_the_console_to_sync() -> None:
    parts = Parts()
    parts.world.register_corp(CORP)
    parts.world.corp(CORP).members["zhang"] = "张老师"
    ui = SandboxUi(parts)  # type: ignore[arg-type]
    text = ui.pages()[("GET", "/sandbox/ui")]({}, b"").body.decode()
    assert (
        "员工建群" in text and '<option value="zhang">张老师（zhang）</option>' in text and 'for="group_name"' in text
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
