"""The simulator shows a plan's holdout (issue 11 §2): the cohort's customers the engine would hold out (by tenant,
plan and customer id) come out "skipped" with reason "holdout" on every step, take nothing of the cap, and their
orders still end their run."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from chalicelib.domain.metrics.holdout import in_holdout
from chalicelib.domain.plans import ExitRule, Plan
from chalicelib.domain.simulate import SimCustomer, SimEvent, simulate, to_json
from tests.unit.test_simulate import RULES, day, make_plan, sh

SH = ZoneInfo("Asia/Shanghai")
PLAN = make_plan(
    day("d1", 1, "10:00"),
    day("d2", 1, "19:00", "marketing"),
    day("d3", 2, "19:00", "marketing"),
    exits=(ExitRule("order", kind="trial"),),
    holdout_percent=30,
)
IDS = [f"c{i}" for i in range(20)]
HELD = [c for c in IDS if in_holdout("demo", "pl_new", c, 30)]


def run(plan: Plan | None, *customers: SimCustomer, tenant_id: str = "demo") -> list[tuple[str, str, str, str | None]]:
    touches = simulate(plan or PLAN, RULES, SH, list(customers), 3, tenant_id=tenant_id)
    return [(t["customer"], t["step_id"], t["outcome"], t["reason"]) for t in to_json(touches, SH)["touches"]]


def test_held_out_customers_show_every_step_skipped_holdout_and_the_others_are_sent() -> None:
    assert 2 <= len(HELD) <= 10  # about 30% of 20
    joined = sh(2026, 12, 1, 9)
    rows = run(None, *(SimCustomer(c, joined) for c in IDS))
    for customer, step_id, outcome, reason in rows:
        expected = ("skipped", "holdout") if customer in HELD else ("task", None)
        assert (outcome, reason) == expected, (customer, step_id)
    assert len(rows) == 3 * len(IDS)


def test_the_preview_holds_out_whom_the_tenants_engine_would() -> None:
    joined = sh(2026, 12, 1, 9)
    here = {c for c, _, _, r in run(None, *(SimCustomer(c, joined) for c in IDS)) if r == "holdout"}
    elsewhere = {
        c for c, _, _, r in run(None, *(SimCustomer(c, joined) for c in IDS), tenant_id="other") if r == "holdout"
    }
    assert here == set(HELD) and elsewhere == {c for c in IDS if in_holdout("other", "pl_new", c, 30)}
    assert here != elsewhere


def test_a_held_out_buyer_still_exits_and_no_holdout_means_everyone_is_touched() -> None:
    held = HELD[0]
    buys = SimCustomer(held, sh(2026, 12, 1, 9), [SimEvent(sh(2026, 12, 2, 12), "order", kind="trial")])
    assert run(None, buys) == [
        (held, "d1", "skipped", "holdout"),
        (held, "d2", "skipped", "exit"),  # the order at 12:00 ends the run before the 19:00 step
        (held, "d3", "skipped", "exit"),
    ]
    assert {o for _, _, o, _ in run(replace(PLAN, holdout_percent=0), SimCustomer(held, sh(2026, 12, 1, 9)))} == {
        "task"
    }
