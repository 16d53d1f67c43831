"""The console's 客户交接 page (issue 14 §2): the preview's numbers, a start that lands on the job's progress page
(任务进度), resigned staff's waiting customers, and a bad form shown again with its error and nothing started."""

from __future__ import annotations

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
    assert ops.post(f"{BASE}/handover", {**FORM, "action": "start"}, csrf=False).status_code == 403
    staff = signed_in(api, role="staff", userid="zhang")
    assert staff.post(f"{BASE}/handover", {**FORM, "action": "start"}).status_code == 403
    assert api.sandbox.world.calls("externalcontact/transfer_customer") == []
