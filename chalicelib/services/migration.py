"""Moving live enrollments from one plan version to another: explicit, step by step, and previewable.

Enrollments stay pinned to the version they started on (architecture decision 6). A migration takes a map from the
old version's step ids to the new version's (or null: drop that queued touch and move on to the next step), walks
the old version's queued touches bucket by bucket, and — unless it is a dry run — re-pins each enrollment and
re-schedules its queued touch on the new version's calendar. Every move is a conditional write, so running the
same migration twice moves nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain import timing
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import GROUP_PLAN, Plan, Step
from chalicelib.domain.signals import REPINNED, Signal
from chalicelib.domain.sop import ACTIVE, SCHEDULED, SKIPPED, Enrollment, Touch, next_step
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.ports import Clock, SignalPublisher
from chalicelib.services.sop.repos import MigrationRepo
from chalicelib.services.sop.rules import PlanSource, rules_of

SAMPLE_CHANGES = 100  # how many individual due-time changes a report lists


@dataclass
class MigrationReport:
    plan_id: str
    from_version: int
    to_version: int
    dry_run: bool
    enrollments: int = 0
    moves: dict[str, int] = field(default_factory=dict)  # "s2->s2b": count
    dropped: int = 0
    due_changes: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "dry_run": self.dry_run,
            "enrollments": self.enrollments,
            "moves": self.moves,
            "dropped": self.dropped,
            "due_changes": self.due_changes,
            "skipped": self.skipped,
        }


def check_step_map(old: Plan, new: Plan, step_map: dict[str, str | None]) -> dict[str, str | None]:
    """Every old step maps to a new step or None; unmapped steps keep their id if the new version has it."""
    full: dict[str, str | None] = {}
    errors = []
    for step in old.steps:
        if step.id in step_map:
            target = step_map[step.id]
            if target is not None and new.step(target) is None:
                errors.append(f"step_map[{step.id}] names {target!r}, which version {new.version} does not have")
            full[step.id] = target
        elif new.step(step.id) is not None:
            full[step.id] = step.id
        else:
            errors.append(f"step {step.id} of version {old.version} is not in version {new.version}: map it")
    unknown = sorted(set(step_map) - {s.id for s in old.steps})
    errors += [f"step_map names {s!r}, which version {old.version} does not have" for s in unknown]
    if errors:
        raise InvalidError("the step map does not fit the two versions", details=errors)
    return full


class TouchScheduler(Protocol):
    """The kernel's scheduling: a touch in its bucket, the bucket's schedule if it is the first."""

    def schedule(
        self, tenant: Tenant, plan: Plan, enrollment: Enrollment, step: Step, *, occurrence: int, at: datetime | None
    ) -> Touch: ...


class PlanMigration:
    def __init__(
        self,
        repo: MigrationRepo,
        plans: PlanSource,
        scheduler: TouchScheduler,
        signals: SignalPublisher,
        clock: Clock,
    ) -> None:
        self.repo = repo
        self.plans = plans
        self.scheduler = scheduler
        self.signals = signals  # "repinned": the silence rule follows the version
        self.clock = clock

    def migrate(
        self,
        tenant: Tenant,
        plan_id: str,
        *,
        from_version: int,
        to_version: int | None,
        step_map: dict[str, str | None],
        dry_run: bool,
    ) -> MigrationReport:
        plans, repo = self.plans, self.repo
        old = plans.plan_version(tenant.tenant_id, plan_id, from_version)
        new = (
            plans.plan_version(tenant.tenant_id, plan_id, to_version)
            if to_version
            else plans.current_plan(tenant.tenant_id, plan_id)
        )
        if old is None or new is None:
            raise NotFoundError(f"plan {plan_id} has no such version")
        if new.version == old.version:
            raise InvalidError("from_version and to_version are the same")
        if GROUP_PLAN in (old.kind, new.kind):  # a group's calendar counts from its cohort: not migrated (yet)
            raise InvalidError("a group plan's enrollments are not migrated: enroll the groups in a new plan instead")
        mapping = check_step_map(old, new, step_map)
        report = MigrationReport(plan_id, old.version, new.version, dry_run)
        now = self.clock.now()
        zone = tenant.zone
        for bucket in repo.plan_buckets(tenant.tenant_id, plan_id, old.version, from_minute="0"):
            for touch in repo.touches_in(tenant.tenant_id, bucket.bucket_id, state=SCHEDULED):
                enrollment = repo.subject_enrollments_in(tenant.tenant_id, [touch.subject], plan_id).get(touch.subject)
                if (
                    enrollment is None
                    or enrollment.status != ACTIVE
                    or enrollment.version != old.version
                    or enrollment.enrollment_id != touch.enrollment_id
                ):
                    report.skipped["not_active_on_version"] = report.skipped.get("not_active_on_version", 0) + 1
                    continue
                target_id = mapping[touch.step_id]
                target: Step | None = new.step(target_id) if target_id else None
                if target is None:  # dropped: continue with the step after the mapped position, if any
                    following = _next_in_new(old, new, mapping, touch.step_id)
                    report.dropped += 1
                    target = following
                label = f"{touch.step_id}->{target.id if target else 'end'}"
                report.moves[label] = report.moves.get(label, 0) + 1
                report.enrollments += 1
                new_due = (
                    timing.due_at(target, datetime.fromisoformat(enrollment.enrolled_at), rules_of(tenant), zone).due
                    if target
                    else None
                )
                if new_due is not None and new_due < now:
                    new_due = now  # already late on the new calendar: due now, lateness decides at fire time
                if len(report.due_changes) < SAMPLE_CHANGES and (
                    new_due is None or iso_of(new_due, zone) != touch.due_at or target_id != touch.step_id
                ):
                    report.due_changes.append(
                        {
                            "customer_id": touch.subject.id,
                            "from_step": touch.step_id,
                            "to_step": target.id if target else None,
                            "old_due_at": touch.due_at,
                            "new_due_at": iso_of(new_due, zone) if new_due else None,
                        }
                    )
                if dry_run:
                    continue
                if not repo.move_touch(
                    tenant.tenant_id, touch, to_state=SKIPPED, from_state=SCHEDULED, reason=f"migrated:v{new.version}"
                ):
                    continue  # fired or migrated meanwhile
                if not repo.repin_enrollment(tenant.tenant_id, enrollment, new.version):
                    continue
                pinned = repo.subject_enrollments_in(tenant.tenant_id, [touch.subject], plan_id).get(touch.subject)
                if pinned is None:
                    continue
                self.signals.publish(
                    tenant, pinned.customer_id, Signal(REPINNED, self.clock.now(), enrollment=pinned, plan=new)
                )
                if target is None:
                    repo.end_enrollment(
                        tenant.tenant_id, pinned, status="completed", reason="migrated", at=iso_of(now, zone)
                    )
                else:
                    self.scheduler.schedule(tenant, new, pinned, target, occurrence=0, at=new_due)
        return report


def _next_in_new(old: Plan, new: Plan, mapping: dict[str, str | None], step_id: str) -> Step | None:
    """For a dropped step: the new step that the next mapped old step goes to (None: the plan ends)."""
    step = old.step(step_id)
    while step is not None:
        step = next_step(old, step.id)
        if step is not None and mapping.get(step.id):
            return new.step(mapping[step.id] or "")
    return None
