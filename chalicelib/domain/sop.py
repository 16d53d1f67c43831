"""The SOP engine's runtime records — enrollments, touches, buckets, staff tasks — and the pure decisions about them.

A touch is one step occurrence of one enrollment. Touches due in the same minute for the same tenant, plan version
and step share a *bucket*: one Scheduler schedule, one fire, one staff task per executor.

Enrollments, touches and staff-task recipients belong to a *subject* ``(kind, id)``: a customer today, a group chat
next. The SOP kernel (services/sop/kernel.py) knows subjects only; a subject policy knows what a kind means.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.plans import Audience, Plan, PlanStatus, Step

ACTIVE = "active"
COMPLETED = "completed"
EXITED = "exited"

SCHEDULED = "scheduled"
FIRING = "firing"
SENT = "sent"
SKIPPED = "skipped"
DROPPED = "dropped"
FAILED = "failed"
RETRYING = "retrying"  # a staff task that met a transient WeCom error, tried again by the backstop

MAX_RECIPIENTS_PER_TASK = 10_000  # WeCom add_msg_template: external_userid ≤ 10,000 per call (chat_type single)
MAX_CHATS_PER_TASK = 2_000  # WeCom add_msg_template: chat_id_list ≤ 2,000 per call (chat_type group)

CUSTOMER = "customer"  # the subject kind of a customer (external contact): chat_type "single"
GROUP = "group"  # the subject kind of a customer group chat: chat_type "group" (next)

# A synced task's per-customer outcome, one character per customer: WeCom's get_groupmsg_send_result status
# (0 not sent, 1 sent, 2 not a friend, 3 receive limit hit), "-" when WeCom does not list the customer (dropped by
# add_msg_template's fail_list, or no longer mappable).
OUTCOME_CODES = {"0": "not_sent", "1": "sent", "2": "not_friend", "3": "limit_hit", "-": "unreachable"}


@dataclass(frozen=True, order=True)
class Subject:
    """Who an enrollment and its touches are about: ``(kind, id)``."""

    kind: str
    id: str

    @classmethod
    def customer(cls, customer_id: str) -> Subject:
        return cls(CUSTOMER, customer_id)

    @classmethod
    def group(cls, chat_id: str) -> Subject:
        return cls(GROUP, chat_id)

    @property
    def key(self) -> str:
        """``<kind>#<id>``: what touch keys start with (a subject's touches in a bucket share this prefix)."""
        return f"{self.kind}#{self.id}"

    def customer_id(self) -> str:
        """The customer this subject is (customer-side code only: any other kind is a programming error)."""
        if self.kind != CUSTOMER:
            raise ValueError(f"a {self.kind} subject is not a customer")
        return self.id


@dataclass(frozen=True)
class Enrollment:
    subject: Subject
    plan_id: str
    version: int
    enrollment_id: str
    enrolled_at: str  # ISO-8601 with the tenant's offset
    status: str = ACTIVE
    exit_reason: str | None = None
    ended_at: str | None = None
    source: str = "manual"  # channel | tag | stage | manual | bulk | silence
    runs: int = 1
    # A group's enrollment counts its calendar steps from this local date (YYYY-MM-DD: the cohort's day 0), not
    # from when it was enrolled; None for a customer's.
    day0: str | None = None

    @property
    def customer_id(self) -> str:
        """The enrolled customer (customer-side code: lifecycle, timeline, listings)."""
        return self.subject.customer_id()


@dataclass(frozen=True)
class Touch:
    """One step occurrence of one enrollment, waiting in its bucket.

    A touch closed as sent names the enrollment's next touch (``next_bucket``, ``next_due``) in the same write: that
    next touch exists from then on, implied, and is written in its own bucket only when that bucket fires. Queuing
    the next step thus costs no write of its own (docs/data-model.md, "Implied touches")."""

    bucket_id: str
    subject: Subject
    enrollment_id: str
    step_id: str
    occurrence: int
    due_at: str
    state: str = SCHEDULED
    task_id: str | None = None
    reason: str | None = None
    next_bucket: str | None = None
    next_due: str | None = None
    # Executor hints (issue 8 §7): who will likely send this touch, and the next one, as known when each was queued.
    # They only partition a large fire into shards; the fire still asks the policy for the real executor.
    executor: str | None = None
    next_executor: str | None = None

    def implied_next(self, step_id: str) -> Touch:
        """The next touch this sent touch implies (first occurrence of ``step_id`` in ``next_bucket``)."""
        assert self.next_bucket is not None and self.next_due is not None
        return Touch(
            bucket_id=self.next_bucket,
            subject=self.subject,
            enrollment_id=self.enrollment_id,
            step_id=step_id,
            occurrence=0,
            due_at=self.next_due,
            executor=self.next_executor,
        )

    @property
    def occurrence_key(self) -> str:
        """``<enrollment>#<step>#<occurrence>``: the touch within its subject (timeline entries use it)."""
        return f"{self.enrollment_id}#{self.step_id}#{self.occurrence}"

    @property
    def key(self) -> str:
        """``<kind>#<id>#<enrollment>#<step>#<occurrence>``: unique in its bucket, grouped by subject."""
        return f"{self.subject.key}#{self.occurrence_key}"

    @property
    def customer_id(self) -> str:
        return self.subject.customer_id()


@dataclass(frozen=True)
class Bucket:
    tenant_id: str
    plan_id: str
    version: int
    step_id: str
    minute: str  # UTC "YYYYMMDDHHMM"
    kind: str = CUSTOMER  # the subject kind of its touches (a plan has one): which policy fires it

    @property
    def bucket_id(self) -> str:
        return f"{self.plan_id}.{self.version}.{self.step_id}.{self.minute}"

    @property
    def schedule_name(self) -> str:
        """Deterministic, ≤ 64 chars of [0-9a-zA-Z-_.] as Scheduler requires, whatever the ids contain."""
        digest = hashlib.sha256(f"{self.tenant_id}|{self.bucket_id}".encode()).hexdigest()[:40]
        return f"siyu-b-{digest}"


@dataclass(frozen=True)
class StaffTask:
    """A confirm-to-send task (WeCom add_msg_template) or a 1:1 follow-up, for one staff member."""

    task_id: str
    userid: str
    kind: str  # mass | follow_up | escalation | welcome
    status: str  # claimed | retrying | created | sent | confirmed | snoozed | done | failed | empty
    due_at: str
    created_at: str
    recipients: tuple[str, ...] = ()  # subject ids of ``recipient_kind`` (customer ids, by default)
    text: str = ""
    notes: str = ""
    plan_id: str | None = None
    step_id: str | None = None
    bucket_id: str | None = None
    msgid: str | None = None
    proof_url: str | None = None
    snoozed_until: str | None = None
    reason: str | None = None
    results: dict[str, int] = field(default_factory=dict)
    # Synced from WeCom (chalicelib/services/task_sync.py): when the staff member sent it, and each customer's
    # outcome as one character per recipients entry (see OUTCOME_CODES): 10,000 customers stay ~10 KB.
    sent_at: str | None = None
    outcomes: str = ""
    # Escalation of an overdue task to the staff member's lead: once (escalated_at); escalated_to is None when no
    # lead task could be made (no lead, lead inactive). A lead's escalation task points back with parent_task_id.
    escalated_to: str | None = None
    escalated_at: str | None = None
    parent_task_id: str | None = None
    recipient_kind: str = CUSTOMER  # the subject kind of ``recipients``
    # A task that met a transient WeCom error is ``retrying`` (issue 9 §1): ``attempts`` so far, the next one at
    # ``retry_at``, none after ``deadline`` (then ``failed``, its touches too). ISO instants in the tenant's zone.
    attempts: int = 0
    retry_at: str | None = None
    deadline: str | None = None

    @property
    def customer_ids(self) -> tuple[str, ...]:
        """The recipients when they are customers (none for another kind): what the API shows as customer_ids."""
        return self.recipients if self.recipient_kind == CUSTOMER else ()

    def outcome_map(self) -> dict[str, str]:
        """customer_id → sent | not_sent | not_friend | limit_hit | unreachable (empty until synced)."""
        if not self.outcomes:
            return {}
        pairs = zip(self.recipients, self.outcomes, strict=False)
        return {cid: OUTCOME_CODES.get(code, "unreachable") for cid, code in pairs}

    def without(self, customer_id: str) -> StaffTask:
        """The task with the customer gone from its recipients and their outcome gone with them (erasure)."""
        rest = tuple(c for c in self.customer_ids if c != customer_id)
        return replace(self, recipients=rest, outcomes=drop_outcome(self.customer_ids, self.outcomes, customer_id))

    def public(self) -> dict[str, object]:
        return {
            "task_id": self.task_id,
            "userid": self.userid,
            "kind": self.kind,
            "status": self.status,
            "due_at": self.due_at,
            "created_at": self.created_at,
            "customer_ids": list(self.customer_ids),
            "text": self.text,
            "notes": self.notes,
            "plan_id": self.plan_id,
            "step_id": self.step_id,
            "bucket_id": self.bucket_id,
            "msgid": self.msgid,
            "proof_url": self.proof_url,
            "snoozed_until": self.snoozed_until,
            "reason": self.reason,
            "results": dict(self.results),
            "sent_at": self.sent_at,
            "outcomes": self.outcome_map(),
            "escalated_to": self.escalated_to,
            "escalated_at": self.escalated_at,
            "parent_task_id": self.parent_task_id,
            # A group plan's task names its groups (its customers' tasks look as they always have).
            **({"recipient_kind": GROUP, "chat_ids": list(self.recipients)} if self.recipient_kind == GROUP else {}),
        }

    def created(self) -> datetime | None:
        """When the task was made (its ISO time with offset), or None if unreadable: the start of the latencies the
        metrics count (confirmed, sent)."""
        try:
            return datetime.fromisoformat(self.created_at)
        except ValueError:
            return None


def audience_matches(audience: Audience, customer: Customer) -> bool:
    """An audience of stage ``new`` also takes ``nurturing`` customers: enrolling is what made them nurturing, so a
    plan's own enrollments still match at fire time and a customer a channel plan enrolled stays a new lead."""
    tags = customer.tags
    if audience.tags_all and not set(audience.tags_all) <= tags:
        return False
    if audience.tags_any and not set(audience.tags_any) & tags:
        return False
    if set(audience.tags_none) & tags:
        return False
    stage = customer.stage
    if stage == Stage.NURTURING and Stage.NEW.value in audience.stages:
        stage = Stage.NEW
    if audience.stages and stage.value not in audience.stages:
        return False
    return not (audience.channels and customer.source_channel_id not in audience.channels)


ORDER_STAGES = {"trial": Stage.TRIAL, "full": Stage.CONVERTED}  # the stage an order of each kind leads to


def order_meets_exit(rule_kind: str | None, order_kind: str | None) -> bool:
    """Whether an order of ``order_kind`` meets an order exit rule of ``rule_kind``: a trial exit is met by a trial
    or a full order (a full buyer is past the trial), a full exit by a full one, a rule without a kind by any. The
    one definition the engine (at the order and at fire time), enrollment and the simulator all use."""
    if rule_kind is None:
        return True
    if rule_kind == "trial":
        return order_kind in ("trial", "full")
    return order_kind == rule_kind


def exit_reason(plan: Plan, customer: Customer) -> str | None:
    """The exit rule the customer's current state meets, if any (orders show as trial/converted stages)."""
    for rule in plan.exits:
        if rule.type == "order":
            reached = {stage for kind, stage in ORDER_STAGES.items() if order_meets_exit(rule.kind, kind)}
            if customer.stage in reached:
                return f"exit:order:{rule.kind or 'any'}"
        elif rule.type == "stage" and rule.stage and customer.stage.value == rule.stage:
            return f"exit:stage:{rule.stage}"
        elif rule.type == "tag" and rule.tag_id and rule.tag_id in customer.tags:
            return f"exit:tag:{rule.tag_id}"
    return None


def revalidate(
    *, plan: Plan | None, enrollment: Enrollment | None, customer: Customer | None, touch: Touch, step: Step | None
) -> str | None:
    """Why a due touch must not go out now (None: it may). Decided with the state as it is at fire time."""
    if customer is None:
        return "customer_erased"
    if enrollment is None or enrollment.enrollment_id != touch.enrollment_id:
        return "enrollment_ended"
    # A run completes when its last step goes out, even while an earlier step's deferred occurrence (a cap, a quiet
    # hour, a window: occurrence > 0) is still queued; that touch is still owed. An exit ends everything.
    if enrollment.status != ACTIVE and not (enrollment.status == COMPLETED and touch.occurrence > 0):
        return "enrollment_ended"
    if plan is None or step is None:
        return "plan_changed"
    if plan.status == PlanStatus.PAUSED:
        return "plan_paused"
    if plan.status == PlanStatus.ARCHIVED:
        return "plan_archived"
    if customer.stage == Stage.LOST or not customer.active_relations:
        return "customer_lost"
    reason = exit_reason(plan, customer)
    if reason:
        return reason
    if customer.suppress_marketing and step.content_type == "marketing":
        return "suppressed"
    if plan.audience.recheck_at_fire and not audience_matches(plan.audience, customer):
        return "audience"
    return None


def next_step(plan: Plan, step_id: str) -> Step | None:
    ids = [s.id for s in plan.steps]
    i = ids.index(step_id) if step_id in ids else -1
    return plan.steps[i + 1] if 0 <= i < len(ids) - 1 else None


def executor_of(step: Step, customer: Customer) -> str:
    return customer.owner_userid if step.executor in ("", "owner") else step.executor


def chunks(items: list[str], size: int = MAX_RECIPIENTS_PER_TASK) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def drop_outcome(customer_ids: Sequence[str], outcomes: str, customer_id: str) -> str:
    """``outcomes`` without the characters at the customer's positions in ``customer_ids``: the others keep theirs
    (an unsynced task's empty outcomes stay empty)."""
    return "".join(code for cid, code in zip(customer_ids, outcomes, strict=False) if cid != customer_id)
