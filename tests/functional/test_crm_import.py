"""订单导入 through the real app (chalice.test.Client, moto DynamoDB, the WeCom sandbox): a past buyer scanning after
the import is recognised (stage, timeline, kept out of the nurture plan); a bad file stores nothing; the same file
twice doubles nothing; a customer Siyu has already gets the order; the console page shows each problem by its row."""

from __future__ import annotations

from typing import Any

from chalicelib.services.sheets import XLSX
from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.console_client import signed_in

BASE = f"/console/{TENANT}"
SHEET = (
    "客户编号,姓名,手机号,产品,金额,日期\n"
    "C001,王小明,13800138000,考研政治全程班,1999,2025-09-01\n"
    "C002,李华,13912345678,英语体验课,9.9,2025-10-02\n"
)
BUYER = "wmcrmbuyer0000000000000000001"


def _setup(api: Api) -> tuple[str, str, str]:
    """A tenant, a staff member, a published nurture plan a purchase exits, a channel that enrolls into it."""
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    plan = api.call(
        "POST",
        f"/t/{TENANT}/plans",
        {
            "name": "新客7天培育",
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}],
            "exit": [{"type": "order"}],
        },
        token,
    )
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    body = {"name": "抖音", "source": "douyin", "plan_id": plan_id, "staff": {"userids": ["zhang"]}}
    channel = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert channel.status_code == 201, channel.body
    return token, plan_id, channel.json["state"]


def _upload(api: Api, token: str, sheet: str | bytes, query: str = "", content_type: str = "text/csv") -> Any:
    raw = sheet.encode() if isinstance(sheet, str) else sheet
    return api.call("POST", f"/t/{TENANT}/crm-imports{query}", raw, token, headers={"Content-Type": content_type})


def _orders(api: Api, token: str, customer_id: str) -> list[dict[str, Any]]:
    items = api.call("GET", f"/t/{TENANT}/customers/{customer_id}/timeline?limit=50", token=token).json["items"]
    return [i for i in items if i["type"] == "order"]


def test_a_past_buyer_scanning_after_the_import_is_recognised_and_not_nurtured(api: Api) -> None:
    token, plan_id, state = _setup(api)
    imported = _upload(api, token, SHEET)
    assert imported.status_code == 201, imported.body
    assert {k: imported.json[k] for k in ("status", "rows", "orders", "customers", "matched")} == {
        "status": "complete", "rows": 2, "orders": 2, "customers": 2, "matched": 0,
    }  # fmt: skip
    got = api.call("GET", f"/t/{TENANT}/crm-imports/{imported.json['import_id']}", token=token)
    assert got.status_code == 200 and got.json["status"] == "complete"

    api.sandbox.world.register_contact(CORP, BUYER, remark_mobiles=["138 0013 8000"])
    _, scanned = api.scan(state, external_userid=BUYER)
    cid = scanned.json["customer_id"]
    customer = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    assert customer["stage"] == "converted"
    orders = _orders(api, token, cid)
    assert [(o["detail"]["source"], o["detail"]["product"], o["at"][:10]) for o in orders] == [
        ("crm", "考研政治全程班", "2025-09-01")
    ]
    enrolled = api.call("GET", f"/t/{TENANT}/customers/{cid}/enrollments", token=token).json["items"]
    assert [e for e in enrolled if e["plan_id"] == plan_id] == []
    # Someone the CRM does not know is nurtured as before.
    _, stranger = api.scan(state)
    theirs = api.call("GET", f"/t/{TENANT}/customers/{stranger.json['customer_id']}/enrollments", token=token).json
    assert [e["plan_id"] for e in theirs["items"]] == [plan_id]


def test_a_bad_file_stores_nothing_and_names_every_bad_row(api: Api) -> None:
    token, _, _ = _setup(api)
    bad = SHEET + "C003,赵,1380013800,政治,100,2025-09-01\nC004,钱,13800138004,政治,一百,2025-13-01\n"
    resp = _upload(api, token, bad)
    assert resp.status_code == 422, resp.body
    assert resp.json["error"]["code"] == "invalid_rows"
    assert [(r["row"], [e["column"] for e in r["errors"]]) for r in resp.json["rows"]] == [
        (4, ["phone"]),
        (5, ["amount", "date"]),
    ]
    assert api.call("GET", f"/t/{TENANT}/crm-imports", token=token).json["items"] == []
    dry = _upload(api, token, SHEET, "?dry_run=1")
    assert dry.status_code == 200 and dry.json["dry_run"] is True and dry.json["orders"] == 2
    assert api.call("GET", f"/t/{TENANT}/crm-imports", token=token).json["items"] == []
    for raw, ctype, status in (
        (b"", "text/csv", 400),
        (b'{"a": 1}', "application/json", 415),
        (b"a,b\n1,2\n", "text/csv", 400),
        (b"PK\x03\x04broken", XLSX, 400),
    ):
        refused = _upload(api, token, raw, content_type=ctype)
        assert refused.status_code == status, (raw, refused.body)
        assert set(refused.json["error"]) >= {"code", "message"}
    viewer = api.token(TENANT, "viewer")
    assert _upload(api, viewer, SHEET).status_code == 403
    assert api.call("GET", f"/t/{TENANT}/crm-imports/ci_nope", token=token).status_code == 404
    assert api.call("GET", f"/t/{TENANT}/crm-imports", token=token).json["items"] == []


def test_an_existing_customer_gets_the_order_and_the_same_file_twice_doubles_nothing(api: Api) -> None:
    token, _, state = _setup(api)
    api.sandbox.world.register_contact(CORP, "wmcrmold00000000000000000001", remark_mobiles=["13912345678"])
    _, scanned = api.scan(state, external_userid="wmcrmold00000000000000000001")
    cid = scanned.json["customer_id"]
    first = _upload(api, token, SHEET)
    assert first.status_code == 201 and first.json["matched"] == 1 and first.json["applied"] == 1
    customer = api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json
    assert customer["stage"] == "converted"  # without a 类型 column, every order is a full-price one
    again = _upload(api, token, SHEET)
    assert again.status_code == 200 and again.json["import_id"] == first.json["import_id"]
    assert len(_orders(api, token, cid)) == 1
    assert len(api.call("GET", f"/t/{TENANT}/crm-imports", token=token).json["items"]) == 1


def test_the_console_page_shows_problems_by_row_then_imports(api: Api) -> None:
    token, _, _ = _setup(api)
    ops = signed_in(api)
    page = ops.dom(ops.get(f"{BASE}/crm-import"))
    assert "还没有导入过订单" in page.text()
    bad = SHEET + "C003,赵,1380013800,政治,100,2025-09-01\n"
    refused = ops.post(f"{BASE}/crm-import", {}, files={"file": ("orders.csv", "text/csv", bad.encode())})
    assert refused.status_code == 400
    dom = ops.dom(refused)
    rows = dom.one("table", class_="sheet").one("tbody").all("tr")
    assert [tr.attrs["data-row"] for tr in rows] == ["4"]
    assert "不是大陆手机号" in rows[0].one("td", class_="problems").text()
    assert api.call("GET", f"/t/{TENANT}/crm-imports", token=token).json["items"] == []
    files = {"file": ("orders.csv", "text/csv", SHEET.encode())}
    checked = ops.post(f"{BASE}/crm-import", {"dry_run": "1"}, files=files)
    assert (
        checked.status_code == 200
        and "检查通过（尚未导入）：2 行，2 条订单" in ops.dom(checked).one("div", id="preview").text()
    )
    assert api.call("GET", f"/t/{TENANT}/crm-imports", token=token).json["items"] == []
    done = ops.post(f"{BASE}/crm-import", {}, files={"file": ("orders.csv", "text/csv", SHEET.encode())})
    assert done.status_code == 303
    listed = ops.dom(ops.get(ops.local(done.headers["Location"])))
    assert "已导入 2 条订单" in listed.text()
    listed_rows = [tr for tr in listed.all("tr") if "data-import" in tr.attrs]
    assert len(listed_rows) == 1 and "已完成" in listed_rows[0].text()


def test_erasing_a_past_buyer_erases_their_crm_orders(api: Api) -> None:
    token, plan_id, state = _setup(api)
    assert _upload(api, token, SHEET).status_code == 201
    api.sandbox.world.register_contact(CORP, BUYER, remark_mobiles=["13800138000"])
    _, scanned = api.scan(state, external_userid=BUYER)
    cid = scanned.json["customer_id"]
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}", token=token).json["stage"] == "converted"
    erased = api.call("DELETE", f"/t/{TENANT}/customers/{cid}", token=token)
    assert erased.status_code == 200 and erased.json["erased"] is True
    # The same phone under a new WeChat account: the CRM no longer knows it, so it is a new lead, nurtured.
    api.clock.advance(seconds=5)
    again = "wmcrmbuyer0000000000000000002"
    api.sandbox.world.register_contact(CORP, again, remark_mobiles=["13800138000"])
    _, rescanned = api.scan(state, external_userid=again)
    new_cid = rescanned.json["customer_id"]
    assert new_cid != cid
    assert api.call("GET", f"/t/{TENANT}/customers/{new_cid}", token=token).json["stage"] != "converted"
    assert _orders(api, token, new_cid) == []
    enrolled = api.call("GET", f"/t/{TENANT}/customers/{new_cid}/enrollments", token=token).json["items"]
    assert [e["plan_id"] for e in enrolled] == [plan_id]
