"""The ops pages for channels (渠道活码) through the real app: the list with today's adds and CAC, create and edit
with each problem next to its field, the QR poster — over the sandbox's real QR image."""

from __future__ import annotations

import io

from PIL import Image

from tests.functional.conftest import CORP, TENANT, Api, Resp
from tests.functional.console_client import ConsoleClient, signed_in
from tests.html_dom import Node, table_cells

BASE = f"/console/{TENANT}"


def _setup(api: Api) -> tuple[str, ConsoleClient]:
    token = api.create_tenant()
    for userid, name in (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    return token, signed_in(api)


def _create(ops: ConsoleClient, **over: object) -> str:
    form: list[tuple[str, str]] = [
        ("name", "抖音-考研直播间"),
        ("source", "douyin"),
        ("campaign", "2027考研秋季"),
        ("mode", "round_robin"),
        ("userids", "zhanglaoshi"),
        ("userids", "lilaoshi"),
        ("cap_lilaoshi", "30"),
        ("backup_userid", "zhanglaoshi"),
        ("welcome", "您好，我是思语考研的老师，资料包稍后发您～"),
        ("tags", "流量平台来源/抖音\n考研年份/2027"),
        ("spend", "120.5"),
    ]
    form = [(k, v) for k, v in form if k not in over] + [(k, str(v)) for k, v in over.items()]
    resp = ops.post(f"{BASE}/channels", form)
    assert resp.status_code == 303, resp.body.decode()[:2000]
    return resp.headers["Location"].rsplit("/", 1)[-1]


def _image(ops: ConsoleClient, path: str) -> Resp:
    """GET an image as a browser's <img> does (API Gateway and Chalice answer binary only to such an Accept)."""
    return ops._send("GET", path, headers={"Accept": "image/avif,image/webp,image/png,image/*,*/*;q=0.8"})


def _errors(page: Node) -> dict[str, str]:
    return {
        n.attrs["id"].removesuffix("-error"): n.text() for n in page.all("small", class_="error") if "id" in n.attrs
    }


def test_ops_create_a_channel_see_its_poster_and_find_it_in_the_list_with_todays_adds(api: Api) -> None:
    token, ops = _setup(api)
    empty = ops.dom(ops.get(f"{BASE}/channels"))
    assert "还没有渠道活码" in empty.text()
    channel_id = _create(ops)
    detail = ops.get(f"{BASE}/channels/{channel_id}")
    assert detail.status_code == 200 and "渠道已创建" in detail.body.decode()
    page = ops.dom(detail)
    assert page.one("h1").text() == "抖音-考研直播间"
    img = page.one("img")
    assert img.attrs["src"] == f"{BASE}/channels/{channel_id}/poster.png" and img.attrs["alt"]
    stored = api.call("GET", f"/t/{TENANT}/channels/{channel_id}", token=token).json
    assert stored["staff"] == {
        "mode": "round_robin",
        "userids": ["zhanglaoshi", "lilaoshi"],
        "backup_userid": "zhanglaoshi",
        "daily_caps": {"lilaoshi": 30},
    }
    assert [(t["group"], t["name"]) for t in stored["tags"]] == [("流量平台来源", "抖音"), ("考研年份", "2027")]
    assert stored["spend"] == 120.5 and stored["welcome"]["text"].startswith("您好")

    poster = _image(ops, f"{BASE}/channels/{channel_id}/poster.png")
    assert poster.status_code == 200 and poster.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(poster.body)) as card:
        assert card.size == (750, 1100)
    download = _image(ops, f"{BASE}/channels/{channel_id}/poster.png?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")

    api.scan(channel_id)
    api.scan(channel_id)
    rows = table_cells(ops.dom(ops.get(f"{BASE}/channels")))
    assert [(r["name"].split(" ")[0], r["source"], r["adds_today"], r["new_today"]) for r in rows] == [
        ("抖音-考研直播间", "抖音", "2", "2")
    ]
    assert rows[0]["cac"] == "¥0.00"  # spend by day is entered on the dashboard: none yet
    spent = api.call("PUT", f"/t/{TENANT}/channels/{channel_id}/spend/2026-12-01", {"amount": 90}, token)
    assert spent.status_code == 200, spent.body
    rows = table_cells(ops.dom(ops.get(f"{BASE}/channels")))
    assert rows[0]["cac"] == "¥45.00"


def test_a_bad_form_comes_back_with_each_problem_next_to_its_field_and_nothing_is_made(api: Api) -> None:
    token, ops = _setup(api)
    resp = ops.post(
        f"{BASE}/channels",
        [
            ("name", ""),
            ("source", "douyin"),
            ("mode", "single"),
            ("userids", "zhanglaoshi"),
            ("userids", "lilaoshi"),
            ("tags", "抖音"),
            ("spend", "-1"),
            ("cap_zhanglaoshi", "x"),
            ("welcome", "留着"),
        ],
    )
    assert resp.status_code == 400
    page = ops.dom(resp)
    errors = _errors(page)
    assert set(errors) == {"name", "userids", "tags", "spend"} and "caps" not in errors
    assert "单人模式" in errors["userids"] and "标签组/标签名" in errors["tags"]
    assert page.one("textarea", name="welcome").text() == "留着"  # what was typed stays
    assert page.one("input", name="name").attrs["aria-invalid"] == "true"
    assert api.call("GET", f"/t/{TENANT}/channels", token=token).json["items"] == []
    # the service's own refusal (an unknown staff member) also lands next to its field
    unknown = ops.post(
        f"{BASE}/channels", [("name", "x"), ("source", "douyin"), ("mode", "single"), ("userids", "nobody")]
    )
    assert unknown.status_code == 400 and "nobody" in _errors(ops.dom(unknown))["userids"]


def test_ops_edit_a_channel_and_its_welcome_attachments_survive(api: Api) -> None:
    token, ops = _setup(api)
    channel_id = _create(ops)
    link = {"msgtype": "link", "link": {"title": "资料包", "url": "https://example.com/pack"}}
    patch = {"welcome": {"text": "旧欢迎语", "attachments": [link]}}
    assert api.call("PATCH", f"/t/{TENANT}/channels/{channel_id}", patch, token).status_code == 200
    form = ops.dom(ops.get(f"{BASE}/channels/{channel_id}/edit"))
    assert form.one("input", name="name").attrs["value"] == "抖音-考研直播间"
    checked = [n.attrs["value"] for n in form.all("input", name="userids") if "checked" in n.attrs]
    assert checked == ["zhanglaoshi", "lilaoshi"]
    fields = [
        (n.attrs["name"], n.attrs.get("value", "")) for n in form.all("input") if n.attrs.get("type") != "checkbox"
    ]
    fields = [(k, v) for k, v in fields if k not in ("csrf", "name")] + [("name", "抖音-考研直播间-12月")]
    fields += [("userids", "lilaoshi"), ("mode", "single"), ("source", "douyin"), ("welcome", "新欢迎语")]
    resp = ops.post(f"{BASE}/channels/{channel_id}", fields)
    assert resp.status_code == 303, resp.body.decode()[:2000]
    stored = api.call("GET", f"/t/{TENANT}/channels/{channel_id}", token=token).json
    assert stored["name"] == "抖音-考研直播间-12月" and stored["staff"]["userids"] == ["lilaoshi"]
    assert stored["welcome"] == {"text": "新欢迎语", "attachments": [link]}
    assert api.sandbox.world.corps[CORP].ways[stored["config_id"]].users == ["lilaoshi"]  # kept in sync with WeCom


def test_an_unknown_channel_is_the_404_page(api: Api) -> None:
    _, ops = _setup(api)
    for path in ("/channels/ch_nosuch", "/channels/ch_nosuch/edit", "/channels/ch_nosuch/poster.png"):
        resp = ops.get(BASE + path)
        assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("text/html"), path
