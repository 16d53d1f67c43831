"""Enrolling customer groups into a group plan (a camp calendar, or a one-off 群发): each group's touches go into the
kernel's buckets and Scheduler exactly as a customer's do, and fire through the group policy.

Groups are enrolled through the API (``POST /t/{tenant_id}/plans/{plan_id}/groups``): the groups named, or every
group matching the plan's audience. A group's enrollment pins its calendar's day 0 (the cohort's start, or the plan's
fixed ``day0``) and starts at the first step still ahead: a group enrolled mid-camp is not sent the past days late.
The enrollment's conditional write (the plan's re-entry policy) makes a repeated or concurrent request enroll a
group once; a repeat within ``RESUME_WITHIN`` re-queues its first touch (idempotent), in case the first request
died between the two writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from chalicelib.domain import group_plans
from chalicelib.domain.groups import Group
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import GROUP_PLAN, Plan, PlanStatus
from chalicelib.domain.sop import ACTIVE, Enrollment, Subject
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.observability import logger
from chalicelib.ports import Clock, IdGenerator, Page
from chalicelib.services.enrollments import RESUME_WITHIN, CurrentPlans
from chalicelib.services.sop.kernel import SopKernel
from chalicelib.services.sop.rules import rules_of

PAGE = 100  # groups read per page when enrolling a plan's whole audience
CALENDAR_OVER = "calendar_over"  # every step of the calendar is already behind the group
ALREADY_ENROLLED = "already_enrolled"


class GroupPlans(CurrentPlans, Protocol):
    def find(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...


class GroupEnrollRepo(Protocol):
    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]: ...
    def list_groups(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool: ...
    def subject_enrollments_in(
        self, tenant_id: str, subjects: list[Subject], plan_id: str
    ) -> dict[Subject, Enrollment]: ...


@dataclass
class GroupEnrollment:
    """What one request did: the groups enrolled (with their first touch) and those refused, each with a reason."""

    plan_id: str
    enrolled: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "enrolled": self.enrolled, "refused": self.refused}


class GroupPlanService:
    def __init__(
        self, repo: GroupEnrollRepo, plans: GroupPlans, kernel: SopKernel, clock: Clock, ids: IdGenerator
    ) -> None:
        self.repo = repo
        self.plans = plans
        self.kernel = kernel
        self.clock = clock
        self.ids = ids

    def enroll(self, tenant: Tenant, plan_id: str, chat_ids: list[str] | None = None) -> GroupEnrollment:
        """Enroll the named groups (or, with none named, every group matching the plan's audience) into a
        published group plan. Due-now touches fire once at the end, one task per owner."""
        plan = self._plan(tenant.tenant_id, plan_id)
        result = GroupEnrollment(plan_id)
        with self.kernel.batch():
            for chat_id, group in self._targets(tenant.tenant_id, plan, chat_ids):
                reason = self._enroll_one(tenant, plan, chat_id, group, result)
                if reason is not None:
                    result.refused.append({"chat_id": chat_id, "reason": reason})
        logger.info(
            "groups enrolled",
            extra={
                "tenant": tenant.tenant_id,
                "plan": plan_id,
                "enrolled": len(result.enrolled),
                "refused": len(result.refused),
            },
        )
        return result

    def enroll_everywhere(self, tenant: Tenant, chat_id: str) -> list[str]:
        """Enroll one group into every published group plan whose audience it matches (for the groups setup to call
        when a group gets its cohort start); the plans it was enrolled in. A plan that refuses it is skipped."""
        group = self.repo.get_groups(tenant.tenant_id, [chat_id]).get(chat_id)
        enrolled: list[str] = []
        cursor: str | None = None
        with self.kernel.batch():
            while True:
                page = self.plans.find(tenant.tenant_id, status=PlanStatus.PUBLISHED.value, cursor=cursor, limit=100)
                for plan in page.items:
                    result = GroupEnrollment(plan.plan_id)
                    if plan.kind == GROUP_PLAN and self._enroll_one(tenant, plan, chat_id, group, result) is None:
                        enrolled.append(plan.plan_id)
                cursor = page.next_cursor
                if cursor is None:
                    return enrolled

    def _plan(self, tenant_id: str, plan_id: str) -> Plan:
        plan = self.plans.current_plan(tenant_id, plan_id)
        if plan is None:
            raise NotFoundError(f"plan {plan_id} does not exist", code="plan_not_found")
        if plan.kind != GROUP_PLAN:
            raise InvalidError(
                f"plan {plan_id} is a customer plan: enroll customers through /enrollments", code="not_a_group_plan"
            )
        if plan.status != PlanStatus.PUBLISHED:
            raise ConflictError(f"plan {plan_id} is {plan.status.value}: publish it first", code="plan_not_published")
        return plan

    def _targets(self, tenant_id: str, plan: Plan, chat_ids: list[str] | None) -> list[tuple[str, Group | None]]:
        """(chat id, the group or None) for the named groups; else every group in the plan's audience."""
        if chat_ids is not None:
            named = list(dict.fromkeys(chat_ids))
            found = self.repo.get_groups(tenant_id, named)
            return [(c, found.get(c)) for c in named]
        if plan.groups.chat_ids:
            return self._targets(tenant_id, plan, list(plan.groups.chat_ids))
        out: list[tuple[str, Group | None]] = []
        cursor: str | None = None
        while True:
            page = self.repo.list_groups(tenant_id, cursor=cursor, limit=PAGE)
            out += [(g.chat_id, g) for g in page.items if group_plans.matches(plan.groups, g) and g.active]
            cursor = page.next_cursor
            if cursor is None:
                return out

    def _enroll_one(
        self, tenant: Tenant, plan: Plan, chat_id: str, group: Group | None, result: GroupEnrollment
    ) -> str | None:
        """Enroll one group and queue its first open step; the refusal's reason, or None."""
        reason = group_plans.refusal(plan, group)
        if reason is not None or group is None:
            return reason
        day0 = group_plans.day0_of(plan, group)
        assert day0 is not None
        now = self.clock.now()
        step = group_plans.first_open_step(plan, date.fromisoformat(day0), rules_of(tenant), tenant.zone, now)
        if step is None:
            return CALENDAR_OVER
        enrollment = Enrollment(
            subject=Subject.group(chat_id),
            plan_id=plan.plan_id,
            version=plan.version,
            enrollment_id=self.ids.new_id("en_"),
            enrolled_at=iso_of(now, tenant.zone),
            source="group",
            day0=day0,
        )
        if not self.repo.put_enrollment(tenant.tenant_id, enrollment, reentry=plan.reentry):
            self._resume(tenant, plan, group)
            return ALREADY_ENROLLED
        touch = self.kernel.schedule(tenant, plan, enrollment, step, occurrence=0, executor=group.state.owner)
        result.enrolled.append(
            {
                "chat_id": chat_id,
                "enrollment_id": enrollment.enrollment_id,
                "day0": day0,
                "first_step": step.id,
                "first_due_at": touch.due_at,
            }
        )
        return None

    def _resume(self, tenant: Tenant, plan: Plan, group: Group) -> None:
        """A run an earlier request wrote moments ago: queue its first touch again (a no-op if it is there), in case
        that request died between the enrollment and the touch."""
        subject = Subject.group(group.chat_id)
        existing = self.repo.subject_enrollments_in(tenant.tenant_id, [subject], plan.plan_id).get(subject)
        if existing is None or existing.status != ACTIVE or existing.version != plan.version or not existing.day0:
            return
        enrolled = datetime.fromisoformat(existing.enrolled_at)
        if self.clock.now() - enrolled > RESUME_WITHIN:
            return
        day0 = date.fromisoformat(existing.day0)
        step = group_plans.first_open_step(plan, day0, rules_of(tenant), tenant.zone, enrolled)
        if step is not None:
            self.kernel.schedule(tenant, plan, existing, step, occurrence=0, executor=group.state.owner)
