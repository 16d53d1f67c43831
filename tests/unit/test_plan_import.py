"""Spreadsheet import: the sample files, Chinese and English headers, every bad-row case reported at once."""

from __future__ import annotations

import io
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]

from chalicelib.domain.plans import PlanStatus
from chalicelib.errors import InvalidError, PayloadTooLargeError
from chalicelib.services.sheets import XLSX, UnsupportedMediaTypeError
from tests.unit.conftest import Env, make_channel

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NAME = {"name": "新客7天培育"}


def _xlsx(rows: list[list[Any]], title: str = "SOP") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv(text: str, *, bom: bool = False) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def _import(env: Env, raw: bytes, content_type: str = "text/csv", **params: str) -> Any:
    return env.svc.plans.import_sheet(env.tenant, raw, content_type, {**NAME, **params})


def _errors(env: Env, raw: bytes, content_type: str = "text/csv", **params: str) -> list[dict[str, Any]]:
    before = dict(env.store.plan_heads)
    with pytest.raises(InvalidError) as exc:
        _import(env, raw, content_type, **params)
    assert "nothing was stored" in exc.value.message
    assert env.store.plan_heads == before  # nothing half-imported
    details: list[dict[str, Any]] = exc.value.details
    return details


# --- the samples ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("filename", "content_type"), [("新客7天培育.xlsx", XLSX), ("新客7天培育.csv", "text/csv")])
def test_sample_sheets_import_as_a_draft(env: Env, filename: str, content_type: str) -> None:
    plan, report = _import(env, (SAMPLES / filename).read_bytes(), content_type)
    assert plan.status == PlanStatus.DRAFT and plan.version == 1 and plan.name == "新客7天培育"
    assert report["steps"] == len(plan.steps) == 15 and report["header_row"] == 1 and report["ignored_columns"] == []
    first, *rest = plan.steps
    assert (first.id, first.after_minutes, first.content_type, first.title) == ("s1", 5, "service", "破冰")
    assert first.notes.startswith("先自我介绍")
    assert [s.day for s in rest] == sorted(s.day for s in rest) and rest[-1].day == 7  # day 0 … the day-7 wrap-up
    marketing = [s for s in plan.steps if s.content_type == "marketing"]
    assert marketing and {s.at for s in marketing} == {"20:00"}  # marketing in the evening
    interactive = [s for s in plan.steps if s.content_type == "interactive"]
    assert interactive and all(s.at is not None and "08:00" <= s.at < "18:00" for s in interactive)
    assert {s.executor for s in plan.steps} == {"owner"}
    assert env.svc.plans.get("unit", plan.plan_id) == plan


def test_sample_files_are_what_the_script_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed samples are reproducible from samples/make_samples.py, byte for byte."""
    import samples.make_samples as make

    monkeypatch.setattr(make, "HERE", tmp_path)
    make.main()
    for suffix in (".csv", ".xlsx"):
        assert (tmp_path / f"{make.NAME}{suffix}").read_bytes() == (SAMPLES / f"{make.NAME}{suffix}").read_bytes()


# --- formats and headers ----------------------------------------------------------------------------------------


def test_english_headers_without_bom(env: Env) -> None:
    raw = _csv(
        "day,time,content type,message,executor,notes\n"
        '0,20:00,content,"line 1\nline 2",zhang,script\n'
        "1,9:05,Interactive,daily exercise,,\n"
    )
    plan, _ = _import(env, raw)
    assert [(s.day, s.at, s.content_type, s.executor) for s in plan.steps] == [
        (0, "20:00", "content", "zhang"),
        (1, "09:05", "interactive", "owner"),
    ]
    assert plan.steps[0].message.text == "line 1\nline 2" and plan.steps[0].notes == "script"


def test_chinese_headers_values_and_a_title_row(env: Env) -> None:
    raw = _csv(
        "新客培育SOP（2027考研）,,,,,\n"
        "第几天,时间（24小时）,类型,话术内容,执行人,备注,状态\n"
        "第1天,8：30,互动,每日一练,负责人,夸具体的点,未执行\n"
        "\n"
        ",,,,,,\n"
        "D2,20:00,营销内容,9.9元体验,张老师,,\n"
        "3天,10:00,资料,资料包,li,,\n",
        bom=True,
    )
    plan, report = _import(env, raw)
    assert report["header_row"] == 2 and report["ignored_columns"] == ["状态"]
    assert [(s.day, s.at, s.content_type, s.executor) for s in plan.steps] == [
        (1, "08:30", "interactive", "owner"),
        (2, "20:00", "marketing", "zhang"),  # a staff member by name
        (3, "10:00", "content", "li"),
    ]


def test_after_minutes_rows_and_step_ids_from_the_sheet(env: Env) -> None:
    raw = _csv(
        "步骤,天数,时间,分钟后,内容类型,内容\nhello,,,5,服务,欢迎\nhello2,0,,30分钟,服务,资料\nd1,1,09:00,,互动,练习\n"
    )
    plan, _ = _import(env, raw)
    assert [(s.id, s.after_minutes, s.day) for s in plan.steps] == [
        ("hello", 5, None),
        ("hello2", 30, None),
        ("d1", None, 1),
    ]


def test_gb18030_and_tab_separated_csv(env: Env) -> None:
    text = "天数\t时间\t内容类型\t内容\n1\t09:00\t互动\t每日一练\n"
    plan, _ = _import(env, text.encode("gb18030"), "application/octet-stream")
    assert plan.steps[0].message.text == "每日一练"


def test_xlsx_cells_of_every_type(env: Env) -> None:
    raw = _xlsx(
        [
            ["天数", "时间", "内容类型", "内容", "执行人", "备注"],
            [0.0, time(20, 0), "资料", "资料包", "owner", None],
            [1, "9:00", "互动", 12345, None, "话术"],
            [None, None, None, None, None, None],
            [2, 0.8125, "营销", "晚上好", "wang", None],  # a time typed as Excel's day fraction (19:30)
        ]
    )
    plan, report = _import(env, raw, XLSX)
    assert report["format"] == "xlsx"
    assert [(s.day, s.at, s.message.text, s.executor) for s in plan.steps] == [
        (0, "20:00", "资料包", "owner"),
        (1, "09:00", "12345", "owner"),
        (2, "19:30", "晚上好", "wang"),
    ]


def test_xlsx_sheet_choice(env: Env) -> None:
    book = Workbook()
    book.active.title = "说明"
    book.active.append(["这是说明页"])
    sop = book.create_sheet("SOP")
    sop.append(["天数", "时间", "内容类型", "内容"])
    sop.append([1, "09:00", "互动", "练习"])
    buffer = io.BytesIO()
    book.save(buffer)
    plan, _ = _import(env, buffer.getvalue(), XLSX, sheet="SOP")
    assert len(plan.steps) == 1
    with pytest.raises(InvalidError, match="no sheet 'Nope'"):
        _import(env, buffer.getvalue(), XLSX, sheet="Nope")
    assert _errors(env, buffer.getvalue(), XLSX)[0]["message"].startswith("no header row")  # first sheet: no header


def test_query_parameters_set_trigger_priority_and_reentry(env: Env) -> None:
    ch = make_channel(env)
    raw = _csv("天数,时间,内容类型,内容\n1,09:00,互动,练习\n")
    plan, _ = _import(env, raw, trigger="channel", channel_id=ch.channel_id, priority="10", reentry="always")
    assert (plan.trigger.type, plan.trigger.channel_id, plan.priority, plan.reentry) == (
        "channel",
        ch.channel_id,
        10,
        "always",
    )


# --- errors -----------------------------------------------------------------------------------------------------


def test_every_bad_row_is_reported_at_once_and_nothing_is_stored(env: Env) -> None:
    env.svc.staff.update("unit", "li", {"active": False})
    long_text = "好" * 1400  # 4200 bytes in UTF-8
    raw = _csv(
        "天数,时间,分钟后,内容类型,内容,执行人,备注\n"
        "1,09:00,,互动,正常的一行,,\n"  # row 2: fine
        "abc,09:00,,互动,坏的天数,,\n"  # row 3
        "1,25:00,,互动,坏的时间,,\n"  # row 4
        "2,20:00,,促销,未知类型,,\n"  # row 5
        "2,20:00,,营销,,,\n"  # row 6: empty message
        f"3,09:00,,互动,{long_text},,\n"  # row 7
        "3,10:00,,服务,找不到人,王五,\n"  # row 8
        "3,11:00,,服务,停用的人,li,\n"  # row 9
        "3,,5,服务,两种时间,,\n"  # row 10: fine? no — time empty and minutes given is fine; day 3 is not
        ",,,服务,没有时间,,\n"  # row 11
        "-1,09:00,,互动,负数天,,\n"  # row 12
    )
    errors = _errors(env, raw)
    by_row: dict[int, list[str]] = {}
    for e in errors:
        by_row.setdefault(e["row"], []).append(f"{e['column']}: {e['message']}")
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert "天数" in by_row[3][0] and "'abc'" in by_row[3][0]
    assert "时间" in by_row[4][0] and "'25:00'" in by_row[4][0]
    assert "内容类型" in by_row[5][0] and "'促销'" in by_row[5][0]
    assert by_row[6] == ["内容: the message is empty"]
    assert "4200 bytes" in by_row[7][0]
    assert "执行人" in by_row[8][0] and "'王五'" in by_row[8][0]
    assert "inactive" in by_row[9][0]
    assert "not both" in by_row[10][0]
    assert len(by_row[11]) == 2 and "天数 is empty" in by_row[11][0] and "时间 is empty" in by_row[11][1]
    assert "'-1'" in by_row[12][0]


def test_xlsx_row_numbers_are_the_sheets_own(env: Env) -> None:
    raw = _xlsx(
        [
            ["标题行：新客培育"],
            [],
            ["天数", "时间", "内容类型", "内容"],
            [1, "09:00", "互动", "好"],
            [],
            [2, "26:61", "互动", "坏"],
        ]
    )
    assert _errors(env, raw, XLSX) == [
        {"row": 6, "column": "时间", "message": "time must be HH:MM from 00:00 to 23:59, got '26:61'"}
    ]


def test_plan_level_problems_point_at_rows_and_parameters(env: Env) -> None:
    raw = _csv("步骤,天数,时间,内容类型,内容\na,2,09:00,互动,一\na,2,10:00,互动,二\nb,1,09:00,互动,三\n")
    errors = _errors(env, raw, name="", trigger="channel", channel_id="ch_missing", priority="high")
    rows = [(e.get("row"), e.get("column")) for e in errors if "row" in e]
    assert rows == [(3, "步骤"), (4, None)]  # duplicate id; day 1 listed after day 2
    params = {e["parameter"]: e["message"] for e in errors if "parameter" in e}
    assert set(params) == {"name", "priority", "channel_id"}


def test_missing_columns_and_empty_sheets(env: Env) -> None:
    nothing = _errors(env, _csv("foo,bar\n1,2\n"))
    assert len(nothing) == 1 and nothing[0]["row"] == 1 and "no header row" in nothing[0]["message"]
    missing = _errors(env, _csv("天数,时间,内容\n1,09:00,x\n"))
    assert missing[0]["row"] == 1 and "content_type" in missing[0]["message"]
    no_timing = _errors(env, _csv("内容类型,内容\n互动,x\n"))
    assert "分钟后" in no_timing[0]["message"]
    empty = _errors(env, _csv("天数,时间,内容类型,内容\n,,,\n"))
    assert empty == [{"row": 1, "column": None, "message": "the sheet has no steps below its header row"}]
    twice = _errors(env, _csv("内容,消息,天数,时间,内容类型\nx,y,1,09:00,互动\n"))
    assert "two columns mean message" in twice[0]["message"]


def test_unreadable_uploads(env: Env) -> None:
    with pytest.raises(PayloadTooLargeError):
        _import(env, b"x" * (1024 * 1024 + 1))
    with pytest.raises(UnsupportedMediaTypeError):
        _import(env, b"{}", "application/json")
    with pytest.raises(InvalidError, match="not a readable XLSX"):
        _import(env, b"PK\x03\x04 not really a zip", XLSX)
    with pytest.raises(InvalidError, match="not UTF-8"):
        _import(env, b"\x81\x30\xff\xff", "text/csv")
    assert env.store.plan_heads == {}


def test_the_exit_parameter_sets_the_plans_exit_rules(env: Env) -> None:
    raw = _csv("天数,时间,内容类型,内容\n1,09:00,互动,练习\n")
    plan, _ = _import(env, raw, exit="order:full, negative_reply")
    assert [(e.type, e.kind) for e in plan.exits] == [("order", "full"), ("negative_reply", None)]
    plan, _ = _import(env, raw, name="任意下单退出", exit="order")
    assert [(e.type, e.kind) for e in plan.exits] == [("order", None)]
    plan, _ = _import(env, raw, name="不退出")
    assert plan.exits == ()


def test_a_bad_exit_parameter_is_named_and_nothing_is_stored(env: Env) -> None:
    raw = _csv("天数,时间,内容类型,内容\n1,09:00,互动,练习\n")
    for bad in ("refund", "order:gift"):
        problems = _errors(env, raw, exit=bad)
        assert [p.get("parameter") for p in problems] == ["exit"], problems


def test_a_sheet_names_moments_steps_in_its_kind_column(env: Env) -> None:
    raw = _csv(
        "天数,时间,类型,内容,形式\n0,20:00,内容,秋季班开课啦,朋友圈\n1,09:00,互动,今天的练习,群发\n2,09:00,服务,回访,\n"
    )
    plan, _ = _import(env, raw)
    assert [s.kind for s in plan.steps] == ["moment", "message", "message"]
    bad = _errors(env, _csv("天数,时间,类型,内容,形式\n0,20:00,内容,秋季班开课啦,短信\n"))
    assert [(e["row"], e["column"]) for e in bad] == [(2, "形式")] and "朋友圈" in bad[0]["message"]
