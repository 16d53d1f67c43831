"""The plan simulator (issue 3 §6) and reply classification (§5): the issue's example, exits, silence hand-off, hot
customers, lateness at the join, caps, audience, the horizon, determinism and the response shape."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.messages import Message
from chalicelib.domain.plans import (
    Audience,
    ExitRule,
    Lateness,
    Plan,
    PlanStatus,
    Silence,
    Step,
    TouchRules,
    Trigger,
)
from chalicelib.domain.replies import DEFAULT_NEGATIVE, DEFAULT_POSITIVE, classify_reply
from chalicelib.domain.simulate import SimCustomer, SimEvent, SimTouch, cohort_from_json, simulate, to_json

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
RULES = TouchRules()


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def make_plan(*steps: Step, **kwargs: Any) -> Plan:
    return Plan(
        plan_id="pl_new",
        version=1,
        name="新客7天培育",
        status=PlanStatus.PUBLISHED,
        trigger=Trigger("channel", channel_id="ch_x"),
        steps=steps,
        **kwargs,
    )


def day(step_id: str, n: int, at: str, content_type: str = "interactive", **kwargs: Any) -> Step:
    return Step(id=step_id, content_type=content_type, message=Message("…"), day=n, at=at, **kwargs)


# The issue's example plan.
EXAMPLE = make_plan(
    Step(id="s1", content_type="service", message=Message("你好"), after_minutes=5, notes="破冰话术…"),
    day("s2", 1, "20:00", "marketing", lateness=Lateness(60, "next_slot")),
    audience=Audience(tags_none=("已报名",)),
    exits=(ExitRule("order", kind="trial"),),
    silence=Silence(7, "pl_silent"),
    reentry="never",
    priority=10,
)

# Three touches over a week with a short silence rule.
NURTURE = make_plan(
    day("d1", 1, "10:00"),
    day("d3", 3, "10:00"),
    day("d5", 5, "10:00"),
    silence=Silence(3, "pl_silent"),
)


def run(plan: Plan, *customers: SimCustomer, days: int = 7, zone: ZoneInfo = SH) -> list[dict[str, Any]]:
    return to_json(simulate(plan, RULES, zone, list(customers), days), zone)["touches"]


def brief(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["customer"], r["step_id"], r["due_at"], r["outcome"], r["reason"]) for r in rows]


def line(
    customer: str, step_id: str, planned: str, due: str, outcome: str, reason: str | None, **extra: Any
) -> dict[str, Any]:
    reasons = extra.pop("reasons", [reason] if reason else [])
    return {
        "customer": customer,
        "step_id": step_id,
        "planned_at": planned,
        "due_at": due,
        "outcome": outcome,
        "reason": reason,
        "reasons": reasons,
        "handoff": extra.pop("handoff", None),
    }


# --- the issue's example ----------------------------------------------------------------------------------------------


def test_issue_example_request() -> None:
    request: dict[str, Any] = {
        "days": 7,
        "cohort": [
            {
                "id": "c1",
                "joined_at": "2026-12-01T21:50:00+08:00",
                "events": [{"at": "2026-12-02T12:00:00+08:00", "type": "order", "kind": "trial"}],
            }
        ],
    }
    touches = simulate(EXAMPLE, RULES, SH, cohort_from_json(request["cohort"], SH), request["days"])
    assert to_json(touches, SH) == {
        "touches": [
            line("c1", "s1", "2026-12-01T21:55:00+08:00", "2026-12-01T21:55:00+08:00", "task", None),
            line("c1", "s2", "2026-12-02T20:00:00+08:00", "2026-12-02T20:00:00+08:00", "skipped", "exit"),
        ]
    }


def test_issue_example_without_events_runs_to_the_silence_hand_off() -> None:
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50)))
    assert rows == [
        line("c1", "s1", "2026-12-01T21:55:00+08:00", "2026-12-01T21:55:00+08:00", "task", None),
        line("c1", "s2", "2026-12-02T20:00:00+08:00", "2026-12-02T20:00:00+08:00", "task", None),
        line(
            "c1",
            "handoff",
            "2026-12-08T21:50:00+08:00",
            "2026-12-08T21:50:00+08:00",
            "skipped",
            "silence",
            handoff="pl_silent",
        ),
    ]


def test_joining_just_before_quiet_hours_moves_the_first_touch() -> None:
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 58)), days=1)
    assert rows[0] == line("c1", "s1", "2026-12-01T22:03:00+08:00", "2026-12-02T08:00:00+08:00", "task", "quiet_hours")


# --- exits ------------------------------------------------------------------------------------------------------------


def test_an_order_before_the_first_touch_skips_everything() -> None:
    order = SimEvent(sh(2026, 12, 1, 21, 52), "order", kind="trial")
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50), [order]))
    assert brief(rows) == [
        ("c1", "s1", "2026-12-01T21:55:00+08:00", "skipped", "exit"),
        ("c1", "s2", "2026-12-02T20:00:00+08:00", "skipped", "exit"),
    ]


def test_an_order_at_the_fire_instant_stops_it() -> None:
    order = SimEvent(sh(2026, 12, 2, 20, 0), "order", kind="trial")
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50), [order]))
    assert brief(rows)[-1] == ("c1", "s2", "2026-12-02T20:00:00+08:00", "skipped", "exit")


@pytest.mark.parametrize(
    ("rule_kind", "order_kind", "exits"),
    [("trial", "full", True), ("full", "trial", False), (None, "trial", True), ("full", "full", True)],
)
def test_order_kinds(rule_kind: str | None, order_kind: str, exits: bool) -> None:
    plan = make_plan(*EXAMPLE.steps, exits=(ExitRule("order", kind=rule_kind),))
    order = SimEvent(sh(2026, 12, 2, 12, 0), "order", kind=order_kind)
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 21, 50), [order]))
    assert rows[-1]["outcome"] == ("skipped" if exits else "task")


def test_an_order_before_the_join_does_not_count() -> None:
    order = SimEvent(sh(2026, 11, 30, 12, 0), "order", kind="trial")
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50), [order]), days=2)
    assert [r["outcome"] for r in rows] == ["task", "task"]


def test_a_negative_reply_exits() -> None:
    reply = SimEvent(sh(2026, 12, 2, 9, 0), "reply", text="别发了，谢谢")
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50), [reply]))
    assert brief(rows) == [
        ("c1", "s1", "2026-12-01T21:55:00+08:00", "task", None),
        ("c1", "s2", "2026-12-02T20:00:00+08:00", "skipped", "exit"),
    ]


def test_a_tag_exit_rule_and_the_audience_recheck() -> None:
    tagged = SimEvent(sh(2026, 12, 2, 12, 0), "tag", tag_id="已报名")
    customer = SimCustomer("c1", sh(2026, 12, 1, 21, 50), [tagged])
    assert brief(run(EXAMPLE, customer))[1] == ("c1", "s2", "2026-12-02T20:00:00+08:00", "skipped", "audience")
    with_exit = make_plan(*EXAMPLE.steps, audience=EXAMPLE.audience, exits=(ExitRule("tag", tag_id="已报名"),))
    assert brief(run(with_exit, customer))[1] == ("c1", "s2", "2026-12-02T20:00:00+08:00", "skipped", "exit")


def test_audience_checked_at_the_join_when_not_rechecked() -> None:
    plan = make_plan(*EXAMPLE.steps, audience=Audience(tags_all=("考研",), recheck_at_fire=False))
    rows = run(
        plan, SimCustomer("c1", sh(2026, 12, 1, 21, 50)), SimCustomer("c2", sh(2026, 12, 1, 21, 50), tags=("考研",))
    )
    assert {(r["customer"], r["outcome"], r["reason"]) for r in rows} == {
        ("c1", "skipped", "audience"),
        ("c2", "task", None),
    }


# --- replies and silence ----------------------------------------------------------------------------------------------


def test_a_positive_reply_makes_a_follow_up_task() -> None:
    reply = SimEvent(sh(2026, 12, 2, 9, 0), "reply", text="请问试听课多少钱？")
    rows = run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50), [reply]))
    assert rows == [
        line("c1", "s1", "2026-12-01T21:55:00+08:00", "2026-12-01T21:55:00+08:00", "task", None),
        line("c1", "followup", "2026-12-02T09:00:00+08:00", "2026-12-02T09:00:00+08:00", "task", "positive_reply"),
        line("c1", "s2", "2026-12-02T20:00:00+08:00", "2026-12-02T20:00:00+08:00", "task", None),
        # the reply reset the silence timer: 7 days from 12-02 09:00 is past the horizon, no hand-off
    ]


def test_silence_hands_off_and_skips_the_rest() -> None:
    rows = run(NURTURE, SimCustomer("c1", sh(2026, 12, 1, 9, 0)))
    assert rows == [
        line("c1", "d1", "2026-12-02T10:00:00+08:00", "2026-12-02T10:00:00+08:00", "task", None),
        line(
            "c1",
            "handoff",
            "2026-12-04T09:00:00+08:00",
            "2026-12-04T09:00:00+08:00",
            "skipped",
            "silence",
            handoff="pl_silent",
        ),
        line(
            "c1",
            "d3",
            "2026-12-04T10:00:00+08:00",
            "2026-12-04T10:00:00+08:00",
            "skipped",
            "silence",
            handoff="pl_silent",
        ),
        line(
            "c1",
            "d5",
            "2026-12-06T10:00:00+08:00",
            "2026-12-06T10:00:00+08:00",
            "skipped",
            "silence",
            handoff="pl_silent",
        ),
    ]


def test_any_reply_resets_the_silence_timer() -> None:
    reply = SimEvent(sh(2026, 12, 3, 12, 0), "reply", text="好的")  # neither positive nor negative
    rows = run(NURTURE, SimCustomer("c1", sh(2026, 12, 1, 9, 0), [reply]))
    assert brief(rows) == [
        ("c1", "d1", "2026-12-02T10:00:00+08:00", "task", None),
        ("c1", "d3", "2026-12-04T10:00:00+08:00", "task", None),
        ("c1", "d5", "2026-12-06T10:00:00+08:00", "task", None),
        ("c1", "handoff", "2026-12-06T12:00:00+08:00", "skipped", "silence"),
    ]


def test_an_exit_cancels_the_silence_timer() -> None:
    order = SimEvent(sh(2026, 12, 2, 12, 0), "order", kind="trial")
    plan = make_plan(*NURTURE.steps, exits=(ExitRule("order", kind="trial"),), silence=NURTURE.silence)
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 9, 0), [order]))
    assert [r["step_id"] for r in rows] == ["d1", "d3", "d5"]
    assert [r["reason"] for r in rows] == [None, "exit", "exit"]


# --- lateness at the join, caps ---------------------------------------------------------------------------------------


def test_day_zero_after_its_time_moves_to_tomorrows_slot() -> None:
    plan = make_plan(day("d0", 0, "20:00", "marketing", lateness=Lateness(60, "next_slot")))
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 21, 30)), days=2)
    assert rows == [line("c1", "d0", "2026-12-01T20:00:00+08:00", "2026-12-02T20:00:00+08:00", "task", "lateness")]


def test_day_zero_after_its_time_skips() -> None:
    plan = make_plan(day("d0", 0, "20:00", "marketing", lateness=Lateness(60, "skip")))
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 21, 30)), days=2)
    assert rows == [line("c1", "d0", "2026-12-01T20:00:00+08:00", "2026-12-01T21:30:00+08:00", "skipped", "lateness")]


def test_day_zero_within_lateness_goes_out_at_the_join() -> None:
    plan = make_plan(day("d0", 0, "20:00", "marketing", lateness=Lateness(60, "skip")))
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 20, 30)), days=2)
    assert brief(rows) == [("c1", "d0", "2026-12-01T20:30:00+08:00", "task", None)]


def test_the_daily_cap_defers_and_the_deferral_cascades() -> None:
    plan = make_plan(
        day("m1", 1, "19:00", "marketing"),
        day("m2", 1, "20:00", "marketing", on_cap="defer"),
        day("m3", 2, "20:00", "marketing", on_cap="defer"),
    )
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 10, 0)))
    assert rows == [
        line("c1", "m1", "2026-12-02T19:00:00+08:00", "2026-12-02T19:00:00+08:00", "task", None),
        line("c1", "m2", "2026-12-02T20:00:00+08:00", "2026-12-03T18:00:00+08:00", "task", "cap"),
        line("c1", "m3", "2026-12-03T20:00:00+08:00", "2026-12-04T18:00:00+08:00", "task", "cap"),
    ]


def test_the_daily_cap_drops() -> None:
    plan = make_plan(
        day("m1", 1, "19:00", "marketing"),
        day("m2", 1, "20:00", "marketing", on_cap="drop"),
        day("m3", 2, "20:00", "marketing"),
    )
    rows = run(plan, SimCustomer("c1", sh(2026, 12, 1, 10, 0)))
    assert brief(rows) == [
        ("c1", "m1", "2026-12-02T19:00:00+08:00", "task", None),
        ("c1", "m2", "2026-12-02T20:00:00+08:00", "dropped", "cap"),
        ("c1", "m3", "2026-12-03T20:00:00+08:00", "task", None),
    ]


def test_the_cap_is_per_customer() -> None:
    plan = make_plan(day("m1", 1, "19:00", "marketing"), day("m2", 1, "20:00", "marketing", on_cap="drop"))
    rows = run(plan, SimCustomer("a", sh(2026, 12, 1, 10, 0)), SimCustomer("b", sh(2026, 12, 1, 11, 0)))
    assert [(r["customer"], r["step_id"], r["outcome"]) for r in rows] == [
        ("a", "m1", "task"),
        ("b", "m1", "task"),
        ("a", "m2", "dropped"),
        ("b", "m2", "dropped"),
    ]


# --- horizon, zones, order, determinism -------------------------------------------------------------------------------


def test_only_touches_within_the_horizon() -> None:
    rows = run(NURTURE, SimCustomer("c1", sh(2026, 12, 1, 9, 0)), days=2)
    assert brief(rows) == [("c1", "d1", "2026-12-02T10:00:00+08:00", "task", None)]
    assert run(EXAMPLE, SimCustomer("c1", sh(2026, 12, 1, 21, 50)), days=0) == []


def test_times_carry_the_tenant_offset_across_dst() -> None:
    plan = make_plan(day("a", 0, "09:00", "service"), day("b", 1, "09:00", "service"))
    joined = datetime(2026, 3, 7, 13, 0, tzinfo=UTC)  # 08:00 EST
    rows = run(plan, SimCustomer("c1", joined), days=2, zone=NY)
    assert [r["due_at"] for r in rows] == ["2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00"]


def test_results_are_sorted_by_due_time_then_customer() -> None:
    rows = run(
        EXAMPLE,
        SimCustomer("c2", sh(2026, 12, 1, 21, 50)),
        SimCustomer("c1", sh(2026, 12, 1, 21, 50)),
        SimCustomer("c0", sh(2026, 12, 1, 21, 55)),
        days=1,
    )
    assert [(r["customer"], r["step_id"]) for r in rows] == [
        ("c1", "s1"),
        ("c2", "s1"),
        ("c0", "s1"),
        ("c0", "s2"),
        ("c1", "s2"),
        ("c2", "s2"),
    ]


def test_deterministic() -> None:
    cohort = [
        SimCustomer(
            f"c{i}",
            sh(2026, 12, 1, 8 + i, 7 * i % 60),
            [
                SimEvent(sh(2026, 12, 2 + i % 3, 12, 0), "reply", text=["多少钱", "好的", "退订"][i % 3]),
                SimEvent(sh(2026, 12, 4, 9, 0), "order", kind="trial" if i % 4 == 0 else "full"),
            ],
        )
        for i in range(12)
    ]
    first = simulate(EXAMPLE, RULES, SH, cohort, 7)
    shuffled = cohort[:]
    random.Random(7).shuffle(shuffled)
    assert simulate(EXAMPLE, RULES, SH, shuffled, 7) == first
    assert simulate(EXAMPLE, RULES, SH, cohort, 7) == first
    assert len(first) > len(cohort)


def test_cohort_from_json_reads_times_without_offset_in_the_tenant_zone() -> None:
    [customer] = cohort_from_json(
        [
            {
                "id": "c1",
                "joined_at": "2026-12-01T21:50:00",
                "events": [{"at": "2026-12-02", "type": "reply", "text": "hi"}],
            }
        ],
        SH,
    )
    assert customer.joined_at == sh(2026, 12, 1, 21, 50)
    assert customer.events[0].at == sh(2026, 12, 2, 0, 0)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="days"):
        simulate(EXAMPLE, RULES, SH, [], -1)
    with pytest.raises(ValueError, match="offset"):
        simulate(EXAMPLE, RULES, SH, [SimCustomer("c1", datetime(2026, 12, 1, 21, 50))], 7)
    with pytest.raises(ValueError, match="event type"):
        simulate(EXAMPLE, RULES, SH, [SimCustomer("c1", sh(2026, 12, 1), [SimEvent(sh(2026, 12, 2), "visit")])], 7)


def test_simtouch_is_plain_data() -> None:
    touch = SimTouch("c1", "s1", sh(2026, 12, 1), sh(2026, 12, 1), "task")
    assert touch.reason is None and touch.reasons == () and touch.handoff is None


# --- classify_reply ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请问多少钱？", "positive"),
        ("我想报名", "positive"),
        ("可以试听吗", "positive"),
        ("这个课怎么买", "positive"),
        ("退订", "negative"),
        ("不需要了", "negative"),
        ("别发了！", "negative"),
        ("不需要报名", "negative"),  # both match: a no wins
        ("好的，谢谢老师", None),
        ("", None),
        ("   ", None),
    ],
)
def test_classify_reply_defaults(text: str, expected: str | None) -> None:
    assert classify_reply(text) == expected


def test_classify_reply_tenant_keywords() -> None:
    assert classify_reply("How much is it?", positive=["how much"], negative=["STOP"]) == "positive"
    assert classify_reply("please stop", positive=["how much"], negative=["STOP"]) == "negative"
    assert classify_reply("多少钱", positive=[], negative=[]) is None
    assert classify_reply("多少钱", positive=["", "多少钱"], negative=[""]) == "positive"  # empty keywords ignored
    assert DEFAULT_POSITIVE == ("多少钱", "报名", "试听", "怎么买")
    assert DEFAULT_NEGATIVE == ("退订", "不需要", "别发了")
