"""The customer subject policy: today's SOP behaviour for customers (external contacts), as the kernel asks it.

A customer's touch is judged in one place (``judge``): re-validation with the customer's state at fire time, then
the touch's timing (quiet hours, content windows, lateness), then the daily cap kept for a higher-priority plan,
then the customer's quota (WeCom's monthly receive limit and the tenant's daily caps), taken in the write that also
records the sent touch on the customer's timeline. Delivery is ``add_msg_template`` with ``chat_type`` "single".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain import timing
from chalicelib.domain.customers import Customer
from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Plan, PlanStatus, Step, TouchRules
from chalicelib.domain.sop import (
    ACTIVE,
    CUSTOMER,
    MAX_RECIPIENTS_PER_TASK,
    Enrollment,
    Subject,
    Touch,
    executor_of,
    next_step,
    revalidate,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import MsgTemplateResult, WeComPort
from chalicelib.services.sop.policy import DROP, MOVE, SEND, SKIP, WAIT, FireContext, SubjectPage, Verdict
from chalicelib.services.sop.rules import PlanSource, creds_of


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
        month_cap: int,
        touch: Touch | None = None,
        last: bool = False,
    ) -> str | None: ...


def next_month_start(now: datetime, tenant: Tenant, step: Step, rules: TouchRules) -> datetime:
    """Where a touch refused by WeCom's monthly receive limit is deferred to: the next local month's first slot."""
    local = now.astimezone(tenant.zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + timedelta(days=32)).replace(day=1)
    return timing.next_allowed(following, step.content_type, rules, tenant.zone)[0]


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
        plan, step, now, tenant, rules = ctx.plan, ctx.step, ctx.now, ctx.tenant, ctx.rules
        reason = revalidate(plan=plan, enrollment=enrollment, customer=customer, touch=touch, step=step)
        if reason is not None:
            exits = enrollment is not None and reason.startswith("exit:") and enrollment.status == ACTIVE
            return Verdict(SKIP, reason, exit=exits)
        assert plan is not None and step is not None and customer is not None and enrollment is not None
        decision = timing.on_fire(datetime.fromisoformat(touch.due_at), now, step, rules, tenant.zone)
        if decision.action == "skip":
            return Verdict(SKIP, decision.reason, advance=True)
        if decision.action == "move" and decision.due is not None:
            if timing.minute_bucket(decision.due) == ctx.bucket.minute:
                return Verdict(WAIT)  # fired early: the touch stays, the backstop fires the bucket when due
            return Verdict(MOVE, f"moved:{decision.reason}", at=decision.due)
        day_cap = rules.daily_caps.get(step.content_type)
        refused: str | None = None
        if day_cap is not None and self._outranked(ctx, customer.customer_id, plan, step):
            refused = "cap"  # a higher-priority plan has this customer's capped touch later today
        if refused is None:
            refused = self.take_quota(ctx, touch, customer)
        if refused is None:
            return Verdict(SEND)
        if step.on_cap != "defer":
            return Verdict(DROP, refused)
        later = (
            timing.next_day_start(now, tenant.zone, step.content_type, rules)
            if refused == "cap"
            else next_month_start(now, tenant, step, rules)
        )
        return Verdict(MOVE, f"moved:{refused}", at=later)

    def take_quota(self, ctx: FireContext, touch: Touch, customer: Customer) -> str | None:
        """Count the touch against the customer's month (and the day's cap for its content type); the refusal
        ("monthly_limit" or "cap") or None. The same write records the sent touch on the customer's timeline."""
        plan, step = ctx.plan, ctx.step
        assert plan is not None and step is not None
        local_day = timing.local_day(ctx.now, ctx.tenant.zone)
        day_cap = ctx.rules.daily_caps.get(step.content_type)
        return self.repo.take_quota(
            ctx.tenant.tenant_id,
            customer.customer_id,
            month=local_day[:7],
            day_key=f"{local_day}#{step.content_type}" if day_cap is not None else None,
            day_cap=day_cap,
            month_cap=timing.monthly_limit(ctx.rules, ctx.now, ctx.tenant.zone),
            touch=touch,
            last=next_step(plan, step.id) is None,
        )

    def _outranked(self, ctx: FireContext, customer_id: str, plan: Plan, step: Step) -> bool:
        """Whether another active plan of higher priority has a touch of the same capped content type due later
        today for this customer: the daily cap is kept for it (higher priority wins; this touch yields)."""
        tenant, now = ctx.tenant, ctx.now
        today = timing.local_day(now, tenant.zone)
        for other in self.repo.enrollments_of(tenant.tenant_id, customer_id):
            if other.status != ACTIVE or other.plan_id == plan.plan_id:
                continue
            key = (other.plan_id, other.version)
            if key not in ctx.plans:
                ctx.plans[key] = self.plans.plan_version(tenant.tenant_id, other.plan_id, other.version)
            rival = ctx.plans[key]
            if rival is None or rival.priority <= plan.priority or rival.status != PlanStatus.PUBLISHED:
                continue
            enrolled = datetime.fromisoformat(other.enrolled_at)
            for s in rival.steps:
                if s.content_type != step.content_type:
                    continue
                due = timing.due_at(s, enrolled, ctx.rules, tenant.zone).due
                if due > now and timing.local_day(due, tenant.zone) == today:
                    return True
        return False

    def executor(self, step: Step, state: Customer) -> str:
        return executor_of(step, state)

    def deliver(
        self, tenant: Tenant, *, sender: str, recipients: list[Customer], message: Message
    ) -> MsgTemplateResult:
        return self.wecom.add_msg_template(
            creds_of(tenant),
            sender=sender,
            message=message,
            chat_type=self.chat_type,
            external_userids=[c.external_userid for c in recipients],
        )
