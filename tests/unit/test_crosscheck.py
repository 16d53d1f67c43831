"""The comparison with WeCom's own statistics: thresholds, missing sides, derived leaves, the table."""

from __future__ import annotations

import pytest

from chalicelib.domain.metrics.crosscheck import Row, Threshold, compare, crosscheck_table, wecom_figures
from chalicelib.domain.metrics.wecom_stats import ContactDay, GroupDay, WeComDay, merge_contact, merge_groups


def _day(day: str, *, adds: int = 0, joins: int = 0, total: int = 0, msgs: int = 0) -> WeComDay:
    return WeComDay(
        tenant_id="t1",
        day=day,
        contact=ContactDay(stat_time=0, new_contact_cnt=adds),
        groups=GroupDay(stat_time=0, new_member_cnt=joins, member_total=total, msg_total=msgs),
        staff_count=1,
        fetched_at=0,
    )


def _one(ours: int, wecom: int, threshold: Threshold | None = None) -> Row:
    (row,) = compare({"adds": ours}, {"adds": wecom}, threshold)
    return row


def test_equal_figures_do_not_flag() -> None:
    row = _one(40, 40)
    assert (row.difference, row.relative, row.flagged) == (0, 0.0, False)


def test_five_percent_is_not_over_the_threshold_but_more_is() -> None:
    assert _one(105, 100).flagged is False  # exactly 5%
    row = _one(106, 100)
    assert row.flagged is True and row.difference == 6 and row.relative == pytest.approx(0.06)
    assert _one(94, 100).flagged is True  # below WeCom counts too


def test_tiny_numbers_do_not_flag() -> None:
    assert _one(1, 0).flagged is False  # 1 against 0: under the absolute minimum
    assert _one(3, 2).flagged is False  # 50% but only 1 apart
    row = _one(2, 0)
    assert row.flagged is True and row.relative is None


def test_threshold_is_configurable() -> None:
    assert _one(106, 100, Threshold(relative=0.10)).flagged is False
    assert _one(1, 0, Threshold(absolute=1)).flagged is True
    with pytest.raises(ValueError):
        Threshold(relative=-0.1)


def test_missing_side_is_shown_unflagged_and_unknown_keys_are_ignored() -> None:
    rows = compare({"adds": 5, "group_joins": 3, "bogus": 9}, {"adds": 50})
    assert [r.metric for r in rows] == ["adds", "group_joins"]
    assert rows[1].wecom is None and rows[1].difference is None and rows[1].flagged is False
    assert rows[0].flagged is True


def test_wecom_figures_sum_a_range_and_derive_leaves_from_the_day_before() -> None:
    days = [_day("2026-12-02", adds=3, joins=4, total=14, msgs=7), _day("2026-12-01", adds=2, joins=5, total=12)]
    figures = wecom_figures(days)
    assert figures == {"adds": 5, "customer_deletes": 0, "new_groups": 0, "group_joins": 9, "group_messages": 7}
    with_before = wecom_figures(days, before=_day("2026-11-30", total=10))
    assert with_before["group_leaves"] == 9 - (14 - 10)
    assert wecom_figures([]) == {}


def test_table_has_the_crosscheck_key_and_chinese_labels() -> None:
    table = crosscheck_table(compare({"adds": 10, "group_joins": 10}, {"adds": 20, "group_joins": 10}))
    assert table.key == "crosscheck"
    assert [c.label for c in table.columns][:3] == ["指标", "本系统", "企业微信"]
    assert table.as_dicts()[0] == {
        "metric": "新增客户",
        "ours": 10,
        "wecom": 20,
        "difference": -10,
        "relative": -0.5,
        "flagged": "是",
    }
    assert table.as_dicts()[1]["flagged"] == ""
    assert "5%" in table.note


def test_batches_merge_counts_and_weight_the_reply_rate_by_chats() -> None:
    a = ContactDay(stat_time=1, new_contact_cnt=2, chat_cnt=3, message_cnt=9, reply_percentage=100.0)
    b = ContactDay(stat_time=1, new_contact_cnt=1, chat_cnt=1, message_cnt=1, reply_percentage=0.0)
    c = ContactDay(stat_time=1)
    merged = merge_contact([a, b, c], stat_time=1)
    assert (merged.new_contact_cnt, merged.chat_cnt, merged.message_cnt) == (3, 4, 10)
    assert merged.reply_percentage == 75.0 and merged.avg_reply_time is None
    groups = merge_groups([GroupDay(1, chat_total=2, msg_total=5), GroupDay(1, chat_total=1)], stat_time=1)
    assert (groups.chat_total, groups.msg_total, groups.stat_time) == (3, 5, 1)
