"""Why an enrollment was refused, as one stable code, and the stage an enrollment sets. Pure: no clock, no storage.

Every refusal names the one reason that applied, checked in a fixed order (the plan first, then the customer, then
what storage said), so the same request always gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.plans import GROUP_PLAN, Plan, PlanStatus
from chalicelib.domain.sop import ACTIVE, Enrollment, audience_matches, exit_reason

PLAN_NOT_FOUND = "plan_not_found"
PLAN_NOT_PUBLISHED = "plan_not_published"
PLAN_PAUSED = "plan_paused"
PLAN_ARCHIVED = "plan_archived"
PLAN_HAS_NO_STEPS = "plan_has_no_steps"
CUSTOMER_NOT_FOUND = "customer_not_found"
EXCLUDED_BY_EXIT_RULE = "excluded_by_exit_rule"
AUDIENCE_NOT_MATCHED = "audience_not_matched"
ALREADY_ENROLLED = "already_enrolled"
REENTRY_NOT_ALLOWED = "reentry_not_allowed"
PLAN_IS_FOR_GROUPS = "plan_is_for_groups"  # a group plan enrolls groups (services/group_plans.py), not customers

REASONS = (
    PLAN_NOT_FOUND,
    PLAN_NOT_PUBLISHED,
    PLAN_PAUSED,
    PLAN_ARCHIVED,
    PLAN_HAS_NO_STEPS,
    CUSTOMER_NOT_FOUND,
    EXCLUDED_BY_EXIT_RULE,
    AUDIENCE_NOT_MATCHED,
    ALREADY_ENROLLED,
    REENTRY_NOT_ALLOWED,
    PLAN_IS_FOR_GROUPS,
)

_STATUS_REASON = {
    PlanStatus.DRAFT: (PLAN_NOT_PUBLISHED, "the plan is a draft: publish it first"),
    PlanStatus.PAUSED: (PLAN_PAUSED, "the plan is paused: resume it first"),
    PlanStatus.ARCHIVED: (PLAN_ARCHIVED, "the plan is archived and takes no enrollments"),
}

# Enrollment moves only a `new` customer to `nurturing`: every other stage says more about the customer already.
NURTURING_FROM = (Stage.NEW,)
# The silence hand-off marks a customer `silent` unless they bought (trial/converted never go back) or are lost.
SILENT_FROM = (Stage.NEW, Stage.NURTURING, Stage.HOT)


@dataclass(frozen=True)
class Refusal:
    """One refused enrollment: ``reason`` is one of ``REASONS``; ``rule`` names the exit rule that excluded them."""

    reason: str
    message: str
    plan_id: str
    rule: str | None = None

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "plan_id": self.plan_id}
        if self.rule:
            out["rule"] = self.rule
        return out


def refusal_before_write(plan: Plan, customer: Customer | None) -> Refusal | None:
    """What refuses the enrollment before anything is written (None: try the write)."""
    pid = plan.plan_id
    if plan.status in _STATUS_REASON:
        reason, message = _STATUS_REASON[plan.status]
        return Refusal(reason, message, pid)
    if not plan.steps:
        return Refusal(PLAN_HAS_NO_STEPS, "the plan has no steps", pid)
    if plan.kind == GROUP_PLAN:
        return Refusal(PLAN_IS_FOR_GROUPS, "the plan is a group plan: enroll groups through /groups", pid)
    if customer is None:
        return Refusal(CUSTOMER_NOT_FOUND, "the customer does not exist", pid)
    rule = excluding_rule(plan, customer)
    if rule:
        return Refusal(EXCLUDED_BY_EXIT_RULE, f"the customer already meets the plan's exit rule {rule}", pid, rule)
    if not audience_matches(plan.audience, customer):
        return Refusal(AUDIENCE_NOT_MATCHED, "the customer is not in the plan's audience", pid)
    return None


def excluding_rule(plan: Plan, customer: Customer) -> str | None:
    """The exit rule the customer meets already: the stage-derived ones the fire re-checks (a full order also meets a
    trial exit), and a negative reply, which the customer's marketing suppression records."""
    met = exit_reason(plan, customer)
    if met:
        return met
    if customer.suppress_marketing and any(rule.type == "negative_reply" for rule in plan.exits):
        return "exit:negative_reply:negative"
    return None


def refusal_after_conflict(plan: Plan, existing: Enrollment | None) -> Refusal:
    """The enrollment write lost its re-entry condition: already in the plan, or the policy forbids a new run."""
    if existing is not None and existing.status == ACTIVE:
        return Refusal(ALREADY_ENROLLED, "the customer is already enrolled in this plan", plan.plan_id)
    return Refusal(
        REENTRY_NOT_ALLOWED,
        f"the customer was enrolled before and the plan's re-entry policy is {plan.reentry}",
        plan.plan_id,
    )
