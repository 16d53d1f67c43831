"""CRM import (订单导入): the sheet's checks (every error kind, by row number; BOM, GBK, XLSX), and the service over
the in-memory store: all or nothing, effectively once, past buyers recognised at import and at their first add."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pytest

from chalicelib.domain.crm_import import import_id_of, parse_amount, parse_day, parse_sheet
from chalicelib.domain.customers import Stage
from chalicelib.errors import InvalidError, PayloadTooLargeError
from chalicelib.services import crm_import as crm_module
from chalicelib.services.crm_import import CrmRowsError
from chalicelib.services.sheets import UnsupportedMediaTypeError
from tests.unit.conftest import CORP, Env, make_channel

TODAY = date(2026, 12, 1)
HEADER = "手机号,姓名,产品,金额,日期,客户编号\n"
GOOD = (
    HEADER + "13800138000,王小明,考研政治全程班,1999,2025-09-01,C001\n13912345678,李华,英语体验课,9.9,2025/10/02,C002\n"
)


def rows_of(text: str) -> list[tuple[int, list[Any]]]:
    return [(n, line.split(",")) for n, line in enumerate(text.strip("\n").split("\n"), start=1)]


def errors_of(env: Env, text: str) -> list[tuple[int | None, str | None]]:
    sheet = parse_sheet(rows_of(text), env.tenant, TODAY)
    return [(e["row"], e["column"]) for e in sheet.errors]


def csv(text: str) -> bytes:
    return text.encode("utf-8")


def xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook()
    ws = book.active
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the sheet ----------------------------------------------------------------------------------------------------


def test_a_good_sheet_reads_every_order_keeping_no_phone_or_name(env: Env) -> None:
    sheet = parse_sheet(rows_of(GOOD), env.tenant, TODAY)
    assert sheet.errors == [] and sheet.rows == 2 and sheet.customers == 2 and sheet.phones == 2
    first = sheet.orders[0]
    assert first.phone_digest == env.tenant.hmac_hex("phone:13800138000")
    assert (first.customer_ref, first.product, first.amount, first.date) == (
        "C001",
        "考研政治全程班",
        "1999.00",
        "2025-09-01",
    )
    assert sheet.orders[1].amount == "9.90" and sheet.orders[1].date == "2025-10-02"
    assert "13800138000" not in repr(sheet.orders) and "王小明" not in repr(sheet.orders)


def test_english_headers_and_a_title_row_above_them(env: Env) -> None:
    text = "2025 orders export\nphone,name,product,amount,date,customer_id,kind\n"
    text += "+86 138-0013-8000,x,政治,100,2025-01-02,A1,体验\n"
    sheet = parse_sheet(rows_of(text), env.tenant, TODAY)
    assert sheet.errors == [] and sheet.header_row == 2 and sheet.orders[0].kind == "trial"


def test_every_bad_row_is_reported_by_its_number_and_column(env: Env) -> None:
    text = HEADER + "\n".join(
        [
            "13800138000,a,政治,1999,2025-09-01,C001",  # row 2: good
            "1380013800,a,政治,1999,2025-09-01,C002",  # 3: bad phone
            ",a,政治,1999,2025-09-01,C003",  # 4: no phone
            "13800138001,a,政治,abc,2025-09-01,C004",  # 5: bad amount
            "13800138002,a,政治,-5,2025-09-01,C005",  # 6: negative amount
            "13800138003,a,政治,1.999,2025-09-01,C006",  # 7: three decimals
            "13800138004,a,政治,100,2025-13-01,C007",  # 8: bad date
            "13800138005,a,政治,100,2027-01-01,C008",  # 9: future date
            "13800138006,a,政治,100,2025-09-01,",  # 10: missing id
            "13800138000,a,政治,1999,2025-09-01,C001",  # 11: duplicate of row 2
            "13800138009,a,英语,100,2025-09-01,C001",  # 12: C001 with another phone
            "13800138010,a,,100,2025-09-01,C010",  # 13: no product
        ]
    )
    assert errors_of(env, text) == [
        (3, "phone"),
        (4, "phone"),
        (5, "amount"),
        (6, "amount"),
        (7, "amount"),
        (8, "date"),
        (9, "date"),
        (10, "customer_id"),
        (11, None),
        (12, "phone"),
        (13, "product"),
    ]


def test_a_sheet_without_the_required_columns_says_which(env: Env) -> None:
    sheet = parse_sheet(rows_of("手机号,姓名\n13800138000,王\n"), env.tenant, TODAY)
    assert (
        len(sheet.errors) == 1
        and "产品/课程" in sheet.errors[0]["message"]
        and "客户编号" in sheet.errors[0]["message"]
    )
    assert parse_sheet(rows_of("a,b\n1,2\n"), env.tenant, TODAY).errors[0]["message"].startswith("no header row")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("¥1,999.00", "1999.00"), ("1999元", "1999"), (19.9, "19.9"), (0, "0"), ("1e3", None), ("", None), (True, None)],
)
def test_amounts(value: Any, expected: str | None) -> None:
    got = parse_amount(value)
    assert (str(got) if got is not None else None) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("2025/3/1", date(2025, 3, 1)),
        ("2025年3月1日", date(2025, 3, 1)),
        ("2025-03-01 10:20:00", date(2025, 3, 1)),
        (datetime(2025, 3, 1, 9, 0), date(2025, 3, 1)),
        ("03/01/2025", None),
        ("", None),
    ],
)
def test_dates(value: Any, expected: date | None) -> None:
    assert parse_day(value) == expected


# --- the service --------------------------------------------------------------------------------------------------


def test_a_dry_run_checks_and_counts_but_stores_nothing(env: Env) -> None:
    record, created = env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv", dry_run=True)
    assert not created and record["dry_run"] and (record["rows"], record["orders"], record["matched"]) == (2, 2, 0)
    assert (
        env.svc.crm.recent("unit") == []
        and env.store.crm_orders_of("unit", env.tenant.hmac_hex("phone:13800138000")) == []
    )


def test_a_bad_file_imports_nothing_and_names_every_bad_row(env: Env) -> None:
    bad = GOOD + "1380013800,a,政治,1999,2025-09-01,C009\n13800138000,a,英语,x,2025-09-01,C010\n"
    with pytest.raises(CrmRowsError) as caught:
        env.svc.crm.upload(env.tenant, csv(bad), "text/csv")
    body = caught.value.to_body()
    assert caught.value.status == 422 and [r["row"] for r in body["rows"]] == [4, 5]
    assert body["rows"][0]["errors"][0]["column"] == "phone"
    assert env.svc.crm.recent("unit") == []
    assert env.store.crm_orders_of("unit", env.tenant.hmac_hex("phone:13800138000")) == []


def test_bom_and_gbk_csv_and_xlsx_all_read(env: Env) -> None:
    book = xlsx([HEADER.strip().split(","), [13800138000, "王", "政治", 1999, datetime(2025, 9, 1), "C001"]])
    for raw, ctype, product in (
        (b"\xef\xbb\xbf" + GOOD.encode("utf-8"), "text/csv", "考研政治全程班"),
        (GOOD.encode("gbk"), "text/csv", "考研政治全程班"),
        (book, crm_module.sheets.XLSX, "政治"),
    ):
        sheet = env.svc.crm.check(env.tenant, raw, ctype)
        first = sheet.orders[0]
        assert (first.customer_ref, first.product, first.date) == ("C001", product, "2025-09-01")
        assert first.phone_digest == env.tenant.hmac_hex("phone:13800138000")


def test_limits_and_wrong_types_are_clear_4xx(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crm_module, "MAX_ROWS", 1)
    with pytest.raises(PayloadTooLargeError):
        env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    monkeypatch.setattr(crm_module, "MAX_BYTES", 10)
    with pytest.raises(PayloadTooLargeError):
        env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    with pytest.raises(UnsupportedMediaTypeError):
        env.svc.crm.upload(env.tenant, b"x", "image/png")
    with pytest.raises(InvalidError):
        env.svc.crm.upload(env.tenant, b"  ", "text/csv")
    assert env.svc.crm.recent("unit") == []


def _buyer_plan(env: Env) -> Any:
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "新客7天培育",
            "trigger": {"type": "manual"},
            "exit": [{"type": "order"}],
            "steps": [{"id": "s1", "after_minutes": 60, "content_type": "service", "message": {"text": "你好"}}],
        },
    )
    env.svc.plans.publish(env.tenant, plan.plan_id)
    return plan


def _order_facts(env: Env, customer_id: str) -> list[Any]:
    return [f for f in env.store.timeline("unit", customer_id, limit=100) if f.type == "order"]


def test_a_past_buyer_scanning_later_is_recognised_and_not_nurtured(env: Env) -> None:
    plan = _buyer_plan(env)
    ch = make_channel(env, plan_id=plan.plan_id)
    record, created = env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    assert created and record["status"] == "complete" and record["applied"] == 0
    env.world.register_contact(CORP, "wmbuyer0000000000000000000001", remark_mobiles=["13800138000"])
    _, result = env.scan(ch.state, external_userid="wmbuyer0000000000000000000001")
    c = env.store.get_customer("unit", result.customer_id)
    assert c.stage == Stage.CONVERTED
    facts = _order_facts(env, result.customer_id)
    assert [(f.detail["source"], f.detail["product"], f.at[:10]) for f in facts] == [
        ("crm", "考研政治全程班", "2025-09-01")
    ]
    assert env.store.get_enrollment("unit", result.customer_id, plan.plan_id) is None
    # A stranger through the same channel is nurtured as before.
    _, other = env.scan(ch.state)
    assert env.store.get_enrollment("unit", other.customer_id, plan.plan_id) is not None


def test_an_existing_customer_gets_the_order_at_import_once(env: Env) -> None:
    ch = make_channel(env)
    env.world.register_contact(CORP, "wmold00000000000000000000000001", remark_mobiles=["13912345678"])
    _, result = env.scan(ch.state, external_userid="wmold00000000000000000000000001")
    record, _ = env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    assert record["matched"] == 1 and record["applied"] == 1
    assert env.store.get_customer("unit", result.customer_id).stage == Stage.CONVERTED
    again, created = env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    assert not created and again["import_id"] == record["import_id"]
    # Another file holding the same order (plus a new one) adds only the new one.
    extra = GOOD + "13912345678,李华,英语正价课,3999,2025-11-01,C002\n"
    env.svc.crm.upload(env.tenant, csv(extra), "text/csv")
    assert len(_order_facts(env, result.customer_id)) == 2
    assert env.store.get_customer("unit", result.customer_id).stage == Stage.CONVERTED


def test_an_import_that_died_mid_write_is_invisible_and_a_rerun_completes_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(Exception):
        pass

    real = env.store.save_crm_import

    def crash(tenant_id: str, record: dict[str, Any]) -> None:
        raise Crash

    monkeypatch.setattr(env.store, "save_crm_import", crash)
    with pytest.raises(Crash):
        env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    digest = env.tenant.hmac_hex("phone:13800138000")
    assert env.store.crm_orders_of("unit", digest) != []  # written, but not visible:
    assert env.svc.crm.orders_of_phone("unit", digest) == []
    import_id = import_id_of(env.tenant, __import__("hashlib").sha256(csv(GOOD)).hexdigest())
    assert env.svc.crm.get("unit", import_id)["status"] == "staged"
    monkeypatch.setattr(env.store, "save_crm_import", real)
    record, _ = env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    assert record["import_id"] == import_id and record["status"] == "complete"
    assert [o.product for o in env.svc.crm.orders_of_phone("unit", digest)] == ["考研政治全程班"]


def test_erasing_a_customer_erases_their_crm_orders(env: Env) -> None:
    ch = make_channel(env)
    env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    env.world.register_contact(CORP, "wmerase0000000000000000000001", remark_mobiles=["13800138000"])
    _, result = env.scan(ch.state, external_userid="wmerase0000000000000000000001")
    digest = env.tenant.hmac_hex("phone:13800138000")
    assert env.store.crm_orders_of("unit", digest) != []
    env.svc.customers.erase(env.tenant, result.customer_id)
    assert env.store.crm_orders_of("unit", digest) == []
    other = env.tenant.hmac_hex("phone:13912345678")
    assert env.store.crm_orders_of("unit", other) != []  # someone else's record stays


def test_a_customer_added_while_the_import_is_written_gets_the_order_when_it_completes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = make_channel(env)
    real = env.store.put_crm_orders
    added: list[str] = []

    def meanwhile(tenant_id: str, orders: list[Any]) -> None:
        real(tenant_id, orders)
        env.world.register_contact(CORP, "wmmeanwhile00000000000000001", remark_mobiles=["13800138000"])
        _, result = env.scan(ch.state, external_userid="wmmeanwhile00000000000000001")
        added.append(result.customer_id)
        assert env.store.get_customer("unit", result.customer_id).stage != Stage.CONVERTED  # not visible yet

    monkeypatch.setattr(env.store, "put_crm_orders", meanwhile)
    record, _ = env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    assert record["matched"] == 1 and record["applied"] == 1
    assert env.store.get_customer("unit", added[0]).stage == Stage.CONVERTED


def test_a_phone_staff_note_later_is_matched_and_ends_the_nurture_plan(env: Env) -> None:
    plan = _buyer_plan(env)
    ch = make_channel(env, plan_id=plan.plan_id)
    env.svc.crm.upload(env.tenant, csv(GOOD), "text/csv")
    ext = "wmnotedlater0000000000000001"
    env.world.register_contact(CORP, ext, remark_mobiles=["13800138000"])
    env.world.inject("externalcontact/get", 45009)  # the phone stays unknown at add time
    _, created = env.scan(ch.state, external_userid=ext)
    cid = created.customer_id
    assert env.store.get_enrollment("unit", cid, plan.plan_id).status == "active"
    _, edited = env.event("edit_external_contact", userid="zhang", external_userid=ext)
    assert edited.outcome == "updated"
    assert env.store.get_customer("unit", cid).stage == Stage.CONVERTED
    assert env.store.get_enrollment("unit", cid, plan.plan_id).status != "active"
    assert [f.detail["source"] for f in _order_facts(env, cid)] == ["crm"]
    env.event("edit_external_contact", userid="zhang", external_userid=ext)  # the phone again: nothing new
    assert len(_order_facts(env, cid)) == 1


def test_an_order_from_the_crm_says_so_on_the_console_and_in_the_sidebar() -> None:
    from chalicelib.console.ops_labels import entry_line
    from chalicelib.console.sidebar_view import line

    crm = {"type": "order", "at": "2025-09-01T12:00:00+08:00", "detail": {"kind": "full", "source": "crm"}}
    assert entry_line(crm, {}) == "下单：正价课，订单导入"
    assert line(crm, {}).note == "正价课 · 订单导入"
    plain = {"type": "order", "at": "2025-09-01T12:00:00+08:00", "detail": {"kind": "trial"}}
    assert entry_line(plain, {}) == "下单：体验课" and line(plain, {}).note == "体验课"
