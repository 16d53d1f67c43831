"""devstack.drill_check: each (customer, step) classified from WeCom's tasks first, Siyu's touch states second."""

from __future__ import annotations

from chalicelib.domain.sop import FAILED, SENT, Subject, Touch
from devstack.drill_check import Planned, WeComTask, check, header

STEPS = {"s1": "你好", "s2": "试听课"}
A, B, C, D = (Planned(f"c{n}aaaa", f"wm{n}") for n in "abcd")


def _touch(customer: Planned, step: str, state: str, reason: str | None = None) -> Touch:
    subject = Subject.customer(customer.customer_id)
    return Touch("b", subject, "e1", step, 0, "2026-12-01T10:00:00+08:00", state=state, reason=reason)


def test_in_one_task_failed_doubled_lost_and_misreported() -> None:
    tasks = [
        WeComTask("m1", "zhang", "你好", ("wma", "wmb", "wmc")),
        WeComTask("m2", "zhang", "你好", ("wmb",)),  # b got s1 twice
        WeComTask("m3", "li", "试听课", ("wma", "wmd")),
    ]
    touches = [
        _touch(C, "s2", FAILED, "45009"),  # honestly failed: in no WeCom task
        _touch(B, "s2", SENT),  # Siyu says sent, WeCom has nothing: lost
        _touch(D, "s2", FAILED, "45009"),  # Siyu says failed, but WeCom has it
        _touch(D, "s1", FAILED, None),  # failed without a reason does not count as failed
    ]
    result = check([A, B, C, D], STEPS, touches, tasks)
    assert (result.planned, result.in_one_task, result.doubled, result.failed) == (8, 3, 1, 1)
    assert (result.lost, result.misreported) == (2, 1)  # b/s2, d/s1
    assert result.failed_reasons == {"45009": 1}
    assert result.lost_examples == ["cbaaaa/s2 (sent)", "cdaaaa/s1 (failed)"]
    assert result.doubled_examples == ["cbaaaa/s1 (no touch)"]
    assert not result.ok and not result.accounted


def test_a_clean_run_is_ok_and_accounted() -> None:
    tasks = [WeComTask("m1", "zhang", "你好", ("wma",)), WeComTask("m2", "zhang", "试听课", ("wma", "wma"))]
    result = check([A], STEPS, [], tasks)
    assert result.ok and result.accounted and result.in_one_task == 2  # a repeated recipient in one task is one
    row = result.row("1", "after claim", "12 s")
    assert row.split(" | ")[2:7] == ["2       ", "2           ", "0      ", "0       ", "0    "]
    assert header().startswith("run  | kill point")
