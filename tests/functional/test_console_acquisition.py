"""The ops pages for link channels (获客链接) through the real app and the sandbox: the form's kind choice, the
channel's page with its URL to copy and the quota, the list's badge, today's adds and the low-quota warning, a form
refused next to its field with nothing made, and an edit that keeps the link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.console_client import ConsoleClient, signed_in
from tests.html_dom import Node, table_cells

BASE = f"/console/{TENANT}"


def _setup(api: Api) -> tuple[str, ConsoleClient]:
    token = api.create_tenant()
    for userid, name in (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    return token, signed_in(api)


FORM = [
    ("name", "小红书投放-考研"),
    ("kind", "link"),
    ("source", "xiaohongshu"),
    ("mode", "round_robin"),
    ("userids", "zhanglaoshi"),
    ("userids", "lilaoshi"),
    ("welcome", "您好，这里是思语考研～"),
    ("tags", "流量平台来源/小红书"),
]


def _errors(page: Node) -> dict[str, str]:
    return {
        n.attrs["id"].removesuffix("-error"): n.text() for n in page.all("small", class_="error") if "id" in n.attrs
    }


def test_ops_create_a_link_channel_copy_its_url_and_see_its_adds_and_quota(api: Api) -> None:
    _, ops = _setup(api)
    new = ops.dom(ops.get(f"{BASE}/channels/new"))
    assert [o.attrs["value"] for o in new.one("select", name="kind").all("option")] == ["standard", "link"]
    resp = ops.post(f"{BASE}/channels", FORM)
    assert resp.status_code == 303, resp.body.decode()[:2000]
    channel_id = resp.headers["Location"].rsplit("/", 1)[-1]
    page = ops.dom(ops.get(f"{BASE}/channels/{channel_id}"))
    url = page.one("code", id="acq-url").text()
    assert parse_qs(urlsplit(url).query) == {"customer_channel": [channel_id]}
    assert page.one("button", **{"data-copy": "#acq-url"}).text() == "复制链接"
    assert page.all("img") == []  # no poster: the URL is what goes into ads
    assert page.one("strong", **{"data-key": "quota-balance"}).text() == "1000"
    [link] = api.sandbox.world.links(CORP)
    assert url.startswith(link["url"]) and link["users"] == ["zhanglaoshi", "lilaoshi"]

    for _ in range(2):
        assert api.callback(TENANT, api.sandbox.world.open_link(CORP, url)).status_code == 200
    listing = ops.dom(ops.get(f"{BASE}/channels"))
    [row] = table_cells(listing)
    assert "获客链接" in row["name"] and (row["adds_today"], row["new_today"]) == ("2", "2")
    assert "剩余 998 / 共 1000" in listing.text() and "获客额度不足" not in listing.text()

    api.sandbox.world.set_link_quota(CORP, balance=50, total=1000)
    assert "获客额度不足：仅剩 50 个" in ops.dom(ops.get(f"{BASE}/channels")).text()
    api.sandbox.world.set_link_quota(CORP, balance=0)
    assert "获客额度已用完" in ops.dom(ops.get(f"{BASE}/channels/{channel_id}")).text()


def test_a_link_form_with_caps_comes_back_with_the_problem_and_nothing_is_made(api: Api) -> None:
    token, ops = _setup(api)
    resp = ops.post(f"{BASE}/channels", [*FORM, ("cap_lilaoshi", "20")])
    assert resp.status_code == 400
    assert "获客链接不设每日上限和备用员工" in _errors(ops.dom(resp))["userids"]
    bad_kind = ops.post(f"{BASE}/channels", [(k, "poster" if k == "kind" else v) for k, v in FORM])
    assert bad_kind.status_code == 400 and "kind" in _errors(ops.dom(bad_kind))
    assert api.call("GET", f"/t/{TENANT}/channels", token=token).json["items"] == []
    assert api.sandbox.world.links(CORP) == []


def test_ops_edit_a_link_channel_and_its_link_follows(api: Api) -> None:
    token, ops = _setup(api)
    channel_id = ops.post(f"{BASE}/channels", FORM).headers["Location"].rsplit("/", 1)[-1]
    form = ops.dom(ops.get(f"{BASE}/channels/{channel_id}/edit"))
    assert form.all("select", name="kind") == [] and "获客链接" in form.text()
    edited = [(k, v) for k, v in FORM if k != "userids" and k != "kind"] + [("userids", "lilaoshi")]
    resp = ops.post(f"{BASE}/channels/{channel_id}", [*edited, ("mode", "single")])
    assert resp.status_code == 303, resp.body.decode()[:2000]
    [link] = api.sandbox.world.links(CORP)
    assert link["users"] == ["lilaoshi"]
    stored = api.call("GET", f"/t/{TENANT}/channels/{channel_id}", token=token).json
    assert stored["kind"] == "link" and stored["link_id"] == link["link_id"]
