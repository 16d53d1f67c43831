"""Enrollment that says what happened: an enrollment, or the one reason it was refused; the `nurturing` stage it sets;
and the enrollment listings (a plan's, a customer's).

The SOP engine's ``enroll``/``enroll_customer`` come here (``EnrollmentService``: given its storage, plans, the
kernel's starter and the signal bus, it never refers back to the engine); every caller (the API, intake's channel
plan, tag and stage triggers, the silence hand-off, bulk jobs) gets the same decision. An automatic caller logs the
refusal's code (never who the customer is); the API answers it as a 409 (or 404 for an unknown customer).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import enrollments as rules
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.enrollments import Refusal
from chalicelib.domain.fate import held_out
from chalicelib.domain.groups import Group
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import GROUP_PLAN, Plan, PlanStatus
from chalicelib.domain.signals import ENROLLED, STAGE, Signal
from chalicelib.domain.sop import ACTIVE, COMPLETED, CUSTOMER, EXITED, GROUP, Enrollment, Subject, Touch
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, IdGenerator, Page, SignalPublisher

STATUSES = (ACTIVE, COMPLETED, EXITED)  # what ?status= accepts
# An attempt that finds the run an earlier attempt wrote redoes what follows the write (its first touch, silence
# timer, stage) within this long of the enrollment: that attempt may have died between the two (issue 9). Every step
# is idempotent (the touch's key is the run's); later, the first touch may have left its bucket (TTL) and the tenant's
# rules changed, so it would be queued again.
RESUME_WITHIN = timedelta(minutes=15)


class EnrollmentRefusedError(ConflictError):
    """A refused enrollment: the code is the refusal's reason (``domain/enrollments.py: REASONS``)."""


class EnrollmentListing(Protocol):
    def list_customer_enrollments(
        self, tenant_id: str, customer_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> Page: ...
    def list_plan_enrollments(
        self,
        tenant_id: str,
        plan_id: str,
        *,
        status: str | None,
        cursor: str | None,
        limit: int,
        kind: str = CUSTOMER,
    ) -> Page: ...


class EnrollmentRepo(Protocol):
    """What enrolling a customer writes and reads (DynamoStore / FakeStore)."""

    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None: ...
    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool: ...
    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool: ...


class CurrentPlans(Protocol):
    def current_plan(self, tenant_id: str, plan_id: str) -> Plan | None: ...


class Starter(Protocol):
    """The SOP kernel's side of a new enrollment: its first touch, fired before the operation returns if due."""

    def start(self, tenant: Tenant, plan: Plan, enrollment: Enrollment, *, state: Any = None) -> Touch: ...
    def fire_inline(self) -> None: ...


class EnrollmentService:
    """Enrolling customers: one decision for every caller (the API, intake, triggers, silence, bulk jobs)."""

    def __init__(
        self,
        repo: EnrollmentRepo,
        plans: CurrentPlans,
        starter: Starter,
        clock: Clock,
        ids: IdGenerator,
        signals: SignalPublisher,
    ) -> None:
        self.repo = repo
        self.plans = plans
        self.starter = starter
        self.clock = clock
        self.ids = ids
        self.signals = signals  # "enrolled" (silence timers) and "stage" (stage-triggered plans)

    def attempt(self, tenant: Tenant, plan: Plan, customer: Customer | None, *, source: str) -> Enrollment | Refusal:
        """Enroll ``customer`` into ``plan`` (both already read), or say why not. Nothing is written for a refusal
        decided before the write (plan state, exit rule, audience), so an excluded customer gets no touch."""
        refusal = rules.refusal_before_write(plan, customer)
        if refusal is None and customer is not None:
            tid = tenant.tenant_id
            enrollment = Enrollment(
                subject=Subject.customer(customer.customer_id),
                plan_id=plan.plan_id,
                version=plan.version,
                enrollment_id=self.ids.new_id("en_"),
                enrolled_at=iso_of(self.clock.now(), tenant.zone),
                source=source,
            )
            if self.repo.put_enrollment(tid, enrollment, reentry=plan.reentry):
                self._started(tenant, plan, enrollment, customer)
                return enrollment
            existing = self.repo.get_enrollment(tid, customer.customer_id, plan.plan_id)
            if existing is not None:
                self.resume(tenant, plan, existing, customer)
            refusal = rules.refusal_after_conflict(plan, existing)
        assert refusal is not None  # refused before the write, or the write lost its condition
        # Who was refused is not logged: the tenant, the plan, the source and the reason say what happened.
        logger.info(
            "enrollment refused",
            extra={
                "tenant": tenant.tenant_id,
                "plan": plan.plan_id,
                "source": source.split(":")[0],
                **refusal.details(),
            },
        )
        count(f"Enrollment.refused.{refusal.reason}")
        return refusal

    def _started(self, tenant: Tenant, plan: Plan, enrollment: Enrollment, customer: Customer) -> None:
        now = self.clock.now()
        # The silence timer (if the plan has a rule) starts from this signal; metrics count the customer in its arm.
        holdout = held_out(plan, enrollment.subject, tenant.tenant_id)
        enrolled = Signal(ENROLLED, now, plan_id=plan.plan_id, enrollment=enrollment, plan=plan, holdout=holdout)
        self.signals.publish(tenant, customer.customer_id, enrolled)
        self.starter.start(tenant, plan, enrollment, state=customer)  # the customer gives the executor hint
        # A `new` customer is now being nurtured: one conditional write, once per customer (the stage read says so).
        if customer.stage in rules.NURTURING_FROM and self.repo.advance_stage(
            tenant.tenant_id, customer.customer_id, to=Stage.NURTURING, from_stages=rules.NURTURING_FROM
        ):
            self.signals.publish(tenant, customer.customer_id, Signal(STAGE, now, stage=Stage.NURTURING.value))
        self.starter.fire_inline()

    def resume(self, tenant: Tenant, plan: Plan, enrollment: Enrollment, customer: Customer | None) -> bool:
        """An active run an earlier attempt wrote, met again by a retry (the API, a trigger, a bulk job's re-run
        page): redo what follows its write, in case that attempt died before (see ``RESUME_WITHIN``). True if
        redone; the caller answers as it would have (already enrolled)."""
        if customer is None or enrollment.status != ACTIVE or enrollment.version != plan.version:
            return False
        if self.clock.now() - datetime.fromisoformat(enrollment.enrolled_at) > RESUME_WITHIN:
            return False
        self._started(tenant, plan, enrollment, customer)
        return True

    def attempt_by_id(self, tenant: Tenant, customer_id: str, plan_id: str, *, source: str) -> Enrollment | Refusal:
        """As ``attempt``, reading the plan's current version and the customer; an unknown plan is a NotFoundError."""
        plan = self.plans.current_plan(tenant.tenant_id, plan_id)
        if plan is None:
            raise NotFoundError(f"plan {plan_id} does not exist", code=rules.PLAN_NOT_FOUND)
        published = plan.status == PlanStatus.PUBLISHED  # otherwise the plan's state is the answer: no read
        customer = self.repo.get_customer(tenant.tenant_id, customer_id) if published else None
        return self.attempt(tenant, plan, customer, source=source)

    def enroll_or_refuse(self, tenant: Tenant, customer_id: str, plan_id: str) -> Enrollment:
        """The API's enrollment: an enrollment, or an error naming the one reason (404 for an unknown customer)."""
        result = self.attempt_by_id(tenant, customer_id, plan_id, source="manual")
        if isinstance(result, Enrollment):
            return result
        if result.reason == rules.CUSTOMER_NOT_FOUND:
            raise NotFoundError(f"customer {customer_id} does not exist", code=result.reason, details=result.details())
        raise EnrollmentRefusedError(result.message, code=result.reason, details=result.details())


# --- listings -------------------------------------------------------------------------------------------------


def status_arg(query: dict[str, str]) -> str | None:
    """``?status=`` checked: a 400 names the allowed values."""
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidError(f"status must be one of {', '.join(STATUSES)}", code="invalid")
    return status


class EnrollmentListRepo(EnrollmentListing, Protocol):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]: ...


def of_customer(
    repo: EnrollmentListRepo,
    tenant_id: str,
    customer_id: str,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
    only_owner: str | None,
) -> Page:
    """A customer's enrollments; a staff member (``only_owner``) sees only their own customers' (404 otherwise)."""
    customer = repo.get_customer(tenant_id, customer_id)
    if customer is None or (only_owner is not None and customer.owner_userid != only_owner):
        raise NotFoundError(f"customer {customer_id} does not exist", code=rules.CUSTOMER_NOT_FOUND)
    return repo.list_customer_enrollments(tenant_id, customer_id, status=status, cursor=cursor, limit=limit)


def of_plan(
    repo: EnrollmentListRepo,
    plans: Any,
    tenant_id: str,
    plan_id: str,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
    only_owner: str | None,
) -> Page:
    """A plan's enrollments (a group plan's: its groups); for a staff member only their own customers' (or the
    groups they own or administer), read with the page's profiles (groups) in one batch, so such a page may come
    back short, with its cursor."""
    plan = plans.current_plan(tenant_id, plan_id)
    if plan is None:
        raise NotFoundError(f"plan {plan_id} does not exist", code=rules.PLAN_NOT_FOUND)
    kind = GROUP if plan.kind == GROUP_PLAN else CUSTOMER
    page = repo.list_plan_enrollments(tenant_id, plan_id, status=status, cursor=cursor, limit=limit, kind=kind)
    if only_owner is None or not page.items:
        return page
    ids = [e.subject.id for e in page.items]
    if kind == GROUP:
        groups = repo.get_groups(tenant_id, ids)
        staff = {cid for cid, g in groups.items() if only_owner == g.state.owner or only_owner in g.state.admins}
        return Page([e for e in page.items if e.subject.id in staff], page.next_cursor)
    owners = repo.get_customers(tenant_id, ids)
    mine = [e for e in page.items if (c := owners.get(e.customer_id)) is not None and c.owner_userid == only_owner]
    return Page(mine, page.next_cursor)


def public_page(page: Page) -> dict[str, Any]:
    return {"items": [public(e) for e in page.items], "next_cursor": page.next_cursor}


def public(enrollment: Enrollment) -> dict[str, Any]:
    """A customer's enrollment names its ``customer_id``; a group's (a group plan's) its ``chat_id``."""
    subject = enrollment.subject
    return {
        ("customer_id" if subject.kind == CUSTOMER else "chat_id"): subject.id,
        "plan_id": enrollment.plan_id,
        "version": enrollment.version,
        "enrollment_id": enrollment.enrollment_id,
        "enrolled_at": enrollment.enrolled_at,
        "status": enrollment.status,
        "exit_reason": enrollment.exit_reason,
        "ended_at": enrollment.ended_at,
        "source": enrollment.source,
    }
