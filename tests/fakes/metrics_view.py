"""A known MetricsView (a week of one tenant, numbers worked out by hand) and a stand-in metrics read returning it.

The scenario: ¥20,000.00 spent on two channels for 2,000 exposures; 400 adds (CAC ¥50.00), 300 enrolled, 60 trial
orders at ¥19.90 and 15 full-price at ¥3,980.00: revenue ¥60,894.00, ROI 3.04. Every figure the page shows is in
the comments beside it, so a test reads what a person would check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.domain.metrics.view import (
    COUNT,
    MONEY,
    NUMBER,
    RATE,
    SECONDS,
    TEXT,
    Column,
    FunnelStage,
    Headline,
    MetricsView,
    Point,
    Series,
    Table,
)
from chalicelib.domain.tenants import Tenant

DAYS = ("2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01")

CHANNELS = Table(
    key="channels",
    title="渠道",
    columns=(
        Column("channel", "渠道", TEXT),
        Column("exposures", "曝光", COUNT),
        Column("adds", "添加", COUNT),
        Column("add_rate", "添加率", RATE),
        Column("spend", "花费", MONEY),
        Column("cac", "获客成本", MONEY),
        Column("revenue", "成交额", MONEY),
        Column("roi", "ROI", NUMBER),
    ),
    rows=(
        ("抖音广告", 1500, 300, 0.2, 1_500_000, 5000, 4_500_000, 3.0),  # CAC ¥50.00, ROI 3
        ("门店海报", 500, 100, 0.2, 500_000, 5000, 1_589_400, 3.1788),  # ROI 3.18
        ("转介绍", 0, 0, None, 0, None, 0, None),  # nothing spent, nobody added: —
    ),
    note="获客成本 = 花费 / 新客；ROI = 成交额 / 花费",
)

STEPS = Table(
    key="steps",
    title="计划步骤",
    columns=(
        Column("step", "步骤", TEXT),
        Column("delivered", "送达", COUNT),
        Column("skipped", "跳过", COUNT),
        Column("replied_24h", "24小时内回复", COUNT),
        Column("converted", "转化", COUNT),
        Column("holdout_rate", "对照组转化率", RATE),
        Column("lift", "提升", RATE),
    ),
    rows=(
        ("新客培育 v2 · 第1天 欢迎", 1234, 20, 95, 30, 0.05, 0.031),  # lift 3.1%
        ("新客培育 v2 · 第3天 试听课", 360, 40, 12, 9, 0.06, -0.012),  # lift -1.2%
        ("新客培育 v2 · 第7天 正价课", 0, 0, 0, 0, None, None),
    ),
    note="提升 = 触达组转化率 − 对照组转化率（末次触达 7 天内归因）",
)

GROUPS = Table(
    key="groups",
    title="社群",
    columns=(
        Column("group", "社群", TEXT),
        Column("members", "成员", COUNT),
        Column("leave_rate", "退群率", RATE),
        Column("interaction_rate", "互动率", RATE),
        Column("messages_per_member", "人均消息", NUMBER),
    ),
    rows=(("示例教育·考研冲刺·第3期·01群", 200, 0.03, 0.42, 3.5),),
)

STAFF = Table(
    key="staff",
    title="员工",
    columns=(
        Column("staff", "员工", TEXT),
        Column("adds", "添加", COUNT),
        Column("latency_p50", "确认时延 P50", SECONDS),
        Column("latency_p90", "确认时延 P90", SECONDS),
    ),
    rows=(("张老师", 220, 65, 7380), ("李老师", 180, 45, None)),  # 1分05秒, 2小时3分; 45秒, —
)

VIEW = MetricsView(
    tenant_name="示例教育",
    date_from=DAYS[0],
    date_to=DAYS[-1],
    by="channel",
    dimension_value=None,
    funnel=(
        FunnelStage("exposures", "曝光", 2000),
        FunnelStage("adds", "添加", 400),  # 20.0%
        FunnelStage("enrolled", "入组", 300),  # 75.0%
        FunnelStage("trial", "试听", 60),  # 20.0%
        FunnelStage("full", "正价", 15),  # 25.0%
    ),
    headlines=(
        Headline("cac", "获客成本", MONEY, 5000),  # ¥50.00
        Headline("roi", "ROI", NUMBER, 3.0447),  # 3.04
        Headline("conversion", "转化率", RATE, 0.1875),  # 18.8%
        Headline("gmv", "成交额", MONEY, 6_089_400),  # ¥60,894.00
    ),
    tables=(CHANNELS, STEPS, GROUPS, STAFF),
    trends=(
        Series(
            "adds", "添加", COUNT, tuple(Point(d, v) for d, v in zip(DAYS, (40, 55, 61, 70, 52, 58, 64), strict=True))
        ),
        Series(
            "cac",
            "获客成本",
            MONEY,
            tuple(Point(d, v) for d, v in zip(DAYS, (5200, 4900, None, 5100, 5000, 4800, 5050), strict=True)),
        ),
        Series("gmv", "成交额", MONEY, ()),
    ),
    as_of="2026-12-01 10:00",
)


@dataclass
class StubMetrics:
    """The metrics read as the dashboard sees it, answering VIEW for whatever range and dimension it is asked."""

    view_for: MetricsView = VIEW

    def view(
        self, tenant: Tenant, *, date_from: str, date_to: str, by: str, value: str | None, period: str
    ) -> MetricsView:
        self.asked_for = tenant.tenant_id
        return replace(self.view_for, date_from=date_from, date_to=date_to, by=by, dimension_value=value)
