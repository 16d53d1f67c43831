"""The 素材库 and 话术库 pages through the real app: list and filter, create with a file (stored in moto's S3), the
image preview, a bad form shown again with the error by its field, edit, delete after a confirmation page; scripts
grouped by stage and scene. Access (sign-in, tenant, role, CSRF) is test_console_access.py's, from the registry."""

from __future__ import annotations

from tests.functional.conftest import TENANT, Api, Resp
from tests.functional.console_client import ConsoleClient, signed_in

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(80))
BASE = f"/console/{TENANT}"


def _ops(api: Api) -> ConsoleClient:
    api.create_tenant()
    return signed_in(api)


def _create_image(ops: ConsoleClient, title: str = "考研海报") -> str:
    form = {"kind": "image", "title": title, "tags": "海报，试听课", "stage": "nurturing", "scene": ""}
    made = ops.post(f"{BASE}/content", form, files={"file": ("poster.png", "image/png", PNG)})
    assert made.status_code == 303, made.body
    return ops.local(made.headers["Location"]).rsplit("/", 1)[1]


def _image_bytes(ops: ConsoleClient, path: str) -> Resp:
    return ops._send("GET", path, headers={"Accept": "image/*,*/*"})  # as a browser's <img> asks


def test_create_an_image_see_it_listed_with_its_preview(api: Api) -> None:
    ops = _ops(api)
    cid = _create_image(ops)
    page = ops.get(f"{BASE}/content/{cid}", follow=True)
    assert page.status_code == 200
    dom = ops.dom(page)
    assert dom.one("p", class_="flash").text() == "素材已创建"
    assert dom.one("input", name="title").attrs["value"] == "考研海报"
    preview = dom.one("img", alt="考研海报 的预览")
    image = _image_bytes(ops, preview.attrs["src"])
    assert image.status_code == 200 and image.body == PNG and image.headers["Content-Type"] == "image/png"
    listed = ops.dom(ops.get(f"{BASE}/content?kind=image"))
    assert [a.text() for a in listed.all("a") if a.attrs.get("href") == f"{BASE}/content/{cid}"] == ["考研海报"]
    assert ops.dom(ops.get(f"{BASE}/content?kind=link")).all("img", class_="lib-thumb") == []
    text = ops.post(f"{BASE}/content", {"kind": "text", "title": "开场白", "text": "同学你好"})
    assert text.status_code == 303
    texts = ops.dom(ops.get(f"{BASE}/content?kind=text"))
    assert "开场白" in texts.text() and "考研海报" not in texts.text()


def test_a_bad_form_is_shown_again_with_the_error_by_its_field(api: Api) -> None:
    ops = _ops(api)
    bad = ops.post(f"{BASE}/content", {"kind": "link", "title": "题库", "url": "ftp://nope"})
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("text/html")
    dom = ops.dom(bad)
    assert dom.one("input", name="url").attrs["aria-invalid"] == "true"
    assert "http" in dom.one("small", id="url-error").text()
    assert dom.one("input", name="title").attrs["value"] == "题库"  # what was typed is kept
    gif = ops.post(
        f"{BASE}/content", {"kind": "image", "title": "动图"}, files={"file": ("a.png", "image/png", b"GIF89a" * 9)}
    )
    assert gif.status_code == 400 and "PNG" in ops.dom(gif).one("small", id="file-error").text()
    listed = api.call("GET", f"/t/{TENANT}/content", token=api.token(TENANT, "ops"))
    assert listed.json["items"] == []  # nothing stored


def test_edit_replace_the_file_and_delete_after_confirming(api: Api) -> None:
    ops = _ops(api)
    cid = _create_image(ops)
    form = {
        "rev": "1",  # created with its file: rev 1
        "title": "新海报",
        "tags": "海报",
        "stage": "",
        "scene": "closing",
    }
    saved = ops.post(f"{BASE}/content/{cid}", form, files={"file": ("v2.png", "image/png", PNG + b"v2")})
    assert saved.status_code == 303, saved.body
    item = api.call("GET", f"/t/{TENANT}/content/{cid}", token=api.token(TENANT, "ops")).json
    assert (item["title"], item["scene"], item["stage"], item["file"]["filename"]) == (
        "新海报",
        "closing",
        None,
        "v2.png",
    )
    stale = ops.post(f"{BASE}/content/{cid}", {**form, "title": "旧表单"})
    assert stale.status_code == 409  # a form read before the last save: refused, nothing changed
    confirm = ops.dom(ops.get(f"{BASE}/content/{cid}/delete"))
    delete_form = confirm.one("form", action=f"{BASE}/content/{cid}/delete")
    assert delete_form.attrs["data-confirm"] and "不能恢复" in confirm.text()
    gone = ops.post(f"{BASE}/content/{cid}/delete", {})
    assert gone.status_code == 303 and ops.local(gone.headers["Location"]) == f"{BASE}/content"
    assert ops.get(f"{BASE}/content/{cid}").status_code == 404


def test_scripts_grouped_by_stage_and_scene_create_edit_delete(api: Api) -> None:
    ops = _ops(api)
    cid = _create_image(ops)
    for stage, scene, title in (
        ("hot", "closing", "限时优惠"),
        ("new", "icebreak", "欢迎"),
        ("hot", "icebreak", "问候"),
    ):
        made = ops.post(f"{BASE}/scripts", {"stage": stage, "scene": scene, "title": title, "text": f"{title}的话术",
                                            "content_ids": cid, "order": "0"})  # fmt: skip
        assert made.status_code == 303, made.body
    page = ops.dom(ops.get(f"{BASE}/scripts"))
    assert [h.text() for h in page.all("h2")] == ["新客 · 破冰", "高意向 · 破冰", "高意向 · 促单"]
    section = page.one("section", id="s-hot-closing")
    assert "限时优惠的话术" in section.text() and "附带素材 1 个" in section.text()
    missing = ops.post(f"{BASE}/scripts", {"stage": "hot", "scene": "closing", "title": "t", "text": "x",
                                           "content_ids": "cnt_nope"})  # fmt: skip
    assert missing.status_code == 400 and "cnt_nope" in ops.dom(missing).one("small", id="content_ids-error").text()
    [link] = [a for a in section.all("a") if a.attrs.get("href", "").startswith(f"{BASE}/scripts/scr_")]
    sid = link.attrs["href"].rsplit("/", 1)[1]
    form = {"rev": "1", "stage": "trial", "scene": "objection", "title": "太贵了", "text": "体验课不满意全额退"}
    edited = ops.post(f"{BASE}/scripts/{sid}", {**form, "content_ids": "", "order": "1"})
    assert edited.status_code == 303
    assert "体验课 · 异议处理" in ops.dom(ops.get(f"{BASE}/scripts")).text()
    assert ops.post(f"{BASE}/scripts/{sid}/delete", {}).status_code == 303
    assert "太贵了" not in ops.dom(ops.get(f"{BASE}/scripts")).text()


def test_the_form_loads_its_own_script_and_works_without_it(api: Api) -> None:
    ops = _ops(api)
    page = ops.get(f"{BASE}/content/new")
    dom = ops.dom(page)
    scripts = [s.attrs.get("src", "") for s in dom.all("script")]
    assert any(src.endswith("/content.js") for src in scripts)  # a file, never inline (CSP script-src 'self')
    assert all(s.attrs.get("src") for s in dom.all("script"))
    form = dom.one("form", action=f"{BASE}/content")
    assert not [f for f in form.all("div", class_="field") if "hidden" in f.attrs]  # every field shows without JS
    labels = {label.attrs.get("for") for label in form.all("label")}
    inputs = {i.attrs["id"] for i in form.all("input") + form.all("select") + form.all("textarea") if "id" in i.attrs}
    assert inputs <= labels  # every control has its label
    asset = ops.get(next(src for src in scripts if src.endswith("/content.js")))
    assert asset.status_code == 200 and b"data-content-form" in asset.body
