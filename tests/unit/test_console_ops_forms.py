"""The channel and plan pages' form parsing (console/channel_form.py, console/plan_form.py): Chinese problems by
field, the API body they mean, the page's grid back to CSV, the preview's defaults."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.console import channel_form, plan_form
from chalicelib.console.forms import Upload
from chalicelib.errors import InvalidError
from chalicelib.services import sheets

FORM = {
    "name": " 抖音直播间 ",
    "source": "douyin",
    "mode": "round_robin",
    "cap_li": "30",
    "cap_wang": "5",  # not ticked: ignored
    "welcome": "你好\r\n同学",
    "tags": "流量平台来源/抖音，考研年份／2027",
    "spend": "120.50",
    "exposure": "1000",
    "attachments": '[{"msgtype": "link", "link": {"title": "t", "url": "u"}}]',
}


def test_a_good_channel_form_is_the_api_body() -> None:
    form, body = channel_form.parse(FORM, ["zhang", "li"])
    assert form.ok and form.values["name"] == "抖音直播间"
    assert body["staff"] == {"mode": "round_robin", "userids": ["zhang", "li"], "backup_userid": None,
                             "daily_caps": {"li": 30}}  # fmt: skip
    assert body["welcome"]["text"] == "你好\n同学" and body["welcome"]["attachments"][0]["msgtype"] == "link"
    assert body["tags"] == [{"group": "流量平台来源", "name": "抖音"}, {"group": "考研年份", "name": "2027"}]
    assert (body["spend"], body["exposure"], body["plan_id"]) == (120.5, 1000, None)


@pytest.mark.parametrize(
    ("change", "userids", "field"),
    [
        ({"name": ""}, ["zhang"], "name"),
        ({"source": "tv"}, ["zhang"], "source"),
        ({}, [], "userids"),
        ({"mode": "single"}, ["zhang", "li"], "userids"),
        ({"cap_zhang": "-1"}, ["zhang"], "caps"),
        ({"tags": "抖音"}, ["zhang"], "tags"),
        ({"spend": "abc"}, ["zhang"], "spend"),
        ({"exposure": "1.5"}, ["zhang"], "exposure"),
    ],
)
def test_each_problem_is_named_in_chinese_under_its_field(
    change: dict[str, str], userids: list[str], field: str
) -> None:
    form, _ = channel_form.parse({**FORM, **change}, userids)
    assert list(form.errors) == [field] and all("\u4e00" <= ch <= "\u9fff" for ch in form.errors[field][:1])


def test_a_service_or_schema_refusal_lands_next_to_its_field() -> None:
    form = channel_form.empty()
    channel_form.place(form, InvalidError("unknown or inactive staff: nobody"))
    channel_form.place(form, InvalidError("bad", details=[{"path": "/staff/daily_caps/li", "message": "m1"}]))
    channel_form.place(form, InvalidError("message text is 5000 bytes; WeCom allows 4000"))
    channel_form.place(form, InvalidError("something else entirely"))
    assert form.errors == {
        "userids": "员工 nobody 不存在或已停用",
        "caps": "m1",
        "welcome": "欢迎语有 5000 字节，企业微信最多 4000 字节",
        "form": "something else entirely",
    }


def test_the_grid_goes_back_as_csv_with_quotes_kept() -> None:
    fields = [("csrf", "x"), ("header", "天数"), ("header", "内容"), ("row", "3"), ("cell", "0"),
              ("cell", 'a,"b"'), ("row", "5"), ("cell", "1"), ("cell", "多行\n内容")]  # fmt: skip
    raw = plan_form.grid_csv(fields)
    assert raw.decode() == '天数,内容\n0,"a,""b"""\n1,"多行\n内容"\n'
    assert sheets.read_table(raw, "csv")[1] == (2, ["0", 'a,"b"'])


def test_the_sheet_comes_from_the_grid_or_the_file_by_its_name() -> None:
    xlsx = {"file": Upload("计划.XLSX", "application/octet-stream", b"PK\x03\x04")}
    assert plan_form.sheet_of({}, [], xlsx)[1] == sheets.XLSX
    csv = {"file": Upload("计划.csv", "application/vnd.ms-excel", b"a,b")}
    assert plan_form.sheet_of({}, [], csv) == (b"a,b", "text/csv")
    assert plan_form.sheet_of({"grid": "1"}, [("header", "a")], csv) == (b"a\n", "text/csv")
    with pytest.raises(InvalidError):
        plan_form.sheet_of({}, [], {})


def test_the_preview_form_has_defaults_and_names_what_it_corrected() -> None:
    today = date(2026, 12, 1)
    assert plan_form.preview_request({}, today) == (today, ["09:00", "13:30", "23:30"], 7, [])
    start, joins, days, problems = plan_form.preview_request(
        {"start": "2026-12-24", "joins": "8:05，21：30", "days": "3"}, today
    )
    assert (start, joins, days, problems) == (date(2026, 12, 24), ["08:05", "21:30"], 3, [])
    _, joins, days, problems = plan_form.preview_request({"start": "x", "joins": "noon", "days": "365"}, today)
    assert (joins, days, len(problems)) == (["09:00"], 7, 3)
    assert plan_form.step_map({"map_s1": "s1b", "map_s2": "", "from_version": "1"}) == {"s1": "s1b", "s2": None}
