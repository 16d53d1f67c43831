"""The ops pages for SOP plans through the real app: upload a sheet with a bad row and see it against the row, fix
it in the page, preview the calendar, publish; then a new version, its diff, and a migration (dry run, then apply)."""

from __future__ import annotations

from pathlib import Path

from tests.functional.conftest import TENANT, Api, Resp
from tests.functional.console_client import ConsoleClient, signed_in
from tests.html_dom import Node, table_cells

BASE = f"/console/{TENANT}"
SHEET = (
    "天数,时间,分钟后,事项,内容类型,内容,执行人,话术\n"
    ",,5,破冰,服务,同学你好～我是思语考研的李老师,owner,先自我介绍\n"
    "0,23:30,,资料包,资料,给你准备好了备考规划表,owner,\n"
    "1,20:00,,公开课预告,宣传,今晚20:30 名师直播公开课,owner,只发一次\n"
)


def _setup(api: Api) -> tuple[str, ConsoleClient]:
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    return token, signed_in(api)


def _grid(page: Node, fix: dict[tuple[int, str], str]) -> list[tuple[str, str]]:
    """The page's editable grid as the browser would send it, with some cells changed: (row, column) → value."""
    header = [n.attrs["value"] for n in page.all("input", name="header")]
    fields = [("header", h) for h in header]
    for tr in page.one("table", class_="sheet").one("tbody").all("tr"):
        number = int(tr.attrs["data-row"])
        fields.append(("row", str(number)))
        for column, cell in zip(header, tr.all("input", name="cell"), strict=True):
            fields.append(("cell", fix.get((number, column), cell.attrs.get("value", ""))))
    return fields


def _upload(ops: ConsoleClient, sheet: str, **params: str) -> Resp:
    form = {"name": "新客7天培育", "trigger": "manual", **params}
    return ops.post(f"{BASE}/plans/import", form, files={"file": ("新客7天培育.csv", "text/csv", sheet.encode())})


def test_upload_a_bad_row_fix_it_in_the_page_preview_and_publish(api: Api) -> None:
    token, ops = _setup(api)
    resp = _upload(ops, SHEET)
    assert resp.status_code == 400
    page = ops.dom(resp)
    bad = [tr for tr in page.one("table", class_="sheet").one("tbody").all("tr") if "bad-row" in tr.attrs["class"]]
    assert [tr.attrs["data-row"] for tr in bad] == ["4"]
    assert "不认识的内容类型“宣传”" in bad[0].one("td", class_="problems").text()
    assert [n.attrs["aria-label"] for n in bad[0].all("input", aria_invalid="true")] == ["第4行 内容类型"]
    assert api.call("GET", f"/t/{TENANT}/plans", token=token).json["items"] == []  # nothing stored

    fixed = ops.post(
        f"{BASE}/plans/import",
        [("name", "新客7天培育"), ("trigger", "manual"), ("grid", "1"), *_grid(page, {(4, "内容类型"): "营销"})],
    )
    assert fixed.status_code == 303, fixed.body.decode()[:3000]
    plan_path = ops.local(fixed.headers["Location"])
    plan_id = plan_path.rsplit("/", 1)[-1]
    detail = ops.dom(ops.get(plan_path))
    assert "已导入 3 步" in detail.text() and detail.one("span", id="plan-status").text() == "草稿"
    steps = table_cells(detail.one("table", class_="steps"))
    assert [(s["id"].split(" ")[0], s["when"], s["type"]) for s in steps] == [
        ("s1", "加好友后 5 分钟", "服务"),
        ("s2", "第0天 23:30", "资料"),
        ("s3", "第1天 20:00", "营销"),
    ]

    preview = ops.dom(ops.get(f"{plan_path}/preview?start=2026-12-01&joins=09:00,23:30&days=3"))
    days = [h.text() for h in preview.all("h2")]
    assert days[0] == "第0天 · 12-01 周二"
    texts = preview.text()
    assert "因免打扰时段顺延" in texts  # a 23:30 touch waits for the quiet hours to end
    assert preview.one("strong", data_total="task").text() == "6"

    published = ops.post(f"{plan_path}/publish", {})
    assert published.status_code == 303
    after = ops.dom(ops.get(plan_path))
    assert after.one("span", id="plan-status").text() == "已发布" and "已发布" in after.one("p", class_="flash").text()
    assert api.call("GET", f"/t/{TENANT}/plans/{plan_id}", token=token).json["status"] == "published"


def test_a_new_version_its_diff_and_a_migration_dry_run_then_applied(api: Api) -> None:
    token, ops = _setup(api)
    good = SHEET.replace("宣传", "营销")
    plan_path = ops.local(_upload(ops, good).headers["Location"])
    plan_id = plan_path.rsplit("/", 1)[-1]
    ops.post(f"{plan_path}/publish", {})
    channel = {"name": "抖音", "source": "douyin", "plan_id": plan_id, "staff": {"userids": ["zhang"]}}
    state = api.call("POST", f"/t/{TENANT}/channels", channel, token).json["state"]
    for _ in range(2):
        api.scan(state)  # enrolled on version 1, their first touch (s1) queued
    edited = good.replace("先自我介绍", "先自我介绍，再问目标院校").replace("1,20:00", "1,19:30")
    again = _upload(ops, edited, name="新客7天培育", as_new_version_of=plan_id)
    assert again.status_code == 303, again.body.decode()[:3000]

    diff = ops.dom(ops.get(f"{plan_path}/diff?from=1&to=2"))
    changed = {a.attrs["data-step"]: a.text() for a in diff.all("article")}
    assert set(changed) == {"s1", "s3"} and "话术" in changed["s1"] and "19:30" in changed["s3"]

    form = ops.dom(ops.get(f"{plan_path}/migrate?from=1"))
    assert [n.attrs["name"] for n in form.all("select")] == ["from_version", "map_s1", "map_s2", "map_s3"]
    mapping = [("from_version", "1"), ("map_s1", "s1"), ("map_s2", "s2"), ("map_s3", "s3")]
    dry = ops.post(f"{plan_path}/migrate", [*mapping, ("apply", "0")])
    assert dry.status_code == 200
    report = ops.dom(dry)
    assert report.one("strong", data_report="enrollments").text() == "2"
    enrolled = api.call("GET", f"/t/{TENANT}/plans/{plan_id}/enrollments", token=token).json["items"]
    assert {e["version"] for e in enrolled} == {1}  # a dry run changes nothing
    previewed = ("previewed", report.one("input", name="previewed").attrs["value"])
    remapped = [*mapping[:3], ("map_s3", ""), ("apply", "1"), previewed]  # the map changed after the dry run
    again = ops.post(f"{plan_path}/migrate", remapped)
    assert again.status_code == 200 and ops.dom(again).one("strong", data_report="enrollments").text() == "2"
    enrolled = api.call("GET", f"/t/{TENANT}/plans/{plan_id}/enrollments", token=token).json["items"]
    assert {e["version"] for e in enrolled} == {1}  # previewed again, not applied
    applied = ops.post(f"{plan_path}/migrate", [*mapping, ("apply", "1"), previewed])
    assert applied.status_code == 303
    assert "已把 2 个客户迁到版本 2" in ops.dom(ops.get(plan_path)).text()
    enrolled = api.call("GET", f"/t/{TENANT}/plans/{plan_id}/enrollments", token=token).json["items"]
    assert {e["version"] for e in enrolled} == {2}


def test_the_list_lifecycle_and_refusals(api: Api) -> None:
    _, ops = _setup(api)
    empty = ops.dom(ops.get(f"{BASE}/plans"))
    assert "还没有" in empty.text()
    no_file = ops.post(f"{BASE}/plans/import", {"name": "x"})
    assert no_file.status_code == 400 and "请选择" in ops.dom(no_file).one("small", id="file-error").text()
    plan_path = ops.local(_upload(ops, SHEET.replace("宣传", "营销")).headers["Location"])
    taken = _upload(ops, SHEET.replace("宣传", "营销"))
    assert taken.status_code == 400 and "作为新版本导入" in ops.dom(taken).text()
    assert ops.post(f"{plan_path}/pause", {}).status_code == 409  # a draft is not live
    ops.post(f"{plan_path}/publish", {})
    ops.post(f"{plan_path}/pause", {})
    rows = table_cells(ops.dom(ops.get(f"{BASE}/plans")))
    assert [(r["name"], r["status"], r["steps"]) for r in rows] == [("新客7天培育", "已暂停", "3")]
    ops.post(f"{plan_path}/resume", {})
    ops.post(f"{plan_path}/archive", {})
    assert table_cells(ops.dom(ops.get(f"{BASE}/plans?status=archived")))[0]["status"] == "已归档"
    assert "还没有草稿计划" in ops.dom(ops.get(f"{BASE}/plans?status=draft")).text()
    assert ops.get(f"{BASE}/plans/pl_nosuch").status_code == 404
    assert ops.get(f"{plan_path}/diff").status_code == 400
    # Bad input is a page that says so, never a 500.
    for path, status in ((f"{plan_path}/diff?from=99", 404), (f"{plan_path}/preview?version=99", 404),
                         (f"{plan_path}/preview?start=soon&joins=noon&days=-1", 200)):  # fmt: skip
        resp = ops.get(path)
        assert resp.status_code == status and resp.headers["Content-Type"].startswith("text/html"), path
    assert "开始日期写成 YYYY-MM-DD" in ops.dom(ops.get(f"{plan_path}/preview?start=soon")).text()
    same = ops.post(f"{plan_path}/migrate", {"from_version": "1", "apply": "0"})  # its only version: nothing to move
    assert same.status_code == 400 and "迁移没有执行" in ops.dom(same).one("p", class_="error").text()


def test_a_camp_sheet_becomes_a_group_plan_whose_preview_is_its_calendar(api: Api) -> None:
    _, ops = _setup(api)
    sheet = (Path(__file__).resolve().parents[2] / "samples" / "28天训练营.csv").read_bytes()
    form = {"name": "28天训练营", "kind": "group", "group_type": "study", "cohort": "3期"}
    resp = ops.post(f"{BASE}/plans/import", form, files={"file": ("28天训练营.csv", "text/csv", sheet)})
    assert resp.status_code == 303, resp.body.decode()[:3000]
    plan_path = ops.local(resp.headers["Location"])
    detail = ops.dom(ops.get(plan_path))
    assert "社群日历" in detail.one("p", class_="meta").text()
    assert any(
        a.attrs.get("href", "").endswith("/groups/camps/" + plan_path.rsplit("/", 1)[-1]) for a in detail.all("a")
    )
    preview = ops.dom(ops.get(f"{plan_path}/preview?start=2026-12-14"))
    assert preview.all("h2")[0].text().startswith("第-7天 · 12-07")
    assert "建群欢迎" in preview.text()


def test_the_import_form_sets_an_exit_rule_the_plans_page_names(api: Api) -> None:
    token, ops = _setup(api)
    imported = _upload(ops, SHEET.replace("宣传", "营销"), exit="order:full,negative_reply")
    assert imported.status_code == 303
    plan_path = ops.local(imported.headers["Location"])
    plan_id = plan_path.rsplit("/", 1)[-1]
    exits = api.call("GET", f"/t/{TENANT}/plans/{plan_id}", token=token).json["exit"]
    assert exits == [{"type": "order", "kind": "full"}, {"type": "negative_reply"}]
    assert ops.dom(ops.get(plan_path)).one("p", id="plan-exits").text() == "退出规则：购买正价课、明确拒绝后退出"
    form = ops.dom(ops.get(f"{BASE}/plans/import"))
    assert [o.attrs["value"] for o in form.one("select", name="exit").all("option")][:2] == ["", "order:full"]
    refused = _upload(ops, SHEET.replace("宣传", "营销"), name="退出有误", exit="refund")
    assert refused.status_code == 400 and ops.dom(refused).one("small", id="exit-error").text()
