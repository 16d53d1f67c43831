"""Customer lifecycle around plans: silence timers (no inbound activity for N days → exit and hand-off) and the
triggers that enroll a customer when a tag is added or a stage is entered. Pure: no clock, no AWS.

Silence follows the plan simulator (domain/simulate.py) so a preview shows what production does: the timer runs
from the enrollment, or from the customer's last inbound activity, for ``silence.days`` elapsed days; it keeps
running after the plan's last step (a customer silent through the whole plan is handed off too), and it stops only
when the enrollment exits for another reason (a purchase, a negative reply, a stage or tag exit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.domain.instants import utc_key
from chalicelib.domain.plans import Plan

SILENCE = "silence"  # the exit reason, and the hand-off enrollment's source

# Signals (ports.Signal.type) that are something the customer did: each moves the customer's silence timers.
# "stage" and "tag" are consequences or staff actions, not the customer's own activity.
ACTIVITY_SIGNALS = frozenset({"reply", "order", "checkin", "share", "custom"})


@dataclass(frozen=True)
class SilenceTimer:
    """One active enrollment's silence deadline, kept beside the enrollment (one per customer and plan).

    ``due`` is a UTC key ("2026-12-08T01:00:00Z", ``clock.utc_key``): sortable, exact across DST. ``days`` and
    ``then_plan_id`` come from the plan version the enrollment is pinned to, so moving or firing the timer needs no
    plan read. ``claimed_at`` is set (once) when the silence job first claims the timer.
    """

    customer_id: str
    plan_id: str
    enrollment_id: str
    version: int
    days: int
    then_plan_id: str | None
    due: str
    claimed_at: str | None = None


def from_key(key: str) -> datetime:
    """The instant a UTC key (``clock.utc_key``) names."""
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def silence_due(last_activity: datetime, days: int) -> str:
    """The deadline: ``days`` elapsed days after the enrollment or the last inbound activity (as the simulator)."""
    return utc_key(last_activity + timedelta(days=days))


def timer_for(plan: Plan, *, customer_id: str, enrollment_id: str, enrolled_at: datetime) -> SilenceTimer | None:
    """The timer an enrollment into ``plan`` starts, or None when the plan has no silence rule."""
    if plan.silence is None:
        return None
    return SilenceTimer(
        customer_id=customer_id,
        plan_id=plan.plan_id,
        enrollment_id=enrollment_id,
        version=plan.version,
        days=plan.silence.days,
        then_plan_id=plan.silence.then_plan_id or None,
        due=silence_due(enrolled_at, plan.silence.days),
    )


def tag_triggered(plan: Plan, tag_ids: set[str]) -> bool:
    return plan.trigger.type == "tag" and plan.trigger.tag_id is not None and plan.trigger.tag_id in tag_ids


def stage_triggered(plan: Plan, stage: str) -> bool:
    return plan.trigger.type == "stage" and plan.trigger.stage == stage
