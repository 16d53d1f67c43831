"""The SOP engine for customers: the kernel with the customer policy, enrollment, and the exits a customer's
signals (orders, replies) trigger. The entry points the API, jobs and other services call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from chalicelib.domain import fate
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.enrollments import CUSTOMER_NOT_FOUND
from chalicelib.domain.instants import iso_of
from chalicelib.domain.plans import Plan
from chalicelib.domain.shards import Shard
from chalicelib.domain.signals import EXITED as EXITED_SIGNAL
from chalicelib.domain.sop import ACTIVE, CUSTOMER, EXITED, GROUP, Enrollment
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.ports import Clock, IdGenerator, SchedulerPort, Signal, SignalPublisher, WeComPort
from chalicelib.services.enrollments import EnrollmentService
from chalicelib.services.signals import NoSignals
from chalicelib.services.sop.content import MessageLibrary
from chalicelib.services.sop.customer_policy import CustomerPolicy
from chalicelib.services.sop.fanout import FanOut
from chalicelib.services.sop.group_policy import GroupPolicy, GroupPolicyRepo
from chalicelib.services.sop.kernel import FireReport, SopKernel
from chalicelib.services.sop.policy import Policies
from chalicelib.services.sop.repos import KernelRepo, MigrationRepo
from chalicelib.services.sop.rules import PlanSource


class SopRepo(KernelRepo, MigrationRepo, GroupPolicyRepo, Protocol):
    """What the SOP engine needs from storage (DynamoStore / FakeStore): the kernel's, the customer and group
    policies' and enrollment's."""

    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None: ...
    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]: ...
    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool: ...
    def take_quota(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int | None,
        touch: Any = None,
        last: bool = False,
    ) -> str | None: ...


class SopEngine:
    """Customers' SOP: ``kernel`` (fire, backstop, reconcile, scheduling) over ``policies`` (the customer policy, and
    the group policy that fires group plans' touches through the same kernel),
    ``enrollments`` (who may enroll), and ``on_signal`` (exit rules met by an order or a reply).

    ``signals`` is told what starts ("enrolled", "stage"); the bus delivers orders and replies to ``on_signal``."""

    def __init__(
        self,
        repo: SopRepo,
        plans: PlanSource,
        scheduler: SchedulerPort,
        wecom: WeComPort,
        clock: Clock,
        ids: IdGenerator,
        *,
        signals: SignalPublisher | None = None,
        policies: Policies | None = None,
        fanout: FanOut | None = None,
        library: MessageLibrary | None = None,
    ) -> None:
        self.repo = repo
        self.plans = plans
        self.scheduler = scheduler
        self.clock = clock
        self.ids = ids
        self.customers = CustomerPolicy(repo, plans, wecom)
        self.groups = GroupPolicy(repo, wecom)  # group plans' touches (camp calendars): services/group_plans.py
        self.policies: Policies = {CUSTOMER: self.customers, GROUP: self.groups, **(policies or {})}
        self.signals: SignalPublisher = signals or NoSignals()
        self.kernel = SopKernel(repo, plans, scheduler, wecom, clock, ids, self.policies, fanout, self.signals, library)
        self.enrollments = EnrollmentService(repo, plans, self.kernel, clock, ids, self.signals)

    # --- enrollment -------------------------------------------------------------------------------------------

    def enroll(self, tenant: Tenant, customer_id: str, plan_id: str, *, source: str = "manual") -> Enrollment | None:
        """Enroll a customer into a published plan's current version (None: refused, and the reason logged; see
        services/enrollments.py, which decides)."""
        result = self.enrollments.attempt_by_id(tenant, customer_id, plan_id, source=source)
        if isinstance(result, Enrollment):
            return result
        if result.reason == CUSTOMER_NOT_FOUND:
            raise NotFoundError(f"customer {customer_id} does not exist", code=result.reason)
        return None

    def enroll_customer(
        self, tenant: Tenant, plan: Plan, customer: Customer, *, source: str = "manual"
    ) -> Enrollment | None:
        """Enroll a customer already read into a plan version already read (a bulk page reads both once)."""
        result = self.enrollments.attempt(tenant, plan, customer, source=source)
        return result if isinstance(result, Enrollment) else None

    # --- the kernel's entry points ----------------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Enroll many at once: due-now buckets fire once at the end (one task per executor), not per enrollment."""
        with self.kernel.batch():
            yield

    def fire(self, tenant_id: str, bucket_id: str, *, shard: Shard | None = None) -> FireReport:
        return self.kernel.fire(tenant_id, bucket_id, shard=shard)

    def fire_shard(self, tenant_id: str, bucket_id: str, shard: Shard) -> FireReport:
        """One shard of a bucket that fanned out (the local dispatcher's entry point)."""
        return self.kernel.fire(tenant_id, bucket_id, shard=shard)

    def backstop(self, tenant_id: str) -> list[FireReport]:
        return self.kernel.backstop(tenant_id)

    def reconcile(self, tenant_id: str) -> int:
        return self.kernel.reconcile(tenant_id)

    def retry_task(self, tenant_id: str, task_id: str) -> dict[str, Any]:
        """A retrying task's delayed schedule fired (the fire Lambda with ``{tenant_id, task_id}``): try it again."""
        delivered = self.kernel.retry_task(tenant_id, task_id)
        outcome = delivered.outcome if delivered else None
        return {"task_id": task_id, "outcome": outcome, "touches": len(delivered.subjects) if delivered else 0}

    # --- signals (the bus delivers orders and replies here first) ---------------------------------------------

    def on_signal(self, tenant_id: str, customer_id: str, signal: Signal) -> list[str]:
        """An order or a negative reply ends the enrollments whose exit rules it meets (before the silence timers
        and the triggers hear the same signal). Returns the plans exited."""
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        exited = []
        for enrollment in self.repo.enrollments_of(tenant_id, customer_id):
            if enrollment.status != ACTIVE:
                continue
            plan = self.plans.plan_version(tenant_id, enrollment.plan_id, enrollment.version)
            if plan is None:
                continue
            reason = fate.signal_exit(plan, signal.type, signal.kind)
            if reason is not None and self.repo.end_enrollment(
                tenant_id, enrollment, status=EXITED, reason=reason, at=iso_of(signal.at, tenant.zone)
            ):
                exited.append(enrollment.plan_id)
                told = Signal(EXITED_SIGNAL, signal.at, kind=reason, plan_id=enrollment.plan_id)
                self.signals.publish(tenant, customer_id, told)
        return exited
