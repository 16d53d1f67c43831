"""The invariant issue 9 states, measured against WeCom's side: every planned touch is in exactly one WeCom task, or
``failed`` with a reason; no customer is in two WeCom tasks for one touch.

WeCom's stored mass-message tasks (the sandbox world's) are the truth about what reached a customer; Siyu's touch
states only decide whether a touch that is in no WeCom task was honestly reported ``failed``. A touch is identified
by (customer, step): a WeCom task carries it when the customer's external_userid is a recipient and its text is the
step's text (each step of a drill or matrix plan has its own text). Used by ``make drill`` (devstack.drill) and the
fault matrix (tests/functional/test_fault_matrix_sop.py).

    planned      customers x steps (given: who was enrolled and which steps the plan has)
    in_one_task  in exactly one WeCom task, and Siyu does not call it failed
    failed       in no WeCom task, and Siyu's touch is ``failed`` with a reason
    doubled      in two or more WeCom tasks (the customer got the step twice)
    misreported  in exactly one WeCom task, but Siyu says ``failed`` (an operator would resend it by hand)
    lost         the rest: in no WeCom task and not reported failed (Siyu may even say ``sent``)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.sop import FAILED, Touch

HEADER = ("run", "kill point", "planned", "in one task", "failed", "doubled", "lost", "misreported", "recovery")
WIDTHS = (4, 44, 8, 12, 7, 8, 5, 12, 10)


@dataclass(frozen=True)
class WeComTask:
    """One mass-message task as WeCom stores it."""

    msgid: str
    sender: str
    text: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Planned:
    """A customer the plan should reach: Siyu's customer id and WeCom's external_userid."""

    customer_id: str
    external_userid: str


@dataclass
class CheckResult:
    planned: int = 0
    in_one_task: int = 0
    failed: int = 0
    doubled: int = 0
    lost: int = 0
    misreported: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)
    lost_examples: list[str] = field(default_factory=list)  # "customer_id/step (siyu state)", at most 5
    doubled_examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The issue's promise: nothing lost, nothing doubled, nothing reported failed that WeCom has."""
        return self.lost == 0 and self.doubled == 0 and self.misreported == 0

    @property
    def accounted(self) -> bool:
        """planned = in exactly one task + failed (the invariant as the issue writes it)."""
        return self.planned == self.in_one_task + self.failed

    def row(self, run: str, kill_point: str, recovery: str) -> str:
        cells = (run, kill_point, self.planned, self.in_one_task, self.failed, self.doubled, self.lost)
        return _cells((*cells, self.misreported, recovery))

    def summary(self) -> str:
        """One line for an assertion message: the counts and a few examples."""
        parts = [
            f"planned={self.planned} in_one_task={self.in_one_task} failed={self.failed} doubled={self.doubled} "
            f"lost={self.lost} misreported={self.misreported}"
        ]
        if self.failed_reasons:
            parts.append(f"failed reasons {self.failed_reasons}")
        if self.lost_examples:
            parts.append(f"lost e.g. {self.lost_examples}")
        if self.doubled_examples:
            parts.append(f"doubled e.g. {self.doubled_examples}")
        return "; ".join(parts)


def header() -> str:
    return _cells(HEADER)


def _cells(values: Iterable[object]) -> str:
    return " | ".join(str(v).ljust(w) for v, w in zip(values, WIDTHS, strict=True)).rstrip()


def check(
    planned: Iterable[Planned],
    steps: Mapping[str, str],
    touches: Iterable[Touch],
    wecom_tasks: Iterable[WeComTask],
) -> CheckResult:
    """Classify every (customer, step) of ``planned`` x ``steps`` (step id -> message text).

    ``touches``: Siyu's touches of the plan in any state (every occurrence; a moved touch has several), for the
    ``failed`` verdicts only. ``wecom_tasks``: every mass-message task of the tenant's corp."""
    by_text: Counter[tuple[str, str]] = Counter()
    for task in wecom_tasks:
        for ext in set(task.recipients):
            by_text[(task.text, ext)] += 1
    states: dict[tuple[str, str], list[Touch]] = {}
    for touch in touches:
        states.setdefault((touch.subject.id, touch.step_id), []).append(touch)
    result = CheckResult()
    for customer in planned:
        for step_id, text in steps.items():
            result.planned += 1
            in_wecom = by_text[(text, customer.external_userid)]
            mine = states.get((customer.customer_id, step_id), [])
            failed = [t for t in mine if t.state == FAILED and t.reason]
            label = f"{customer.customer_id}/{step_id} ({','.join(sorted({t.state for t in mine})) or 'no touch'})"
            if in_wecom >= 2:
                result.doubled += 1
                _example(result.doubled_examples, label)
            elif in_wecom == 1:
                if failed:
                    result.misreported += 1
                else:
                    result.in_one_task += 1
            elif failed:
                result.failed += 1
                reason = str(failed[-1].reason)
                result.failed_reasons[reason] = result.failed_reasons.get(reason, 0) + 1
            else:
                result.lost += 1
                _example(result.lost_examples, label)
    return result


def _example(examples: list[str], label: str) -> None:
    if len(examples) < 5:
        examples.append(label)


# --- reading the two sides --------------------------------------------------------------------------------------


class TouchStore(Protocol):
    """What the checker reads of Siyu's store (the DynamoDB store and the fake both have it)."""

    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Any]: ...

    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = ...) -> list[Touch]: ...


def plan_touches(store: TouchStore, tenant_id: str, plan_id: str, version: int = 1) -> list[Touch]:
    """Every touch of one plan version, in every state, from its buckets (implied ones included, as scheduled)."""
    out: list[Touch] = []
    for bucket in store.plan_buckets(tenant_id, plan_id, version, from_minute="0"):
        out.extend(store.touches_in(tenant_id, bucket.bucket_id, state=None))
    return out


def world_tasks(world: Any, corp_id: str) -> list[WeComTask]:
    """The mass-message tasks a WeComWorld (devstack.wecom_world) holds for ``corp_id``."""
    with world.lock:
        corp = world.corps.get(corp_id)
        tasks = list(corp.tasks.values()) if corp is not None else []
        return [WeComTask(t.msgid, t.sender, t.text, tuple(r.external_userid for r in t.recipients)) for t in tasks]
