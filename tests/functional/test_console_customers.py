"""The console's customers (issue 13 §2): the filtered list, a customer's page with its timeline and tag edits, staff
limited to their own customers (another's is the 403 page), and erasure behind a confirmation (admin only)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services import customers as customers_module
from tests.functional.conftest import TENANT, Api
from tests.functional.console_client import ConsoleClient, signed_in

BASE = f"/console/{TENANT}"


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Two staff members, one customer each (through their own channels), and a tag group to tag with."""
    token = api.create_tenant()
    for userid, name in (("zhang", "张老师"), ("li", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    channels = {}
    for userid, name in (("zhang", "抖音直播间"), ("li", "B站视频")):
        body = {"name": name, "source": "douyin", "staff": {"userids": [userid]}, "welcome": {"text": "您好"}}
        made = api.call("POST", f"/t/{TENANT}/channels", body, token)
        assert made.status_code == 201, made.body
        channels[userid] = made.json
    mine = api.scan(channels["zhang"]["state"])[1].json["customer_id"]
    api.clock.advance(seconds=30)
    theirs = api.scan(channels["li"]["state"])[1].json["customer_id"]
    group = api.call("POST", f"/t/{TENANT}/tag-groups", {"name": "意向", "tags": ["高意向", "观望"]}, token).json
    tags = {t["name"]: t["tag_id"] for t in group["tags"]}
    return {"token": token, "mine": mine, "theirs": theirs, "channels": channels, "tags": tags}


def _rows(client: ConsoleClient, resp: Any) -> list[str]:
    table = client.dom(resp).all("table")
    return [tr.all("td")[0].text() for tr in table[0].all("tr") if tr.all("td")] if table else []


def test_ops_filter_the_list_by_channel_stage_and_date(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    everyone = ops.get(f"{BASE}/customers")
    assert everyone.status_code == 200
    links = [a.attrs.get("href", "") for a in ops.dom(everyone).all("a")]
    assert {f"{BASE}/customers/{world['mine']}", f"{BASE}/customers/{world['theirs']}"} <= set(links)
    li_channel = world["channels"]["li"]["channel_id"]
    one = ops.get(f"{BASE}/customers?channel={li_channel}")
    assert len(_rows(ops, one)) == 1 and world["theirs"] in one.body.decode()
    assert world["mine"] not in one.body.decode()
    by_owner = ops.get(f"{BASE}/customers?owner=li")
    assert len(_rows(ops, by_owner)) == 1 and world["theirs"] in by_owner.body.decode()
    owners = ops.dom(by_owner).one("select", name="owner")
    assert [(o.attrs["value"], o.text()) for o in owners.all("option") if "selected" in o.attrs] == [("li", "李老师")]
    assert len(_rows(ops, ops.get(f"{BASE}/customers?stage=new"))) == 2
    assert _rows(ops, ops.get(f"{BASE}/customers?stage=converted")) == []
    today = api.clock.iso()[:10]
    assert len(_rows(ops, ops.get(f"{BASE}/customers?added_from={today}&added_to={today}"))) == 2  # both ends in
    assert _rows(ops, ops.get(f"{BASE}/customers?added_to=2026-01-01")) == []
    bad = ops.get(f"{BASE}/customers?added_to=not-a-day")
    assert bad.status_code == 400
    error = ops.dom(bad).one("small", id="added_to-error")  # the message by its field, the form kept
    assert "YYYY-MM-DD" in error.text()


def test_staff_see_their_own_customers_and_get_the_403_page_for_anothers(api: Api, world: dict[str, Any]) -> None:
    zhang = signed_in(api, role="staff", userid="zhang")
    listed = zhang.get(f"{BASE}/customers")
    assert listed.status_code == 200
    assert world["mine"] in listed.body.decode() and world["theirs"] not in listed.body.decode()
    own = zhang.get(f"{BASE}/customers/{world['mine']}")
    assert own.status_code == 200
    assert not any(a.attrs.get("href") == f"{BASE}/dashboard" for a in zhang.dom(own).all("a"))  # not theirs to open
    refused = zhang.get(f"{BASE}/customers/{world['theirs']}")
    assert refused.status_code == 403
    assert "不在你的名下" in zhang.dom(refused).one("main").text()
    assert world["theirs"] not in refused.body.decode()
    assert zhang.get(f"{BASE}/customers/cu_nobody").status_code == 403  # an id of no one: the same refusal
    assert zhang.get(f"{BASE}/customers?owner=li").status_code == 403  # nor can they list another's
    tagged = zhang.post(f"{BASE}/customers/{world['theirs']}/tags", {"add": world["tags"]["高意向"]})
    assert tagged.status_code == 404  # the service's staff scoping, as the JSON API: nothing changed
    theirs = api.call("GET", f"/t/{TENANT}/customers/{world['theirs']}", token=world["token"]).json
    assert world["tags"]["高意向"] not in theirs["tags"]


def test_a_tag_added_and_removed_shows_on_the_customer_and_the_timeline(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    url = f"{BASE}/customers/{world['mine']}"
    page = ops.dom(ops.get(url))
    assert any(a.attrs.get("href") == f"{BASE}/dashboard" for a in page.all("a"))
    options = {o.attrs.get("value"): o.text() for o in page.one("select", name="add").all("option")}
    assert options[world["tags"]["高意向"]] == "意向 / 高意向"
    added = ops.post(f"{url}/tags", {"add": world["tags"]["高意向"]})
    assert added.status_code == 303 and ops.local(added.headers["Location"]) == url
    after = ops.get(url)
    dom = ops.dom(after)
    assert "标签已更新" in dom.one("p", class_="flash").text()
    assert "意向 / 高意向" in dom.one("ul", class_="tags").text()
    assert "标签变更：+意向 / 高意向" in dom.one("ol", class_="timeline").text()
    stored = api.call("GET", f"/t/{TENANT}/customers/{world['mine']}", token=world["token"]).json
    assert world["tags"]["高意向"] in stored["tags"]
    removed = ops.post(f"{url}/tags", {"remove": world["tags"]["高意向"]})
    assert removed.status_code == 303
    assert "标签变更：−意向 / 高意向" in ops.dom(ops.get(url)).one("ol", class_="timeline").text()
    nothing = ops.post(f"{url}/tags", {})
    assert nothing.status_code == 303 and "请选择" in ops.dom(ops.get(url)).one("p", class_="flash").text()


def test_a_tag_form_without_its_csrf_token_changes_nothing(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    refused = ops.post(f"{BASE}/customers/{world['mine']}/tags", {"add": world["tags"]["观望"]}, csrf=False)
    assert refused.status_code == 403
    stored = api.call("GET", f"/t/{TENANT}/customers/{world['mine']}", token=world["token"]).json
    assert world["tags"]["观望"] not in stored["tags"]


def test_erasure_asks_for_the_id_then_erases_and_lists_with_a_flash(api: Api, world: dict[str, Any]) -> None:
    mine = world["mine"]
    ops = signed_in(api)
    assert ops.get(f"{BASE}/customers/{mine}/erase").status_code == 403  # erasure is the admin's, as in the API
    admin = signed_in(api, role="admin")
    confirm = admin.get(f"{BASE}/customers/{mine}/erase")
    assert confirm.status_code == 200
    form = admin.dom(confirm).one("form", action=f"{BASE}/customers/{mine}/erase")
    assert form.attrs["method"] == "post" and form.attrs.get("data-confirm")
    wrong = admin.post(f"{BASE}/customers/{mine}/erase", {"confirm": world["theirs"]})
    assert wrong.status_code == 400 and "不一致" in admin.dom(wrong).one("small", id="confirm-error").text()
    assert api.call("GET", f"/t/{TENANT}/customers/{mine}", token=world["token"]).status_code == 200
    done = admin.post(f"{BASE}/customers/{mine}/erase", {"confirm": mine})
    assert done.status_code == 303 and admin.local(done.headers["Location"]) == f"{BASE}/customers"
    listed = admin.get(f"{BASE}/customers")
    assert f"已清除客户 {mine} 的个人数据" in admin.dom(listed).one("p", class_="flash").text()
    assert f"/customers/{mine}" not in listed.body.decode()
    assert api.call("GET", f"/t/{TENANT}/customers/{mine}", token=world["token"]).status_code == 404
    assert api.call("GET", f"/t/{TENANT}/customers/{world['theirs']}", token=world["token"]).status_code == 200
    assert admin.get(f"{BASE}/customers/{mine}/erase").status_code == 404


def test_a_long_history_is_erased_over_several_confirmations(
    api: Api, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(customers_module, "ERASE_MAX_ITEMS", 1)  # one item a call: the erasure must resume
    mine = world["mine"]
    for name in ("高意向", "观望", "高意向"):  # a history of several items: each tag change is a fact
        body = {"add": [world["tags"][name]]} if name != "观望" else {"remove": [world["tags"]["高意向"]]}
        assert api.call("POST", f"/t/{TENANT}/customers/{mine}/tags", body, world["token"]).status_code == 200
        api.clock.advance(seconds=30)
    admin = signed_in(api, role="admin")
    url = f"{BASE}/customers/{mine}/erase"
    first = admin.post(url, {"confirm": mine})
    assert first.status_code == 303 and admin.local(first.headers["Location"]) == url  # back to the confirmation
    assert "已清除一部分" in admin.dom(admin.get(url)).one("p", class_="flash").text()
    for _ in range(30):
        again = admin.post(url, {"confirm": mine})
        if admin.local(again.headers["Location"]) == f"{BASE}/customers":
            break
    else:
        raise AssertionError("the erasure never finished")
    assert api.call("GET", f"/t/{TENANT}/customers/{mine}", token=world["token"]).status_code == 404
