"""The member-join bench's section of docs/performance.md, offline: hand-built samples render per group size, the
rotating join apart, the duplicates, calls by item kind, and the notes computed from the figures."""

from __future__ import annotations

from bench.capacity import CallRecord, Capacity
from bench.group_joins import MEMBER_LIMIT, JoinResults, JoinSample, rotate_at_for
from bench.group_joins_report import (
    by_call,
    group_joins_jsonable,
    group_joins_summary_lines,
    render_group_joins,
)
from bench.harness import Sample, sample_of


def _join(chat: int, members: int, read: float, *, rotated: bool = False) -> JoinSample:
    records = [
        CallRecord("BatchGetItem", Capacity(read=0, billed_read=read), 0.001, item="C/PROFILE"),
        CallRecord("TransactWriteItems", Capacity(write=2, billed_write=8), 0.001, item="G/MEM+G/HIST", tx_items=4),
    ]
    wecom = [_Call("externalcontact/groupchat/get")] + ([_Call("externalcontact/groupchat/update_join_way")] * rotated)
    return JoinSample(sample_of(0.1, records, wecom, "applied"), records, chat, members, rotated)


class _Call:
    def __init__(self, api: str) -> None:
        self.api = api


def _dup(members: int) -> JoinSample:
    records = [CallRecord("GetItem", Capacity(read=1, billed_read=1), 0.001, item="G/GROUP")]
    return JoinSample(sample_of(0.002, records, [], "duplicate"), records, 1, members, False)


def _results() -> JoinResults:
    joins = [_join(1, 380, 200), _join(1, 381, 201), _join(1, 382, 202, rotated=True), _join(2, 2, 10)]
    return JoinResults(4, 374, 381, joins, [_dup(m) for m in (380, 381, 382, 2)], rotations=1)


def test_the_section_splits_joins_by_group_and_shows_the_duplicates() -> None:
    text = "\n".join(render_group_joins(_results(), "python -m bench --groups-only"))
    assert text.startswith("## Member joins: DynamoDB units per join event (issue 10 §9)")
    assert "| every join | 4 | 8 / 8 / 8 | 200.5 / 153.25 / 202 | 2 / 0 |" in text
    assert "| joins into the first group (380–381 members after) | 2 |" in text
    assert "| the join that rotated the code (382–382 members after) | 1 |" in text
    assert "externalcontact/groupchat/get 1, externalcontact/groupchat/update_join_way 1" in text
    assert "| joins into the queued group (2–2 members after) | 1 |" in text
    assert "| duplicate deliveries | 4 | 0 / 0 / 0 | 1 / 1 / 1 | 0 / 1 | none |" in text
    assert "| BatchGetItem `C/PROFILE` | 1 | 0 | 153.25 | 0 | 0 |" in text
    assert "| GetItem `G/GROUP` | 0 | 0 | 0 | 1 | 1 |" in text
    assert "into a group of 2, 201 into one of 381" in text  # the last non-rotating join of the first group
    assert "on the join to 382 members (threshold 381): one join late" in text  # the figures say so
    assert "applied x4, duplicate x4" in text and "the meter missed: 0" in text


def test_by_call_averages_over_deliveries_and_the_digests_carry_every_sample() -> None:
    calls = by_call(_results().joins)
    assert calls[("TransactWriteItems", "G/MEM+G/HIST")] == (1.0, 8.0, 0.0)
    [line] = group_joins_summary_lines(_results())
    assert line.startswith("group joins (4): billed W 8 R 153.25 per join") and "0 WeCom calls over 4" in line
    digest = group_joins_jsonable(_results())
    assert digest["rotate_at"] == 381 and len(digest["joins"]) == 4 and digest["joins"][2]["rotated"] is True
    assert render_group_joins(JoinResults(0, 0, 2), "cmd") == []


def test_the_threshold_falls_about_half_way_and_never_past_wecoms_limit() -> None:
    assert rotate_at_for(200) == 1 + 374 + 5 + 100
    assert rotate_at_for(20) == 1 + 374 + 5 + 10
    assert rotate_at_for(10_000) == MEMBER_LIMIT
    assert rotate_at_for(1) == 1 + 374 + 5 + 1


def test_a_sample_is_the_harness_sample() -> None:
    assert isinstance(_join(1, 2, 1).sample, Sample)
