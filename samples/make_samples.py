"""Writes the sample SOP spreadsheets: samples/新客7天培育.xlsx and samples/新客7天培育.csv (same rows).

A 7-day new-customer nurture plan (新客培育) for a 考研 (postgraduate exam) school, the way ops write it: ice-breaker
minutes after the add, 每日一练 by day, marketing in the evening (公开课, 9.9元题库, 试听课), service follow-ups,
resources (资料), and a day-7 wrap-up. Import it with:

    curl --data-binary @samples/新客7天培育.xlsx \\
      -H 'Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' \\
      -H "Authorization: Bearer $TOKEN" "$API/t/demo/plans/import?name=新客7天培育"

Run ``.venv/bin/python samples/make_samples.py`` after changing ROWS; the output is byte-for-byte reproducible.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "新客7天培育"
FIXED = datetime(2026, 12, 1, 9, 0, 0)  # document and zip timestamps, so rebuilding changes nothing

HEADERS = ["天数", "时间", "分钟后", "事项", "内容类型", "内容", "执行人", "话术"]
ROWS: list[list[object]] = [
    [
        "",
        "",
        5,
        "破冰",
        "服务",
        "同学你好～我是思语考研的李老师👋 很高兴认识你！方便说一下你是哪一年考研、目标院校和专业吗？"
        "我按你的情况整理一份备考资料包发你～",
        "owner",
        "先自我介绍（IP人设：思语考研·李老师），只问一个问题，不推课。对方回复后打标签：考研年份、目标院校、一战/二战。",
    ],
    [
        0,
        "20:00",
        "",
        "资料包",
        "资料",
        "给你准备好了《2027考研全年备考规划表》和近10年英语真题合集📚 点这里领取：https://example.com/pack",
        "owner",
        "发资料后问一句“规划表里哪个阶段你最担心？”，把回答记进备注。",
    ],
    [
        1,
        "09:00",
        "",
        "每日一练",
        "互动",
        "【每日一练·Day1】英语阅读长难句：It is not the strongest of the species that survives, but the one most "
        "responsive to change. 试着翻译一下，晚上8点公布解析～",
        "owner",
        "对方回复译文就夸具体的点（如“主干找得准”），不急着纠错。",
    ],
    [
        1,
        "20:00",
        "",
        "公开课预告",
        "营销",
        "今晚20:30 名师直播公开课《零基础怎么规划考研英语》，限时免费，报名链接：https://example.com/live",
        "owner",
        "只发一次，不追问；对方说“报名了”就打标签 意向产品=公开课。",
    ],
    [
        2,
        "09:00",
        "",
        "每日一练",
        "互动",
        "【每日一练·Day2】高数：求极限 lim(x→0) (sin x − x) / x³。把答案发我，答对送一份《高数公式手册》～",
        "owner",
        "答对的同学私聊发手册；答错的给解题思路，不直接给答案。",
    ],
    [
        2,
        "14:00",
        "",
        "公开课回访",
        "服务",
        "昨晚的公开课听了吗？有没有哪里没听懂，或者想问的备考问题，都可以直接问我～",
        "owner",
        "没听的同学发回放链接；听了的问收获，顺带了解基础（四六级分数）。",
    ],
    [
        3,
        "09:00",
        "",
        "每日一练",
        "互动",
        "【每日一练·Day3】政治：马克思主义哲学中，“物质”的唯一特性是什么？A. 运动 B. 客观实在性 C. 可知性 D. 绝对性",
        "owner",
        "公布答案时顺带讲一句考点，体现专业。",
    ],
    [
        3,
        "20:00",
        "",
        "9.9元题库体验",
        "营销",
        "限时福利🎁 9.9元体验3天考研题库会员：每日精选真题+AI错题本，仅限前50名，戳这里：https://example.com/trial99",
        "owner",
        "有人问价格/怎么买，立刻1对1跟进（系统会提醒）；没回复不追发。",
    ],
    [
        4,
        "10:00",
        "",
        "复试线资料",
        "内容",
        "整理了近5年国家线和34所自划线院校复试分数线📈 对照一下你的目标院校吧：https://example.com/lines",
        "owner",
        "结合对方目标院校说一句分数线情况，拉近距离。",
    ],
    [
        4,
        "20:00",
        "",
        "0元试听课",
        "营销",
        "周末0元试听：名师《考研数学基础班》第1讲，90分钟带你把函数与极限过一遍，预约：https://example.com/free-class",
        "owner",
        "预约了的同学，课前一天私聊提醒上课时间和入口。",
    ],
    [
        5,
        "09:00",
        "",
        "每日一练",
        "互动",
        "【每日一练·Day5】英语作文：用一句话写出“坚持是成功的关键”，看看谁的表达最地道～",
        "owner",
        "挑两三个好句子在朋友圈点赞展示（征得同意）。",
    ],
    [
        5,
        "15:00",
        "",
        "1对1规划",
        "服务",
        "看到你这几天都在坚持打卡，很棒👍 需要的话我可以根据你的基础和目标院校，给你做一份1对1的复习时间规划～",
        "owner",
        "重点跟进：约10分钟语音，了解基础、可用时间、预算。",
    ],
    [
        6,
        "09:00",
        "",
        "周末打卡",
        "互动",
        "周末也别松懈💪 晒出你今天的学习计划，连续打卡7天可以领《考研英语高频词汇》电子版～",
        "owner",
        "回复打卡的同学记积分；没回复的不提醒。",
    ],
    [
        6,
        "20:00",
        "",
        "19.9元会员最后一天",
        "营销",
        "19.9元3天全科会员体验今晚24点截止⏰ 名师直播+题库+答疑全开放：https://example.com/member199",
        "owner",
        "截止前2小时不再追发；问价格或怎么报名的同学立即1对1跟进。",
    ],
    [
        7,
        "10:00",
        "",
        "7天小结",
        "服务",
        "7天陪伴告一段落～这周你完成了每日一练、听了公开课，已经迈出第一步了！接下来我每周会给你发备考干货，有问题随时找我🌟",
        "owner",
        "根据互动情况打意向度标签（高/中/低）；高意向转给顾问跟进报课。",
    ],
]


WIDTHS = (6, 8, 8, 16, 9, 60, 9, 48)  # the sheet's columns, A to H


def write_csv(path: Path, headers: list[str] = HEADERS, rows: list[list[object]] = ROWS) -> None:
    """UTF-8 with a BOM: Excel on Chinese Windows opens it with the right characters."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def write_xlsx(
    path: Path,
    name: str = NAME,
    headers: list[str] = HEADERS,
    rows: list[list[object]] = ROWS,
    widths: tuple[int, ...] = WIDTHS,
) -> None:
    """One sheet, the header row bold on green, wrapped cells, fixed timestamps (the same bytes on every run)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]

    book = Workbook()
    sheet = book.active
    sheet.title = name
    sheet.append(headers)
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="2F6F4E")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDEFGH", widths, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    book.properties.creator = "Siyu samples"
    book.properties.created = FIXED
    book.properties.modified = FIXED
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(_fixed_zip(buffer.getvalue()))


def _fixed_zip(data: bytes) -> bytes:
    """The same workbook with fixed times: openpyxl stamps the zip entries and the "modified" property with now."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = FIXED.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, body)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return out.getvalue()


def main() -> None:
    write_csv(HERE / f"{NAME}.csv")
    write_xlsx(HERE / f"{NAME}.xlsx")
    print(f"wrote {HERE / NAME}.csv and .xlsx ({len(ROWS)} steps)")


if __name__ == "__main__":
    main()
