"""The console's 社群 forms through the real app over moto and the WeCom sandbox: a group's setup, a group live code
(the naming template first, then create, edit, stop), enrolling groups into a published camp plan. A refused form
comes back with the problem by its field and stores nothing; only ops see the forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api
from tests.functional.console_client import ConsoleClient, signed_in
from tests.html_dom import Node

BASE = f"/console/{TENANT}"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Two of zhang's groups synced from the sandbox (no setup yet), and the 28-day camp published for study groups."""
    api.call(
        "POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}, ADMIN
    )
    token = api.token(TENANT, "admin")
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    for name in ("考研数学·3期·01", "考研数学·3期·02"):
        api.sandbox.world.seed_group(CORP, owner="zhang", name=name)
    assert api.call("POST", f"/t/{TENANT}/groups/sync", {}, token).status_code == 202
    chats = {g["name"]: g["chat_id"] for g in api.call("GET", f"/t/{TENANT}/groups", token=token).json["items"]}
    raw = (SAMPLES / "28天训练营.csv").read_bytes()
    query = f"name={quote('28天训练营')}&kind=group&group_type=study"
    plan = api.call("POST", f"/t/{TENANT}/plans/import?{query}", raw, token, headers={"Content-Type": "text/csv"})
    assert plan.status_code == 201, plan.body
    assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    return {"token": token, "first": chats["考研数学·3期·01"], "second": chats["考研数学·3期·02"],
            "plan_id": plan.json["plan_id"]}  # fmt: skip


def _group(api: Api, world: dict[str, Any], chat_id: str) -> dict[str, Any]:
    return api.call("GET", f"/t/{TENANT}/groups/{chat_id}", token=world["token"]).json


def _error(dom: Node, name: str) -> str:
    return dom.one("small", id=f"{name}-error").text()


def _setup(ops: ConsoleClient, chat_id: str, **fields: str) -> Any:
    form = {"rev": "0", "type": "study", "cohort": "3期", "cohort_start": "2026-12-09", "number": "01", **fields}
    return ops.post(f"{BASE}/groups/{chat_id}/setup", form)


def test_ops_set_a_groups_type_cohort_and_start_and_a_bad_date_stores_nothing(api: Api, world: dict[str, Any]) -> None:
    ops, chat = signed_in(api), world["first"]
    page = ops.get(f"{BASE}/groups/{chat}")
    form = ops.dom(page).one("form", class_="group-setup")
    assert form.one("input", name="rev").attrs["value"] == "0" and 'for="f-cohort_start"' in page.body.decode()

    bad_date = _setup(ops, chat, cohort_start="2026-02-30")  # the right shape, not a real day: the service's
    assert bad_date.status_code == 400 and "开营日须为真实的日期" in _error(ops.dom(bad_date), "cohort_start")
    bad = _setup(ops, chat, number="12345")  # the schema's
    assert bad.status_code == 400
    dom = ops.dom(bad)
    assert "编号须为 1–4 位数字" in _error(dom, "number") and not dom.all("small", id="cohort_start-error")
    assert dom.one("input", name="cohort").attrs["value"] == "3期"  # what was typed comes back
    assert _group(api, world, chat)["setup"]["rev"] == 0  # nothing stored

    saved = _setup(ops, chat, tags="数学, 冲刺", campaign="2027考研")
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/groups/{chat}")
    after = ops.dom(ops.get(ops.local(saved.headers["Location"])))
    assert after.one("p", class_="flash").text() == "群设置已保存"
    setup = _group(api, world, chat)["setup"]
    assert (setup["type"], setup["cohort"], setup["cohort_start"], setup["number"]) == (
        "study",
        "3期",
        "2026-12-09",
        "01",
    )
    assert setup["tags"] == ["数学", "冲刺"] and setup["campaign"] == "2027考研" and setup["rev"] == 1
    assert after.one("input", name="rev").attrs["value"] == "1"

    stale = _setup(ops, chat, cohort="4期")  # rev 0: someone saved since this form was read
    assert stale.status_code == 409
    dom = ops.dom(stale)
    assert "别人刚改过" in dom.one("section", aria_labelledby="setup-h").text()
    assert (
        dom.one("input", name="rev").attrs["value"] == "1" and dom.one("input", name="cohort").attrs["value"] == "4期"
    )
    assert _group(api, world, chat)["setup"]["cohort"] == "3期"


def test_only_ops_see_and_may_post_the_setup_form(api: Api, world: dict[str, Any]) -> None:
    for role, userid in (("viewer", None), ("staff", "zhang")):
        reader = signed_in(api, role=role, userid=userid)
        page = reader.get(f"{BASE}/groups/{world['first']}")
        assert page.status_code == 200 and not reader.dom(page).all("form", class_="group-setup")
        assert _setup(reader, world["first"]).status_code == 403
    assert _group(api, world, world["first"])["setup"]["rev"] == 0


def test_ops_name_the_rooms_then_create_edit_and_stop_a_live_code(api: Api, world: dict[str, Any]) -> None:
    ops, first, second = signed_in(api), world["first"], world["second"]
    assert ops.dom(ops.get(f"{BASE}/groups")).one("a", href=f"{BASE}/group-codes/new").text() == "新建群活码"
    form = ops.dom(ops.get(f"{BASE}/group-codes/new"))
    assert {i.attrs["value"] for i in form.all("input", name="chat_ids")} == {first, second}
    code = {"name": "考研数学3期-海报", "positioning": "考研数学冲刺", "cohort": "3", "rotate_at": "3"}
    fields = [*code.items(), ("chat_ids", first), ("queue", second), ("auto_create_room", "1")]

    no_naming = ops.post(f"{BASE}/group-codes", fields)
    assert (
        no_naming.status_code == 409
        and "还没有群命名规则" in ops.dom(no_naming).one("section", aria_labelledby="code-h").text()
    )
    bad_naming = ops.post(f"{BASE}/group-naming", {"institution": "", "separator": "·", "number_width": "2"})
    assert bad_naming.status_code == 400 and "请填写机构名" in _error(ops.dom(bad_naming), "institution")
    named = ops.post(f"{BASE}/group-naming", {"institution": "示例教育", "separator": "·", "cohort_suffix": "期",
                                               "number_width": "2"})  # fmt: skip
    assert named.status_code == 303
    assert api.call("GET", f"/t/{TENANT}/settings/group-naming", token=world["token"]).json["institution"] == "示例教育"

    none_picked = ops.post(f"{BASE}/group-codes", [*code.items()])
    assert none_picked.status_code == 400 and "请选择 1–5 个引流群" in _error(ops.dom(none_picked), "chat_ids")
    bad_threshold = ops.post(f"{BASE}/group-codes", [*fields[:3], ("rotate_at", "1"), *fields[4:]])
    assert bad_threshold.status_code == 400 and "2–500" in _error(ops.dom(bad_threshold), "rotate_at")
    codes = api.call("GET", f"/t/{TENANT}/group-codes", token=world["token"]).json["items"]
    assert codes == []  # nothing stored by a refused form

    made = ops.post(f"{BASE}/group-codes", fields)
    assert made.status_code == 303, made.body
    [stored] = api.call("GET", f"/t/{TENANT}/group-codes", token=world["token"]).json["items"]
    assert stored["chat_ids"] == [first] and stored["queue"] == [second] and stored["rotate_at"] == 3
    assert stored["room_base_name"] == "示例教育·考研数学冲刺·3期·"
    assert made.headers["Location"].endswith(f"/group-codes/{stored['code_id']}")
    page = ops.dom(ops.get(ops.local(made.headers["Location"])))
    assert page.one("p", class_="flash").text() == "群活码已创建" and page.one("h1").text() == "考研数学3期-海报"
    assert page.one("input", name="queue", value=second).attrs.get("checked") is not None
    listed = ops.dom(ops.get(f"{BASE}/groups"))
    assert listed.one("a", href=f"{BASE}/group-codes/{stored['code_id']}").text() == "考研数学3期-海报"

    again = ops.post(f"{BASE}/group-codes", [*code.items(), ("chat_ids", first)])  # the group is on a code now
    assert again.status_code == 409 and "这些群已在别的群活码上" in _error(ops.dom(again), "chat_ids")
    assert first not in {i.attrs["value"] for i in ops.dom(again).all("input", name="chat_ids")}  # not offered

    path = f"{BASE}/group-codes/{stored['code_id']}"
    assert ops.post(path, {"rev": "1", "rotate_at": "abc", "queue": second}).status_code == 400
    edited = ops.post(path, [("rev", "1"), ("rotate_at", "200")])  # no queue ticked: nothing waits
    assert edited.status_code == 303
    now = api.call("GET", f"/t/{TENANT}/group-codes/{stored['code_id']}", token=world["token"]).json
    assert (now["rotate_at"], now["queue"], now["rev"]) == (200, [], 2)
    stale = ops.post(path, [("rev", "1"), ("rotate_at", "300")])
    assert stale.status_code == 409 and "别人刚改过" in ops.dom(stale).one("section", aria_labelledby="edit-h").text()

    stopped = ops.post(f"{path}/delete", {})
    assert stopped.status_code == 303 and stopped.headers["Location"].endswith(f"{BASE}/groups")
    assert api.call("GET", f"/t/{TENANT}/group-codes/{stored['code_id']}", token=world["token"]).status_code == 404
    assert api.sandbox.world.corp(CORP).join_ways == {}  # the QR code is gone at WeCom too
    assert signed_in(api, role="viewer").get(f"{BASE}/group-codes/new").status_code == 403


def test_ops_enroll_set_up_groups_into_a_published_camp(api: Api, world: dict[str, Any]) -> None:
    ops, first, second = signed_in(api), world["first"], world["second"]
    assert _setup(ops, first).status_code == 303  # study, 3期, day 0 2026-12-09: in the camp's audience
    assert _setup(ops, second, cohort_start="").status_code == 303  # no day 0: offered, but not enrollable
    camp = f"{BASE}/groups/camps/{world['plan_id']}"
    dom = ops.dom(ops.get(camp))
    boxes = {
        i.attrs["value"]: i.attrs for i in dom.one("section", aria_labelledby="enroll-h").all("input", name="chat_ids")
    }
    assert "checked" in boxes[first] and "disabled" in boxes[second]
    assert "还没有设置开营日" in dom.one("section", aria_labelledby="enroll-h").text()

    none = ops.post(f"{camp}/enroll", {})
    assert none.status_code == 400 and "请至少选择一个社群" in ops.dom(none).one("p", id="enroll-error").text()
    done = ops.post(f"{camp}/enroll", [("chat_ids", first), ("chat_ids", second)])
    assert done.status_code == 303
    flash = ops.dom(ops.get(ops.local(done.headers["Location"]))).one("p", class_="flash").text()
    assert flash.startswith("已报名 1 个社群，首次推送 2026-12-02 10:00"), flash  # D-7 of a 12-09 start
    assert f"{second} 未报名：还没有设置开营日" in flash
    again = ops.post(f"{camp}/enroll", [("chat_ids", first)])
    assert "已经报名过" in ops.dom(ops.get(ops.local(again.headers["Location"]))).one("p", class_="flash").text()
    assert signed_in(api, role="viewer").post(f"{camp}/enroll", [("chat_ids", first)]).status_code == 403


def test_a_draft_camp_offers_no_enrollment_and_refuses_one(api: Api, world: dict[str, Any]) -> None:
    token = world["token"]
    raw = (SAMPLES / "28天训练营.csv").read_bytes()
    query = f"name={quote('草稿营')}&kind=group&group_type=study"
    draft = api.call("POST", f"/t/{TENANT}/plans/import?{query}", raw, token, headers={"Content-Type": "text/csv"}).json
    ops = signed_in(api)
    camp = f"{BASE}/groups/camps/{draft['plan_id']}"
    assert not ops.dom(ops.get(camp)).all("section", aria_labelledby="enroll-h")
    refused = ops.post(f"{camp}/enroll", [("chat_ids", world["first"])])
    assert refused.status_code == 409 and "计划还没有发布" in refused.body.decode()
