"""How the metrics read as tables (issue 11 §3-§4): columns, Chinese headings and rows, from the formulas' numbers.
Pure. The dashboard, the JSON API and the CSV exports all show these tables (domain/metrics/view.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.domain.metrics import formulas as fm
from chalicelib.domain.metrics.view import COUNT, MONEY, NUMBER, RATE, SECONDS, TEXT, Cell, Column, Headline, Table

BY = ("channel", "campaign", "source", "plan", "group", "staff")
PERIODS = ("day", "week", "month")

_CHANNEL_COLUMNS = (
    Column("exposures", "曝光", COUNT),
    Column("adds", "添加", COUNT),
    Column("new", "新客户", COUNT),
    Column("readds", "重复添加", COUNT),
    Column("add_rate", "添加率", RATE),
    Column("lost", "流失", COUNT),
    Column("group_joins", "入群", COUNT),
    Column("join_rate", "入群率", RATE),
    Column("spend", "投放成本", MONEY),
    Column("cac", "获客成本(CAC)", MONEY),
    Column("trial_persons", "体验课人数", COUNT),
    Column("trial_conversion", "体验课转化率", RATE),
    Column("full_persons", "正价课人数", COUNT),
    Column("full_conversion", "正价课转化率", RATE),
    Column("orders", "订单", COUNT),
    Column("ordering_persons", "下单人数", COUNT),
    Column("conversion", "转化率", RATE),
    Column("revenue", "销售额", MONEY),
    Column("aov", "客单价", MONEY),
    Column("roi", "ROI", NUMBER),
)


def _row(label_cells: tuple[Cell, ...], figures: Mapping[str, Any], columns: tuple[Column, ...]) -> tuple[Cell, ...]:
    return (*label_cells, *(figures.get(c.key) for c in columns))


def channel_table(rows: Mapping[str, Mapping[str, Any]], by: str) -> Table:
    """Acquisition and conversion per channel, or per campaign or source platform (channel rows summed by it)."""
    groups: dict[str, dict[str, Any]] = {}
    for cid, row in rows.items():
        c = row["channel"]
        if by == "campaign":
            key, label = (c.campaign if c else "") or "-", (c.campaign if c else "") or "（无活动）"
        elif by == "source":
            key, label = (c.source if c else "") or "-", (c.source if c else "") or "（无来源）"
        else:
            key, label = cid, c.name if c else _unnamed(cid)
        slot = groups.setdefault(key, {"label": label, "counters": {}, "uv": 0, "spend": 0, "group_joins": 0})
        slot["counters"] = fm.total([slot["counters"], row["counters"]])
        for name in ("uv", "spend", "group_joins"):
            slot[name] += row[name]
    head = {"campaign": ("campaign", "活动"), "source": ("source", "来源平台")}.get(by, ("channel_id", "渠道"))
    columns = (Column(head[0], head[0], TEXT), Column("name", head[1], TEXT), *_CHANNEL_COLUMNS)
    body = tuple(
        _row(
            (key, g["label"]),
            fm.acquisition(g["counters"], uv=g["uv"], spend=g["spend"], group_joins=g["group_joins"]),
            _CHANNEL_COLUMNS,
        )
        for key, g in sorted(groups.items())
    )
    title = {"campaign": "活动", "source": "来源平台"}.get(by, "渠道")
    return Table(
        "channels", f"{title}获客与转化", columns, body, note="CAC = 投放成本 / 新客户；ROI = 销售额 / 投放成本"
    )


def _unnamed(cid: str) -> str:
    return {"-": "（无渠道）", "rf_legacy": "老带新（旧码）", "rf_erased": "老带新（已删除）"}.get(cid, cid)


def step_table(steps: Mapping[str, tuple[str, str]], rows: Mapping[str, Mapping[str, int]]) -> Table:
    """Per plan version step: delivered, skipped by reason (holdout among them), replies in 24 h, conversions."""
    columns = (
        Column("step", "步骤", TEXT),
        Column("plan", "计划", TEXT),
        Column("label", "版本/步骤", TEXT),
        Column("delivered", "已触达", COUNT),
        Column("skipped", "跳过", COUNT),
        Column("holdout", "对照组跳过", COUNT),
        Column("skipped_reasons", "跳过原因", TEXT),
        Column("replies", "24小时回复", COUNT),
        Column("reply_rate", "回复率", RATE),
        Column("conversions", "归因转化(7天)", COUNT),
        Column("conversion_revenue", "归因销售额", MONEY),
    )
    body = []
    for sid, (plan, label) in sorted(steps.items()):
        s = fm.step(rows.get(sid, {}))
        reasons = "、".join(f"{r} {n}" for r, n in s["skipped_by_reason"].items())
        body.append(
            (
                sid,
                plan,
                label,
                s["delivered"],
                s["skipped"],
                s["holdout"],
                reasons,
                s["replies"],
                s["reply_rate"],
                s["conversions"],
                s["conversion_revenue"],
            )
        )
    return Table("steps", "SOP 步骤", columns, tuple(body), note="归因：成交前 7 天内最后一次触达的步骤")


def plan_table(
    plans: Mapping[str, str], rows: Mapping[str, Mapping[str, int]], lift: Callable[..., Any] | None
) -> Table:
    """Per plan: enrolled and converted in each arm, and the lift (treated minus holdout conversion) with its 95%
    interval when the plan has a holdout."""
    columns = (
        Column("plan_id", "计划ID", TEXT),
        Column("name", "计划", TEXT),
        Column("enrolled", "入组(实验组)", COUNT),
        Column("converted", "转化(实验组)", COUNT),
        Column("treated_rate", "实验组转化率", RATE),
        Column("holdout_enrolled", "对照组", COUNT),
        Column("holdout_converted", "对照组转化", COUNT),
        Column("holdout_rate", "对照组转化率", RATE),
        Column("lift", "提升(lift)", RATE),
        Column("lift_low", "95%区间下限", RATE),
        Column("lift_high", "95%区间上限", RATE),
        Column("exited", "退出", COUNT),
    )
    body = []
    for pid, name in sorted(plans.items()):
        a = fm.plan_arms(rows.get(pid, {}))
        diff = low = high = None
        if lift is not None:
            result = lift(
                a["enrolled"],
                min(a["converted"], a["enrolled"]),
                a["holdout_enrolled"],
                min(a["holdout_converted"], a["holdout_enrolled"]),
            )
            diff, low, high = result.lift, result.ci_low, result.ci_high
        body.append(
            (
                pid,
                name,
                a["enrolled"],
                a["converted"],
                a["treated_rate"],
                a["holdout_enrolled"],
                a["holdout_converted"],
                a["holdout_rate"],
                diff,
                low,
                high,
                a["exited"],
            )
        )
    return Table(
        "plans", "计划与对照组", columns, tuple(body), note="提升 = 实验组转化率 − 对照组转化率（Newcombe 95% 区间）"
    )


def group_table(groups: Sequence[tuple[str, str, Mapping[str, Any]]]) -> Table:
    columns = (
        Column("chat_id", "群ID", TEXT),
        Column("name", "群名", TEXT),
        Column("members_start", "期初成员", COUNT),
        Column("members_end", "期末成员", COUNT),
        Column("joins", "入群", COUNT),
        Column("leaves", "退群", COUNT),
        Column("leave_rate", "退群率", RATE),
        Column("completion_rate", "任务完成率", RATE),
        Column("interaction_rate", "互动率", RATE),
        Column("messages_per_member", "人均消息", NUMBER),
        Column("checkins", "打卡", COUNT),
        Column("retention", "社群留存率", RATE),
        Column("account_retention", "账号留存率", RATE),
    )
    body = tuple(_row((chat, name), g, columns[2:]) for chat, name, g in groups)
    return Table("groups", "社群", columns, body, note="互动率 = 每日发言人数 / 群成员（按成员·天加权）")


def staff_table(names: Mapping[str, str], rows: Mapping[str, Mapping[str, int]]) -> Table:
    columns = (
        Column("userid", "员工ID", TEXT),
        Column("name", "员工", TEXT),
        Column("new", "新客户", COUNT),
        Column("lost", "流失", COUNT),
        Column("orders", "订单", COUNT),
        Column("revenue", "销售额", MONEY),
        Column("tasks_confirmed", "确认任务", COUNT),
        Column("on_time_rate", "按时确认率", RATE),
        Column("tasks_sent", "企业微信已发送", COUNT),
        Column("sent_on_time_rate", "按时发送率", RATE),
        Column("latency_p50", "确认耗时P50", SECONDS),
        Column("latency_p90", "确认耗时P90", SECONDS),
    )
    body = tuple(_row((u, name), fm.staff(rows.get(u, {})), columns[2:]) for u, name in sorted(names.items()))
    return Table("staff", "员工", columns, body, note="按时：任务生成后 1 小时内确认；耗时为分桶上限")


def cohort_table(cohorts: Sequence[tuple[str, Mapping[str, Any]]]) -> Table:
    columns = (
        Column("week", "添加周", TEXT),
        Column("adds", "新客户", COUNT),
        Column("lost", "已流失", COUNT),
        Column("retention", "留存率", RATE),
        Column("ordering_persons", "下单人数", COUNT),
        Column("conversion", "转化率", RATE),
        Column("full_persons", "正价课人数", COUNT),
        Column("full_conversion", "正价转化率", RATE),
    )
    body = tuple(_row((week,), c, columns[1:]) for week, c in cohorts)
    return Table("cohorts", "按添加周的同期群", columns, body, note="流失与成交计到范围结束为止")


def product_table(products: list[dict[str, Any]]) -> Table:
    columns = (
        Column("product", "产品", TEXT),
        Column("orders", "订单", COUNT),
        Column("persons", "成交人数", COUNT),
        Column("revenue", "销售额", MONEY),
    )
    return Table("products", "产品成交", columns, tuple(_row((), p, columns) for p in products))


def headlines(
    overall: Mapping[str, Any], ops: Mapping[str, Any], churn: Mapping[str, float | None]
) -> tuple[Headline, ...]:
    top = max(churn.items(), key=lambda kv: kv[1] or 0)[0] if churn else None
    return (
        Headline("new", "新客户", COUNT, overall["new"]),
        Headline("cac", "获客成本(CAC)", MONEY, overall["cac"]),
        Headline("roi", "ROI", NUMBER, overall["roi"]),
        Headline("conversion", "转化率", RATE, overall["conversion"]),
        Headline("gmv", "GMV", MONEY, overall["revenue"]),
        Headline("aov", "客单价", MONEY, overall["aov"]),
        Headline("free_trial", "免费体验用户", COUNT, overall["free_trial_persons"]),
        Headline("paid_trial", "付费体验用户", COUNT, overall["paid_trial_persons"]),
        Headline("lost", "流失客户", COUNT, overall["lost"]),
        Headline(
            "top_churn", "主要流失原因", TEXT, {"lost": "客户删除员工", "ended": "员工删除客户"}.get(top or "", top)
        ),
        Headline("silent", "转为沉默", COUNT, ops["silent"]),
        Headline("active_per_day", "日均活跃客户", NUMBER, ops["active_per_day"]),
        Headline("speakers_per_day", "日均发言客户", NUMBER, ops["speakers_per_day"]),
        Headline("messages", "客户消息", COUNT, ops["messages"]),
        Headline("touches", "SOP 触达", COUNT, ops["touches"]),
        Headline("tasks_created", "员工任务", COUNT, ops["tasks_created"]),
        Headline("touches_per_customer_week", "每客每周触达", NUMBER, ops["touches_per_customer_week"]),
    )
