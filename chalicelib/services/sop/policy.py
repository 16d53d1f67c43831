"""The subject policy port: what the SOP kernel asks of a subject kind (customer today, group chat next).

The kernel (kernel.py) owns what is the same for every subject — buckets and their schedule, the conditional
``scheduled → sent | skipped | dropped | failed`` transitions, the fire loop, reconciliation, the backstop. A policy
supplies the rest: it loads a page of subjects with their enrollments, judges one touch for one subject (taking the
subject's quota as its last check), names the staff member who sends, and delivers one staff task through WeCom's
``add_msg_template`` with its ``chat_type`` and recipient limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.domain import fate
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Plan, Step, TouchRules
from chalicelib.domain.sop import ACTIVE, Bucket, Enrollment, Subject, Touch
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import MsgTemplateResult

State = TypeVar("State")

SEND = "send"  # goes into its executor's staff task
SKIP = "skip"  # closed as skipped (``advance``: the enrollment moves on; ``exit``: the enrollment exits)
DROP = "drop"  # closed as dropped (a cap or quota refused it; the enrollment moves on)
MOVE = "move"  # closed as skipped "moved:…", and the next occurrence scheduled ``at``
WAIT = "wait"  # fired early: left scheduled, the bucket stays open for the backstop


@dataclass(frozen=True)
class Verdict:
    """One touch's fate at this fire."""

    action: str
    reason: str | None = None
    at: datetime | None = None  # MOVE: the new due time
    advance: bool = False  # SKIP: schedule the enrollment's next step (or complete it)
    exit: bool = False  # SKIP: end the enrollment as exited, with ``reason``


@dataclass
class FireContext:
    """What a fire knows before it judges its first touch: the bucket, its plan version and step (None when the
    plan or step is gone: every touch is then skipped), the time, the tenant's rules, the number of touches it judges,
    and per-fire caches a policy fills once (``lock`` guards them: a shard judges concurrently)."""

    tenant: Tenant
    bucket: Bucket
    plan: Plan | None
    step: Step | None
    now: datetime
    rules: TouchRules
    size: int = 0
    plans: dict[tuple[str, int], Plan | None] = field(default_factory=dict)
    peaks: dict[str, int] | None = None  # fate.priority_peaks of the other published plans, once read
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class SubjectPage(Generic[State]):
    """A page of subjects as the fire reads them: each one's state (absent: erased) and enrollment in the plan."""

    states: dict[Subject, State]
    enrollments: dict[Subject, Enrollment]


class SubjectPolicy(Protocol[State]):
    """What differs between subject kinds. ``State`` is what the policy knows of one subject (a ``Customer``)."""

    kind: str  # Subject.kind this policy serves
    chat_type: str  # add_msg_template chat_type: "single" (customers) or "group" (group chats)
    recipient_limit: int  # at most this many recipients per add_msg_template call

    def load(self, tenant_id: str, plan_id: str, subjects: list[Subject]) -> SubjectPage[State]:
        """The subjects' states and their enrollments in ``plan_id``, read together (a page at a time)."""
        ...

    def judge(self, ctx: FireContext, touch: Touch, state: State | None, enrollment: Enrollment | None) -> Verdict:
        """The touch's fate now: re-validation, timing, caps and priority, then the subject's quota (taken here
        when the touch is to be sent — the one write that records it). The single decision per touch."""
        ...

    def take_quota(self, ctx: FireContext, touch: Touch, state: State) -> str | None:
        """Count a touch about to be sent against the subject's quota: the refusal's reason, or None (counted).
        Called by ``judge`` (never by the kernel), as the last check before SEND."""
        ...

    def executor(self, step: Step, state: State) -> str:
        """The staff member (WeCom userid) who sends this subject's touch of ``step``."""
        ...

    def address(self, state: State) -> str:
        """How WeCom names this subject in a task's recipients (external_userid, chat_id): what reconciliation
        compares a WeCom task's recipients with."""
        ...

    def deliver(self, tenant: Tenant, *, sender: str, recipients: list[State], message: Message) -> MsgTemplateResult:
        """One ``add_msg_template`` call for these recipients (at most ``recipient_limit``); raises SiyuError."""
        ...


Policies = dict[str, SubjectPolicy[Any]]


def verdict_of(decided: fate.Fate, touch: Touch, enrollment: Enrollment | None) -> Verdict:
    """The kernel's verdict for a fate that is not a send (every policy judges by ``fate.decide``)."""
    if decided.outcome == fate.SKIP:
        if decided.halts:
            exits = decided.exits and enrollment is not None and enrollment.status == ACTIVE
            return Verdict(SKIP, decided.reason, exit=exits)
        return Verdict(SKIP, decided.reason, advance=True)  # late: this step is skipped, the next one is queued
    if decided.outcome == fate.DROP:
        return Verdict(DROP, decided.reason)
    if decided.waits(datetime.fromisoformat(touch.due_at)):
        return Verdict(WAIT)  # fired early: the touch stays, the backstop fires the bucket when due
    return Verdict(MOVE, decided.touch_reason, at=decided.due)
