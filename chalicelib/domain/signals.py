"""Domain signals: what happened to a subject, told to whoever listens (services/signals.py carries them).

A publisher says what happened and never who cares: the lifecycle's silence timers, the plan triggers, the SOP
kernel's exit rules, and the metrics next, each subscribe to the types they act on. Signals are in-process and
synchronous, so a signal is heard by the same invocation that caused it, after the write that made it true.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# What a customer did (the silence timers count these as activity; see domain/silence.ACTIVITY_SIGNALS).
ORDER = "order"
REPLY = "reply"
CHECKIN = "checkin"
SHARE = "share"
CUSTOM = "custom"
# What happened to a customer.
ADDED = "added"  # a staff member added them through a channel (kind: new | readd)
MERGED = "merged"  # an add matched an existing customer (kind: what matched: unionid | phone; ref: the add's digest)
LOST = "lost"  # they deleted the staff member, or the staff member deleted them (kind: lost | ended)
TAG = "tag"  # tags were added (tag_ids)
STAGE = "stage"  # their lifecycle stage changed (stage)
# What the SOP kernel did.
ENROLLED = "enrolled"  # enrollment and plan: the version it is pinned to; holdout: the customer is held out
REPINNED = "repinned"  # a migration pinned the enrollment to plan (the new version)
EXITED = "exited"  # plan_id, kind: the exit reason
TOUCH_SENT = "touch_sent"  # plan_id, kind: the step id
TOUCH_SKIPPED = "touch_skipped"  # plan_id, kind: the reason
TASK_CONFIRMED = "task_confirmed"  # kind: the task id
# One fire of a bucket (or of a shard of it) handed ``count`` touches to staff tasks WeCom holds; the subject is the
# bucket, ref the fire's own id. The metrics count delivered touches once per fire, not per touch or per task: one
# fact for a bucket of 10,000 touches, which keeps the fire within its write budget.
TOUCHES_DELIVERED = "touches_delivered"
# WeCom reports a staff member sent their mass task (task sync): the subject is the staff member, ref the task id,
# since the task's creation (how long it waited).
TASK_SENT = "task_sent"
# The task sync escalated an overdue task (once): the subject is the task, staff its owner, member the lead it went to
# (None without one), kind the task's kind. The alerts tell both in WeCom (services/alerts.py).
TASK_ESCALATED = "task_escalated"
# What happened in a customer group (社群); the subject is the group's chat id.
GROUP_JOINED = "group_joined"  # member joined (kind: the join scene; ref: the join's identity)
GROUP_LEFT = "group_left"  # member left (kind: the quit scene; ref: the leave's identity)
# A join's join way became known only after it was told (a deferred re-read reconciled it): channel_id the join
# way's state, ref and at the join's, so a subscriber counting the join toward its code does it once per join.
GROUP_JOIN_WAY = "group_join_way"
# A customer's check-in (打卡) in a group was credited: the day's one (chat_id; kind: the tenant-local day; ref: the
# fact it came from). Published only by the write that won, so counting it by ref counts each check-in once.
CHECKED_IN = "checked_in"
# Staff noted a phone for a customer who had none (an edit in WeCom): the CRM import may know it (issue 14 §5).
PHONE_NOTED = "phone_noted"
# 客户交接 (issue 14 §2; services/handover.py): WeCom completed a hand-over, so the customer's owner changed (staff the
# new owner, member the old one, ref the hand-over's job id); and WeCom's transfer_fail callback for a customer (kind
# its FailReason, customer_refused | customer_limit_exceed; staff the takeover staff member; ref the event's digest).
OWNER_CHANGED = "owner_changed"
TRANSFER_FAILED = "transfer_failed"

TYPES = frozenset(
    {
        ORDER,
        REPLY,
        CHECKIN,
        SHARE,
        CUSTOM,
        ADDED,
        LOST,
        TAG,
        STAGE,
        ENROLLED,
        REPINNED,
        EXITED,
        TOUCH_SENT,
        TOUCH_SKIPPED,
        TASK_CONFIRMED,
        TOUCHES_DELIVERED,
        TASK_SENT,
        TASK_ESCALATED,
        GROUP_JOINED,
        GROUP_LEFT,
        GROUP_JOIN_WAY,
        CHECKED_IN,
        PHONE_NOTED,
        MERGED,
        OWNER_CHANGED,
        TRANSFER_FAILED,
    }
)


@dataclass(frozen=True)
class Signal:
    """Something that happened to one subject at ``at``. Only the fields its type names are set."""

    type: str
    at: datetime
    kind: str | None = None  # order kind (trial | full); reply class (positive | negative); add kind; exit reason
    stage: str | None = None
    tag_ids: tuple[str, ...] = ()  # a tag signal's added tags
    channel_id: str | None = None  # a group join's join-way state (a group code's id) when known
    plan_id: str | None = None
    chat_id: str | None = None  # the customer group it happened in (a group message, a check-in, a join)
    member: str | None = None  # a group signal's member (userid or external_userid)
    ref: str | None = None  # the identity of the fact behind it (an event digest): a replay carries the same ref
    # In-process payloads: the enrollment and the plan version in hand, so a subscriber does not read them again.
    enrollment: Any = None
    plan: Any = None
    customer: Any = None  # "added", "phone_noted": the customer as just stored (the CRM match reads their phone alias)
    text: str | None = None  # a message's text, in process only (a group keyword such as 打卡): never logged or kept
    # What the metrics count a fact toward (issue 11), where the publisher has it at hand:
    staff: str | None = None  # the staff member of an add or a loss (their userid)
    amount: int | None = None  # an order's amount, in fen
    product: str | None = None  # an order's product
    bucket_id: str | None = None  # a touch's bucket (its plan, version and step)
    since: datetime | None = None  # when what ended here began (a confirmed task's creation: the latency)
    count: int | None = None  # how many (a fire's delivered touches)
    tasks: int | None = None  # a fire's staff tasks created
    # An enrolled signal's arm: True when the customer is in the plan version's holdout (对照组, domain/fate.held_out)
    # and gets none of its touches, so metrics count each arm's enrolled customers and converters for the lift.
    holdout: bool = False
