"""The sheet import's problems in Chinese for the console (console/import_messages.py), checked against what the
import really writes, so a reworded English message shows up here rather than silently untranslated."""

from __future__ import annotations

from chalicelib.console.import_messages import zh
from chalicelib.services import plan_import

SHEET = [
    (1, ["天数", "时间", "内容类型", "内容", "执行人"]),
    (2, ["x", "25:00", "宣传", "", "nobody"]),
    (3, ["", "", "服务", "你好", "owner"]),
]


def test_every_problem_of_a_bad_sheet_reads_in_chinese() -> None:
    sheet = plan_import.parse_steps(SHEET, "csv", [])
    shown = [zh(e["message"]) for e in sheet.errors]
    assert shown == [
        "天数须为 0 到 365 的整数（现在是“x”）",
        "时间须为 00:00 到 23:59 之间的 HH:MM（现在是“25:00”）",
        "不认识的内容类型“宣传”：请写 互动、营销、服务、内容、每日一练 或 公告",
        "内容是空的",
        "找不到员工“nobody”：请写员工账号或姓名，或写“负责人”",
        "“天数”没有填（0 表示加好友当天）",
        "“时间”没有填（写成 HH:MM，如 20:00）",
    ]


def test_sheet_level_and_parameter_problems_too() -> None:
    headless = plan_import.parse_steps([(1, ["a", "b"])], "csv", [])
    assert zh(headless.errors[0]["message"]).startswith("前 10 行里没有表头")
    _, problems = plan_import.plan_document(plan_import.ParsedSheet(format="csv"), {"priority": "high"})
    assert [zh(p["message"]) for p in problems] == ["请填写计划名称", "优先级须为 0 到 1000 的整数"]


def test_an_unknown_message_is_shown_as_it_is() -> None:
    assert zh("something new went wrong") == "something new went wrong"
