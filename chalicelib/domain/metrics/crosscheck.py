"""Our counts beside WeCom's own statistics (与企业微信数据核对), one row per metric, a difference over the threshold
flagged. Pure. docs/wecom-statistics.md explains the mapping and why the two can legitimately differ.

``ours`` is a ``dict[str, int]`` over a day or a range, with these keys (any may be absent; a metric neither side
has is left out):

    adds              新增客户: adds of a customer to a staff member, first adds and re-adds (WeCom: new_contact_cnt)
    customer_deletes  客户删除成员: relations ended by the customer deleting the staff member (negative_feedback_cnt)
    new_groups        新建客户群: customer groups created (new_chat_cnt)
    group_joins       入群: members joining customer groups (new_member_cnt)
    group_leaves      退群: members leaving or removed (WeCom has no such field: new_member_cnt minus the change of
                      member_total, so it needs the day before the range)
    group_messages    群消息: messages in customer groups (msg_total)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.metrics.view import COUNT, NUMBER, RATE, TEXT, Column, Table
from chalicelib.domain.metrics.wecom_stats import WeComDay

#: (our key, the label people read), in the order rows are shown.
METRICS: tuple[tuple[str, str], ...] = (
    ("adds", "新增客户"),
    ("customer_deletes", "客户删除成员"),
    ("new_groups", "新建客户群"),
    ("group_joins", "入群人数"),
    ("group_leaves", "退群人数"),
    ("group_messages", "群消息数"),
)
KEYS = frozenset(key for key, _ in METRICS)


@dataclass(frozen=True)
class Threshold:
    """A difference is flagged when it is over ``relative`` of WeCom's figure (strictly) and at least
    ``absolute``: 1 against 0, or 3 against 2, is noise, not a finding."""

    relative: float = 0.05
    absolute: int = 2

    def __post_init__(self) -> None:
        if self.relative < 0 or self.absolute < 0:
            raise ValueError("thresholds must not be negative")


@dataclass(frozen=True)
class Row:
    metric: str  # one of KEYS
    label: str
    ours: int | None  # None: we have no such figure for the period
    wecom: int | None  # None: WeCom's figure was not fetched (or cannot be derived)
    difference: int | None  # ours - wecom
    relative: float | None  # difference / wecom; None when WeCom's figure is 0 or missing
    flagged: bool


def wecom_figures(days: Sequence[WeComDay], *, before: WeComDay | None = None) -> dict[str, int]:
    """WeCom's stored days (a range, in any order, each day once) as ``ours``-keyed figures. group_leaves only
    when ``before`` (the day before the range) and every day of the range are there: it is derived from totals."""
    if not days:
        return {}
    ordered = sorted(days, key=lambda d: d.day)
    figures = {
        "adds": sum(d.contact.new_contact_cnt for d in ordered),
        "customer_deletes": sum(d.contact.negative_feedback_cnt for d in ordered),
        "new_groups": sum(d.groups.new_chat_cnt for d in ordered),
        "group_joins": sum(d.groups.new_member_cnt for d in ordered),
        "group_messages": sum(d.groups.msg_total for d in ordered),
    }
    if before is not None and before.day < ordered[0].day:
        grown = ordered[-1].groups.member_total - before.groups.member_total
        figures["group_leaves"] = max(figures["group_joins"] - grown, 0)
    return figures


def compare(ours: Mapping[str, int], wecom: Mapping[str, int], threshold: Threshold | None = None) -> tuple[Row, ...]:
    """One row per metric either side has, in METRICS order; keys outside METRICS are ignored."""
    limit = threshold or Threshold()
    rows = []
    for key, label in METRICS:
        if key not in ours and key not in wecom:
            continue
        mine, theirs = ours.get(key), wecom.get(key)
        rows.append(_row(key, label, mine, theirs, limit))
    return tuple(rows)


def _row(key: str, label: str, ours: int | None, wecom: int | None, limit: Threshold) -> Row:
    if ours is None or wecom is None:
        return Row(key, label, ours, wecom, None, None, False)
    difference = ours - wecom
    relative = difference / wecom if wecom else None
    over = relative is None or abs(relative) > limit.relative
    flagged = difference != 0 and abs(difference) >= limit.absolute and over
    return Row(key, label, ours, wecom, difference, relative, flagged)


COLUMNS = (
    Column("metric", "指标", TEXT),
    Column("ours", "本系统", COUNT),
    Column("wecom", "企业微信", COUNT),
    Column("difference", "差值", NUMBER),
    Column("relative", "相对差异", RATE),
    Column("flagged", "需核对", TEXT),
)


def crosscheck_table(rows: Sequence[Row], threshold: Threshold | None = None) -> Table:
    """The rows as the read model's table "crosscheck" (dashboard, JSON and CSV alike)."""
    limit = threshold or Threshold()
    cells = tuple((r.label, r.ours, r.wecom, r.difference, r.relative, "是" if r.flagged else "") for r in rows)
    note = (
        f"差值超过企业微信数据的 {limit.relative:.0%} 且至少 {limit.absolute} 时标记为需核对；"
        "企业微信按成员统计、按北京时间自然日统计，口径见 docs/wecom-statistics.md"
    )
    return Table(key="crosscheck", title="与企业微信数据核对", columns=COLUMNS, rows=cells, note=note)
