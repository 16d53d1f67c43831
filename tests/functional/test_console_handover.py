"""The console's 客户交接 page (issue 14 §2): the preview's numbers, a start that lands on the job's progress page
(任务进度), resigned staff's waiting customers, and a bad form shown again with its error and nothing started."""

from __future__ import annotations

from chalicelib.bootstrap import services
from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.console_client import signed_in
from tests.functional.test_handover import _setup

BASE = f"/console/{TENANT}"
FORM = {"mode": "transfer", "handover_userid": "zhang", "takeover_userid": "li"}


def test_preview_then_start_a_hand_over_from_the_console(api: Api) -> None:
    _, state = _setup(api)
    for _ in range(2):
        api.scan(state)
    api.sandbox.world.resign(CORP, "zhang")  # 离职: WeCom holds zhang's customers for a new owner
    ops = signed_in(api)
    page = ops.dom(ops.get(f"{BASE}/handover"))
    assert "zhang：2 位客户待分配" in page.one("section", aria_labelledby="un-h").text()
    staff = [o.attrs.get("value") for o in page.one("select", name="takeover_userid").all("option")]
    assert {"zhang", "li"} <= set(staff)
    previewed = ops.post(f"{BASE}/handover", {**FORM, "action": "preview"})
    assert previewed.status_code == 200
    facts = ops.dom(previewed).one("dl", class_="facts").text()
    assert "将交接的客户2" in facts.replace(" ", "").replace("\n", "")
    assert api.sandbox.world.calls("externalcontact/transfer_customer") == []
    assert [j for j in services().store.running_jobs(TENANT) if j["kind"] == "handover"] == []
    started = ops.post(f"{BASE}/handover", {**FORM, "action": "start"})
    assert started.status_code == 303
    url = ops.local(started.headers["Location"])
    assert url.startswith(f"{BASE}/jobs/ho_")
    job = ops.dom(ops.get(url)).text()
    assert "客户交接" in job and "等待接替" in job
    assert len(api.sandbox.world.calls("externalcontact/transfer_customer")) == 1
    listed = ops.dom(ops.get(f"{BASE}/handover"))
    assert any(a.attrs.get("href") == url for a in listed.all("a"))


def test_a_bad_form_is_shown_again_and_nothing_starts(api: Api) -> None:
    _, state = _setup(api)
    api.scan(state)
    ops = signed_in(api)
    again = ops.post(f"{BASE}/handover", {**FORM, "takeover_userid": "zhang", "action": "start"})
    assert again.status_code == 400
    assert ops.dom(again).one("p", class_="error").text()
    ghost = ops.post(f"{BASE}/handover", {**FORM, "takeover_userid": "ghost", "action": "preview"})
    assert ghost.status_code == 400 and "takeover_userid" in ops.dom(ghost).one("p", class_="error").text()
    assert ops.post(f"{BASE}/handover", {**FORM, "action": "start"}, csrf=False).status_code == 403
    staff = signed_in(api, role="staff", userid="zhang")
    assert staff.post(f"{BASE}/handover", {**FORM, "action": "start"}).status_code == 403
    assert api.sandbox.world.calls("externalcontact/transfer_customer") == []
    assert [j for j in services().store.running_jobs(TENANT) if j["kind"] == "handover"] == []


def test_a_resigned_member_siyu_no_longer_lists_can_be_chosen_for_resigned_hand_over(api: Api) -> None:
    token, state = _setup(api)
    api.scan(state)
    api.sandbox.world.resign(CORP, "zhang")
    assert api.call("DELETE", f"/t/{TENANT}/staff/zhang", token=token).status_code in (200, 204)
    ops = signed_in(api)
    page = ops.dom(ops.get(f"{BASE}/handover"))
    options = {o.attrs.get("value"): o.text() for o in page.one("select", name="handover_userid").all("option")}
    assert "已离职" in options["zhang"]
    assert "zhang" not in {o.attrs.get("value") for o in page.one("select", name="takeover_userid").all("option")}
    started = ops.post(f"{BASE}/handover", {**FORM, "mode": "resigned", "action": "start"})
    assert started.status_code == 303
    assert len(api.sandbox.world.calls("externalcontact/resigned/transfer_customer")) == 1
