"""The customer subject policy: today's SOP behaviour for customers (external contacts), as the kernel asks it.

A customer's touch is judged in one place (``judge``): re-validation with the customer's state at fire time, then
the touch's timing (quiet hours, content windows, lateness), then the daily cap kept for a higher-priority plan,
then the customer's quota (WeCom's monthly receive limit and the tenant's daily caps), taken in the write that also
records the sent touch on the customer's timeline. Delivery is ``add_msg_template`` with ``chat_type`` "single".
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain import fate
from chalicelib.domain.customers import Customer
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Plan, Step
from chalicelib.domain.sop import (
    CUSTOMER,
    MAX_RECIPIENTS_PER_TASK,
    Enrollment,
    Subject,
    Touch,
    executor_of,
    next_step,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import MsgTemplateResult, WeComPort
from chalicelib.services.sop.policy import SEND, FireContext, SubjectPage, Verdict, verdict_of
from chalicelib.services.sop.rules import PlanSource, creds_of

# A fire of this many touches or more learns once whether any plan could outrank its step (see ``_contested``):
# below it, reading each capped customer's enrollments costs fewer calls than reading every published plan.
RIVALS_BY_PLAN = 64


class CustomerRepo(Protocol):
    """What the customer policy reads and writes (DynamoStore / FakeStore)."""

    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]: ...
    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]: ...
    def take_quota(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int | None,
        touch: Touch | None = None,
        last: bool = False,
    ) -> str | None: ...


class CustomerPolicy:
    """``SubjectPolicy[Customer]``: customers are reached one by one (chat_type "single", ≤ 10,000 a task)."""

    kind = CUSTOMER
    chat_type = "single"
    recipient_limit = MAX_RECIPIENTS_PER_TASK

    def __init__(self, repo: CustomerRepo, plans: PlanSource, wecom: WeComPort) -> None:
        self.repo = repo
        self.plans = plans
        self.wecom = wecom

    def load(self, tenant_id: str, plan_id: str, subjects: list[Subject]) -> SubjectPage[Customer]:
        ids = [s.id for s in subjects]
        customers = self.repo.get_customers(tenant_id, ids)
        enrollments = self.repo.get_enrollments(tenant_id, ids, plan_id)
        return SubjectPage(
            {Subject.customer(cid): c for cid, c in customers.items()},
            {Subject.customer(cid): e for cid, e in enrollments.items()},
        )

    def judge(
        self, ctx: FireContext, touch: Touch, customer: Customer | None, enrollment: Enrollment | None
    ) -> Verdict:
        """The touch's fate by ``domain/fate.py`` (the simulator's own decision), then the quota write it asks for."""
        tenant, rules, now = ctx.tenant, ctx.rules, ctx.now
        decided = fate.decide(
            plan=ctx.plan,
            step=ctx.step,
            enrollment=enrollment,
            customer=customer,
            touch=touch,
            rules=rules,
            zone=tenant.zone,
            now=now,
            tenant_id=tenant.tenant_id,
            rivals=lambda: self._rivals(ctx, touch.subject.id),
        )
        if decided.outcome == fate.SEND:
            assert ctx.step is not None and customer is not None and decided.quota is not None
            refused = self.take_quota(ctx, touch, customer, decided.quota)
            if refused is None:
                return Verdict(SEND)
            decided = fate.on_refused(refused, ctx.step, rules, tenant.zone, now)
        return verdict_of(decided, touch, enrollment)

    def take_quota(
        self, ctx: FireContext, touch: Touch, customer: Customer, quota: fate.Quota | None = None
    ) -> str | None:
        """Count the touch against the customer's month (and the day's cap for its content type); the refusal
        ("monthly_limit" or "cap") or None. The same write records the sent touch on the customer's timeline.
        ``quota``: the one ``fate.decide`` asked for (computed here when not given)."""
        assert ctx.plan is not None and ctx.step is not None
        quota = quota or fate.quota(ctx.step, ctx.rules, ctx.tenant.zone, ctx.now)
        return self.repo.take_quota(
            ctx.tenant.tenant_id,
            customer.customer_id,
            month=quota.month,
            day_key=quota.day_key,
            day_cap=quota.day_cap,
            month_cap=quota.month_cap if quota.counts_month else None,
            touch=touch,
            last=next_step(ctx.plan, ctx.step.id) is None,
        )

    def _rivals(self, ctx: FireContext, customer_id: str) -> list[tuple[Enrollment, Plan | None]]:
        """The customer's other enrollments with their plan versions (cached for the fire): read only when the
        touch's content type is capped, for ``fate.outranked``, and none when no plan could outrank the step."""
        if not self._contested(ctx):
            return []
        tenant_id = ctx.tenant.tenant_id
        rivals = []
        for other in self.repo.enrollments_of(tenant_id, customer_id):
            key = (other.plan_id, other.version)
            if key not in ctx.plans:
                ctx.plans[key] = self.plans.plan_version(tenant_id, other.plan_id, other.version)
            rivals.append((other, ctx.plans[key]))
        return rivals

    def _contested(self, ctx: FireContext) -> bool:
        """Whether any other published plan could outrank this fire's step for some customer. A fire of
        ``RIVALS_BY_PLAN`` touches or more asks once, from every published plan's versions (a listing and two reads
        per plan), and then reads no customer's enrollments when none could; a smaller one asks each customer."""
        assert ctx.plan is not None and ctx.step is not None
        if ctx.size < RIVALS_BY_PLAN:
            return True
        with ctx.lock:
            if ctx.peaks is None:
                versions = self.plans.published_versions(ctx.tenant.tenant_id)
                ctx.peaks = fate.priority_peaks(versions, besides=ctx.plan.plan_id)
        return fate.may_be_outranked(ctx.plan, ctx.step, ctx.peaks)

    def executor(self, step: Step, state: Customer) -> str:
        return executor_of(step, state)

    def address(self, state: Customer) -> str:
        return state.external_userid

    def deliver(
        self, tenant: Tenant, *, sender: str, recipients: list[Customer], message: Message
    ) -> MsgTemplateResult:
        return self.wecom.add_msg_template(
            creds_of(tenant),
            sender=sender,
            message=message,
            chat_type=self.chat_type,
            external_userids=[self.address(c) for c in recipients],
        )
