"""The group-plan bench's flag and its section of docs/performance.md, offline (no DynamoDB needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.__main__ import parse_args
from bench.capacity import CallRecord, Capacity
from bench.groups import GroupPhase, GroupResults, group_templates, render_groups


def _results() -> GroupResults:
    def put(units: float) -> CallRecord:
        return CallRecord("PutItem", Capacity(0, units, 0, units), 0.001)

    enroll = GroupPhase("enroll", 0.5, [put(1.0)] * 300, scheduler_calls=1)
    fire = GroupPhase("fire", 0.7, [CallRecord("UpdateItem", Capacity(0, 1, 0, 1), 0.001)] * 200)
    calls = [("group", f"owner{i}", 20) for i in range(5)]
    wecom = {"externalcontact/add_msg_template": 5}
    return GroupResults(100, 5, enroll, fire, {"sent": 100, "tasks": 5}, calls, wecom)


def test_groups_only_is_a_partial_run_that_writes_only_where_told() -> None:
    args = parse_args(["--groups-only"])
    assert args.groups_only and args.output is None
    with pytest.raises(SystemExit):
        parse_args(["--groups-only", "--sop-only"])


def test_the_section_shows_units_per_group_and_one_wecom_call_per_owner() -> None:
    lines = render_groups(_results(), "python -m bench --groups-only")
    text = "\n".join(lines)
    assert lines[0] == "## Group plans: one bucket over 100 groups (issue 10 §9)"
    assert "| enroll (100 groups) | 0 | 300 | 3 | PutItem 300 | 1 | 0.5 |" in text
    assert "| fire (100 groups) | 0 | 200 | 2 | UpdateItem 200 | 0 | 0.7 |" in text
    assert "5 `add_msg_template` (chat_type group)" in text and "100 sent in 5 tasks" in text
    assert "(`fail_list`): 0" in text and "externalcontact/add_msg_template 5" in text
    assert _results().jsonable()["fire"]["billed_write"] == 200


def test_the_fires_group_messages_are_read_from_the_call_log_and_checked_against_the_owners() -> None:
    def call(api: str, sender: str, chats: list[str]) -> SimpleNamespace:
        return SimpleNamespace(api=api, payload={"chat_type": "group", "sender": sender, "chat_id_list": chats})

    owners = {"wrA": "zhang", "wrB": "zhang", "wrC": "li"}
    calls = [
        call("gettoken", "", []),
        call("externalcontact/add_msg_template", "zhang", ["wrA", "wrB"]),
        call("externalcontact/add_msg_template", "li", ["wrC", "wrA"]),  # wrA is not li's: WeCom's fail_list
    ]
    assert group_templates(calls, owners) == ([("group", "zhang", 2), ("group", "li", 2)], 1)
    assert group_templates(calls[:2], owners) == ([("group", "zhang", 2)], 0)
