"""Writes the 28-day camp sample: samples/28天训练营.csv and samples/28天训练营.xlsx (same rows).

A group plan (社群 SOP) for a 考研数学 study camp, as the field writes it (docs: domain.md "Groups"): one pre-camp week
预热 (day -7..-1), the opening 开营 (day 0), two camp weeks 正课 (days 1..13, with the opening day: 0..13), and one
post-camp week 结营 (days 14..20) where the second-round conversion runs — 28 days. Columns are the field's own:
日期 (the cohort's day; D0 = the cohort's start), 阶段, 时间, 事项, 类型, 详情 (the message), 话术 (script notes for the
owner), 执行人 (群主: WeCom sends a group message only from the group's owner). Import it as a group plan:

    curl --data-binary @samples/28天训练营.csv -H 'Content-Type: text/csv' -H "Authorization: Bearer $TOKEN" \\
      "$API/t/demo/plans/import?name=28天训练营&kind=group&group_type=study"

Run ``.venv/bin/python samples/make_camp.py`` after changing ROWS; the output is byte-for-byte reproducible.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from make_samples import FIXED, _fixed_zip

HERE = Path(__file__).resolve().parent
NAME = "28天训练营"
HEADERS = ["日期", "阶段", "时间", "事项", "类型", "详情", "话术", "执行人"]
OWNER = "群主"
LINK = "https://example.com/camp"

ROWS: list[list[object]] = [
    # --- 预热: the pre-camp week -------------------------------------------------------------------------------------
    [
        "D-7",
        "预热",
        "10:00",
        "建群欢迎",
        "公告",
        "欢迎加入【思语考研·数学28天冲刺营】🎉 这里是训练营学习群：请先看群公告和群规，把群昵称改成「昵称-目标院校」，"
        "一周后正式开营～",
        "新同学进群后群主@欢迎，并私聊确认是否收到入营须知。",
        OWNER,
    ],
    [
        "D-6",
        "预热",
        "20:00",
        "入营礼包",
        "资料",
        f"入营礼包到啦📚《考研数学高频考点清单》+ 近5年真题分类汇编，点这里领取：{LINK}/pack",
        "提醒大家先领资料再做摸底测；有人说领不到就私聊发文件。",
        OWNER,
    ],
    [
        "D-5",
        "预热",
        "12:30",
        "破冰自我介绍",
        "互动",
        "来做个自我介绍吧👋 格式：昵称 + 目标院校 + 数学现在的水平（基础/强化/冲刺），介绍完的同学送一份错题本模板～",
        "每个自我介绍都回复一句具体的话（如「XX大学数学竞争不小，加油」），冷场时请KOL先发。",
        OWNER,
    ],
    [
        "D-4",
        "预热",
        "19:00",
        "摸底测试",
        "每日一练",
        f"开营前摸底测试：20道题，限时40分钟，测完自动出薄弱点报告📝 {LINK}/pretest",
        "统计完成人数，第二天在群里公布平均分和最常错的3道题。",
        OWNER,
    ],
    [
        "D-3",
        "预热",
        "20:00",
        "学习方法分享",
        "资料",
        f"28天怎么学最有效？助教整理了往届高分营员的学习方法：每天1小时做题 + 30分钟整理错题，详见：{LINK}/method",
        "鼓励大家在群里提问，统一晚上集中回复。",
        OWNER,
    ],
    [
        "D-2",
        "预热",
        "12:30",
        "学习计划征集",
        "互动",
        "开营前最后的准备：说说你这28天最想攻克的一个章节，开营后老师会按大家的投票安排答疑直播～",
        "汇总投票结果，开营时公布直播安排。",
        OWNER,
    ],
    [
        "D-1",
        "预热",
        "20:00",
        "开营提醒",
        "公告",
        "⏰ 明晚20:00开营仪式！主讲老师讲28天学习路线，现场抽3位同学送《高数18讲》，记得准时来～",
        "开营前一晚私聊还没领礼包、没做摸底测的同学。",
        OWNER,
    ],
    # --- 开营: day 0 ------------------------------------------------------------------------------------------------
    [
        "D0",
        "开营",
        "08:00",
        "开营日公告",
        "公告",
        "今天正式开营🎊 群规：①每天完成每日一练并打卡 ②提问请带题号 ③不发广告。今晚20:00开营仪式不见不散！",
        "发完公告后置顶；把群规同步到群公告。",
        OWNER,
    ],
    [
        "D0",
        "开营",
        "20:30",
        "开营仪式回放",
        "资料",
        f"开营仪式回放和《28天学习计划表》在这里：{LINK}/opening 没赶上直播的同学记得补看～",
        "统计观看人数；抽奖结果在群里公布并@中奖同学。",
        OWNER,
    ],
    # --- 正课: two camp weeks ----------------------------------------------------------------------------------------
    [
        "D1",
        "正课",
        "08:00",
        "每日一练·Day1",
        "每日一练",
        "【每日一练·Day1】求极限 lim(x→0) (e^x − 1 − x) / x²，做完在群里发「打卡+答案」，晚上公布解析～",
        "晚上8点公布解析；答对的同学点名表扬。",
        OWNER,
    ],
    [
        "D2",
        "正课",
        "08:00",
        "每日一练·Day2",
        "每日一练",
        "【每日一练·Day2】设 f(x) = x·ln x，求 f(x) 的单调区间和极值，打卡格式「打卡+答案」。",
        "统计打卡人数，未打卡的同学不在群里点名，私聊提醒。",
        OWNER,
    ],
    [
        "D3",
        "正课",
        "12:30",
        "错题分享",
        "互动",
        "这两天的题你错在哪一步？把错题截图发上来，老师挑3道典型错题今晚讲～",
        "挑典型错题时避开同一个人，照顾积极分享的同学。",
        OWNER,
    ],
    [
        "D4",
        "正课",
        "08:00",
        "每日一练·Day4",
        "每日一练",
        "【每日一练·Day4】计算定积分 ∫₀¹ x·e^x dx，答案发群里打卡。",
        "公布答案时讲分部积分的口诀。",
        OWNER,
    ],
    [
        "D5",
        "正课",
        "08:00",
        "每日一练·Day5",
        "每日一练",
        "【每日一练·Day5】判断级数 Σ 1/(n² + n) 的敛散性，并求和。",
        "回复打卡时提醒：连续打卡7天有积分奖励。",
        OWNER,
    ],
    [
        "D6",
        "正课",
        "20:00",
        "第一周知识点总结",
        "资料",
        f"第一周知识点思维导图来啦🧠 极限、导数、积分一张图串起来：{LINK}/week1",
        "提醒大家周末用导图复盘，自测后在群里报分。",
        OWNER,
    ],
    [
        "D7",
        "正课",
        "08:00",
        "每日一练·Day7",
        "每日一练",
        "【每日一练·Day7】一周小测：3道综合题（极限+导数+积分），限时30分钟，做完打卡～",
        "小测后统计正确率，为周报准备数据。",
        OWNER,
    ],
    [
        "D7",
        "正课",
        "20:00",
        "第一周打卡榜",
        "公告",
        "🏆 第一周打卡榜出炉！全勤的同学已发放积分，下周继续冲～ 榜单见群公告。",
        "@全勤同学表扬；对掉队的同学私聊鼓励，不在群里批评。",
        OWNER,
    ],
    [
        "D8",
        "正课",
        "08:00",
        "每日一练·Day8",
        "每日一练",
        "【每日一练·Day8】求微分方程 y' + y = e^{−x} 的通解，打卡格式「打卡+答案」。",
        "公布解析时顺带讲一阶线性方程的公式法。",
        OWNER,
    ],
    [
        "D9",
        "正课",
        "12:30",
        "答疑直播投票",
        "互动",
        "本周答疑直播讲哪一章？回复序号投票：①多元函数 ②二重积分 ③微分方程，票数最多的今晚讲～",
        "按投票结果准备直播，直播前30分钟在群里提醒。",
        OWNER,
    ],
    [
        "D10",
        "正课",
        "20:00",
        "进阶班介绍",
        "营销",
        f"很多同学问训练营之后怎么学：《考研数学系统班》覆盖全部考点 + 每周批改，营员专享早鸟价，详情：{LINK}/course",
        "只发一次，不刷屏；私聊问价格的同学立即1对1跟进（系统会提醒）。",
        OWNER,
    ],
    [
        "D11",
        "正课",
        "08:00",
        "每日一练·Day11",
        "每日一练",
        "【每日一练·Day11】计算二重积分 ∬_D xy dσ，D 由 y = x 与 y = x² 围成。",
        "答对率低于一半时，晚上加一条讲解。",
        OWNER,
    ],
    [
        "D12",
        "正课",
        "08:00",
        "每日一练·Day12",
        "每日一练",
        "【每日一练·Day12】求 z = x² + y² 在条件 x + y = 1 下的极值（拉格朗日乘数法）。",
        "提醒明天是正课最后一天，后天结营测试。",
        OWNER,
    ],
    [
        "D13",
        "正课",
        "20:00",
        "结营测试通知",
        "公告",
        "📣 明天上午9:00结营测试（30分钟），成绩前十的同学送《真题精讲》纸质书，记得准时参加！",
        "私聊提醒打卡不足10天的同学参加结营测试。",
        OWNER,
    ],
    # --- 结营: the post-camp week (the second-round conversion) ---------------------------------------------------
    [
        "D14",
        "结营",
        "09:00",
        "结营测试",
        "每日一练",
        f"结营测试开始啦✍️ 30分钟，做完自动出分和28天成长报告：{LINK}/final",
        "测试结束后统计成绩，为结营仪式准备前十名单。",
        OWNER,
    ],
    [
        "D14",
        "结营",
        "20:00",
        "结营仪式",
        "公告",
        "🎓 今晚结营仪式：公布前十名和全勤榜，老师讲接下来的复习节奏，到场同学抽奖送会员～",
        "仪式后感谢大家，并预告接下来一周有系统班答疑。",
        OWNER,
    ],
    [
        "D15",
        "结营",
        "20:00",
        "系统班早鸟价",
        "营销",
        f"训练营学员专享：《考研数学系统班》早鸟价限时5天⏰ 报名即送1对1学习规划，戳：{LINK}/early",
        "问价格、问课程安排的同学1对1跟进；已报名的同学拉入新班群。",
        OWNER,
    ],
    [
        "D16",
        "结营",
        "12:30",
        "学习成果晒单",
        "互动",
        "28天下来你进步了多少？晒出你的摸底测和结营测成绩对比，晒单的同学送错题本～",
        "挑进步最大的3位同学（征得同意）做成案例。",
        OWNER,
    ],
    [
        "D17",
        "结营",
        "20:00",
        "真题精讲资料",
        "资料",
        f"送大家一份《近10年真题精讲》电子版，结营后也别停：{LINK}/exams",
        "不催报名；有问题的同学引导到答疑时间。",
        OWNER,
    ],
    [
        "D18",
        "结营",
        "20:00",
        "往期学员分享",
        "营销",
        f"上期营员小林：训练营+系统班，数学从78分到121分📈 听听他怎么学的：{LINK}/story 早鸟价还剩2天。",
        "私聊有意向但没报名的同学，问清顾虑（时间/价格/效果）。",
        OWNER,
    ],
    [
        "D19",
        "结营",
        "12:30",
        "报课答疑",
        "互动",
        "关于系统班的任何问题都可以在群里问：上课时间、回放、退费规则……今天老师全天在线答疑🙋",
        "统一回复常见问题，价格等私密问题转私聊。",
        OWNER,
    ],
    [
        "D20",
        "结营",
        "20:00",
        "训练营结束",
        "公告",
        "28天训练营圆满结束🌟 本群转为答疑群继续开放，下期训练营报名已开启，欢迎推荐同学一起来！",
        "修改群公告为答疑群说明；统计续报人数并记录到复盘表。",
        OWNER,
    ],
]


def write_csv(path: Path) -> None:
    """UTF-8 with a BOM: Excel on Chinese Windows opens it with the right characters."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(ROWS)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def write_xlsx(path: Path) -> None:
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]

    book = Workbook()
    sheet = book.active
    sheet.title = NAME
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="2F6F4E")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCDEFGH", (6, 6, 7, 16, 9, 60, 44, 7), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    book.properties.creator = "Siyu samples"
    book.properties.created = FIXED
    book.properties.modified = FIXED
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(_fixed_zip(buffer.getvalue()))


def main() -> None:
    write_csv(HERE / f"{NAME}.csv")
    write_xlsx(HERE / f"{NAME}.xlsx")
    days = sorted({int(str(r[0])[1:]) for r in ROWS})
    print(f"wrote {HERE / NAME}.csv and .xlsx ({len(ROWS)} steps over days {days[0]}..{days[-1]}: {len(days)} days)")


if __name__ == "__main__":
    main()
