"""The chat sidebar through the real app (moto) and the sandbox: the page WeCom opens (agentConfig signed for its own
URL, verifiable in the sandbox; the JS-SDK allowed in its CSP only), and the customer it then shows — profile, tags,
stage, timeline, active plans with the next touch's script to copy — to their owner only."""

from __future__ import annotations

import re
from typing import Any

from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api
from tests.functional.console_client import ConsoleClient, signed_in

AGENT_ID = 1000002
CONSOLE = "http://console.test"  # SIYU_CONSOLE_URL in the functional setup


def _setup(api: Api, *, agent_id: int | None = AGENT_ID) -> tuple[str, str]:
    """The tenant with its app's AgentId, staff zhang and li, a published plan with a script, and a channel that
    enrolls zhang's new customers in it: (admin token, channel state)."""
    wecom: dict[str, Any] = {**WECOM, **({"agent_id": agent_id} if agent_id else {})}
    created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                  "wecom": wecom}, ADMIN)  # fmt: skip
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    for userid, name in (("zhang", "张老师"), ("li", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    steps = [
        {"id": "s1", "day": 1, "at": "19:30", "content_type": "service", "title": "破冰",
         "notes": "先问孩子几年级，再说资料包", "message": {"text": "家长您好，这是三年级数学资料包～"}},
        {"id": "s2", "day": 2, "at": "19:30", "content_type": "service", "message": {"text": "第二天的内容"}},
    ]  # fmt: skip
    plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "新客培育", "trigger": {"type": "manual"},
                                                   "steps": steps}, token)  # fmt: skip
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "海报", "source": "offline_poster", "plan_id": plan_id,
                                                         "staff": {"userids": ["zhang"]}}, token)  # fmt: skip
    assert channel.status_code == 201, channel.body
    return token, channel.json["state"]


def _customer(api: Api, state: str, ext: str, userid: str = "zhang") -> str:
    _, answer = api.scan(state, external_userid=ext, userid=userid, name="王妈妈")
    assert answer.status_code == 200, answer.body
    return str(answer.json["customer_id"])


def _data(node: Any) -> dict[str, str]:
    return {k.removeprefix("data-"): v for k, v in node.attrs.items() if k.startswith("data-")}


def test_the_sidebar_page_is_signed_for_its_own_url_and_verifies_in_the_sandbox(api: Api) -> None:
    _setup(api)
    staff = signed_in(api, role="staff", userid="zhang")
    page = staff.get(f"/console/{TENANT}/sidebar")
    assert page.status_code == 200, page.body
    frame = staff.dom(page).one("section", id="sidebar-frame")
    data = _data(frame)
    assert data["url"] == f"{CONSOLE}/console/{TENANT}/sidebar"
    assert data["corpid"] == CORP and data["agentid"] == str(AGENT_ID) and data["apis"] == "getCurExternalContact"
    assert int(data["timestamp"]) == int(api.clock.epoch())
    params = {"timestamp": data["timestamp"], "nonceStr": data["nonce"], "signature": data["signature"]}
    assert api.sandbox.world.verify_js_signature(CORP, "agent_config", params | {"url": data["url"]}) == ""
    # the JS-SDK (the sandbox's player here) is the one outside script, and on this page only
    jssdk = f"{api.sandbox.base_url}/sandbox/jssdk.js"
    scripts = [s.attrs.get("src", "") for s in staff.dom(page).all("script")]
    assert jssdk in scripts and any(s.endswith("sidebar.js") for s in scripts)
    csp = page.headers["Content-Security-Policy"]
    assert re.search(r"script-src 'self' " + re.escape(api.sandbox.base_url) + ";", csp), csp
    home = staff.get(f"/console/{TENANT}/sidebar/customer?external_userid=wmNobody0001")
    assert api.sandbox.base_url not in home.headers["Content-Security-Policy"]
    # without JavaScript the page says where it works
    assert "侧边栏" in staff.dom(page).one("p", id="sidebar-status").text()


def test_query_parameters_are_part_of_the_signed_url(api: Api) -> None:
    _setup(api)
    staff = signed_in(api, role="staff", userid="zhang")
    data = _data(staff.dom(staff.get(f"/console/{TENANT}/sidebar?entry=single_chat_tools")).one("section"))
    assert data["url"] == f"{CONSOLE}/console/{TENANT}/sidebar?entry=single_chat_tools"


def test_without_an_agent_id_the_page_says_so_and_loads_no_js_sdk(api: Api) -> None:
    _setup(api, agent_id=None)
    staff = signed_in(api, role="staff", userid="zhang")
    page = staff.get(f"/console/{TENANT}/sidebar")
    assert page.status_code == 200
    dom = staff.dom(page)
    assert "AgentId" in dom.one("p", role="alert").text()
    assert not [s for s in dom.all("script") if "jssdk" in s.attrs.get("src", "")]
    assert api.sandbox.world.calls("ticket/get") == []


def test_the_owner_sees_the_customer_with_the_next_touchs_script_to_copy(api: Api) -> None:
    _, state = _setup(api)
    cid = _customer(api, state, "wmParentSide001")
    staff = signed_in(api, role="staff", userid="zhang")
    page = staff.get(f"/console/{TENANT}/sidebar/customer?external_userid=wmParentSide001")
    assert page.status_code == 200, page.body
    dom = staff.dom(page)
    heading = dom.one("h1", id="customer-name").text()
    assert "王妈妈" in heading and "培育中" in heading  # enrolled by the channel's plan
    facts = dom.one("dl", class_="facts").text()
    assert "张老师" in facts and "海报" in facts and "未留手机号" in facts
    assert "下一步：第 1 步 · 破冰" in dom.one("div", class_="plan-next").text()
    script = dom.one("blockquote", id="note-1")
    assert script.text() == "先问孩子几年级，再说资料包"
    copy = dom.one("button", data_copy="#note-1")
    assert copy.attrs["type"] == "button" and copy.text() == "复制话术"
    assert dom.one("blockquote", id="text-1").text() == "家长您好，这是三年级数学资料包～"
    assert "新客培育" in dom.one("div", class_="plan-next").text()
    lines = [li.text() for li in dom.one("ol", class_="timeline").all("li")]
    assert any("加入 SOP 计划" in line for line in lines) and any("添加为好友" in line for line in lines)
    assert dom.all("a", href=f"/console/{TENANT}/customers/{cid}")


def test_another_staff_members_customer_is_the_403_page(api: Api) -> None:
    _, state = _setup(api)
    _customer(api, state, "wmParentSide002")  # zhang's
    li = signed_in(api, role="staff", userid="li")
    page = li.get(f"/console/{TENANT}/sidebar/customer?external_userid=wmParentSide002")
    assert page.status_code == 403
    assert "王妈妈" not in page.body.decode()
    assert "不是你负责的客户" in li.dom(page).one("main").text()
    ops = signed_in(api, role="ops")
    assert ops.get(f"/console/{TENANT}/sidebar/customer?external_userid=wmParentSide002").status_code == 200


def test_bad_and_unknown_contacts_are_clear_pages_not_errors(api: Api) -> None:
    _setup(api)
    staff = signed_in(api, role="staff", userid="zhang")
    bad = staff.get(f"/console/{TENANT}/sidebar/customer?external_userid=%3Cscript%3E")
    assert bad.status_code == 400 and "<script>" not in bad.body.decode()
    assert staff.get(f"/console/{TENANT}/sidebar/customer").status_code == 400
    unknown = staff.get(f"/console/{TENANT}/sidebar/customer?external_userid=wmNobody0001")
    assert unknown.status_code == 404 and "还没有这位客户" in unknown.body.decode()


def test_signed_out_the_sidebar_sends_to_sign_in_and_back(api: Api) -> None:
    _setup(api)
    client = ConsoleClient(api)
    page = client.get(f"/console/{TENANT}/sidebar")
    assert page.status_code == 303
    assert page.headers["Location"].startswith(f"/console/{TENANT}/signin?next=")


def test_wecom_refusing_the_ticket_is_said_on_the_page_and_a_later_open_signs(api: Api) -> None:
    _setup(api)
    staff = signed_in(api, role="staff", userid="zhang")
    api.sandbox.world.inject("ticket/get", 45009)  # the app's hourly ticket budget is spent
    refused = staff.get(f"/console/{TENANT}/sidebar")
    assert refused.status_code == 200
    dom = staff.dom(refused)
    assert "稍后" in dom.one("p", role="alert").text()
    assert not [s for s in dom.all("script") if "jssdk" in s.attrs.get("src", "")]
    signed = staff.dom(staff.get(f"/console/{TENANT}/sidebar")).one("section", id="sidebar-frame")
    assert signed.attrs.get("data-signature")
    assert [c.errcode for c in api.sandbox.world.calls("ticket/get")] == [45009, 0]
