"""Plan triggers: a tag added, a stage entered or a channel add enrolls into the published plans they trigger.

A tenant has few plans, so the published ones are listed (and cached briefly) rather than indexed by trigger; the
kernel's enroll applies audience and re-entry policy, so a repeated trigger enrolls once. It hears the ``tag``,
``stage`` and ``added`` signals (services/signals.py) and knows nobody who sends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from chalicelib.domain.plans import Plan
from chalicelib.domain.signals import ADDED, STAGE, TAG, Signal
from chalicelib.domain.silence import stage_triggered, tag_triggered
from chalicelib.domain.sop import Enrollment
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import SiyuError
from chalicelib.observability import logger
from chalicelib.ports import Enroller, Page

PLAN_CACHE_SECONDS = 30.0  # a newly published trigger plan catches triggers within this (per warm Lambda)
PLAN_PAGE = 100


class PlanLister(Protocol):
    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...


class TriggerService:
    def __init__(
        self,
        repo: PlanLister,
        enroller: Enroller,
        *,
        plan_cache_seconds: float = PLAN_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repo = repo
        self.enroller = enroller
        self.plan_cache_seconds = plan_cache_seconds
        self.monotonic = monotonic
        self._triggers: dict[str, tuple[float, list[Plan]]] = {}

    def on_signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> list[str]:
        """The bus's entry: the plans a stage entered, tags added or a channel add trigger. Returns those enrolled."""
        if signal.type == STAGE and signal.stage:
            return self.on_stage_entered(tenant, customer_id, signal.stage)
        if signal.type == TAG:
            return self.on_tags_added(tenant, customer_id, signal.tag_ids)
        if signal.type == ADDED and signal.channel_id:
            return self.on_channel_added(tenant, customer_id, signal.channel_id)
        return []

    def on_tags_added(self, tenant: Tenant, customer_id: str, tag_ids: Iterable[str]) -> list[str]:
        """Tags were added to a customer: enroll into every published plan triggered by one of them (audience and
        re-entry policy apply). Returns the plans enrolled."""
        added = set(tag_ids)
        if not added:
            return []
        plans = [p for p in self._trigger_plans(tenant.tenant_id) if tag_triggered(p, added)]
        return self._enroll_all(tenant, customer_id, plans, "tag")

    def on_channel_added(self, tenant: Tenant, customer_id: str, channel_id: str) -> list[str]:
        """A customer was added through a channel: enroll into every published plan whose trigger names it (a
        channel's own ``plan_id`` is enrolled by intake as well; the re-entry policy keeps that to one)."""
        plans = [
            p
            for p in self._trigger_plans(tenant.tenant_id)
            if p.trigger.type == "channel" and p.trigger.channel_id == channel_id
        ]
        return self._enroll_all(tenant, customer_id, plans, "channel")

    def on_stage_entered(self, tenant: Tenant, customer_id: str, stage: str) -> list[str]:
        """The customer entered a lifecycle stage: enroll into every published plan triggered by it."""
        plans = [p for p in self._trigger_plans(tenant.tenant_id) if stage_triggered(p, stage)]
        return self._enroll_all(tenant, customer_id, plans, "stage")

    def _enroll_all(self, tenant: Tenant, customer_id: str, plans: list[Plan], source: str) -> list[str]:
        enrolled = []
        for plan in plans:  # highest priority first
            try:
                if self._enroll(tenant, customer_id, plan.plan_id, source) is not None:
                    enrolled.append(plan.plan_id)
            except SiyuError as exc:  # one plan's failure must not keep the customer out of the others
                logger.warning(
                    "trigger enrollment failed",
                    extra={"tenant": tenant.tenant_id, "plan": plan.plan_id, "code": exc.code},
                )
        return enrolled

    def _enroll(self, tenant: Tenant, customer_id: str, plan_id: str, source: str) -> Enrollment | None:
        """The kernel's enroll (it signals ``enrolled``: the silence timer starts from that)."""
        return self.enroller.enroll(tenant, customer_id, plan_id, source=source)

    def _trigger_plans(self, tenant_id: str) -> list[Plan]:
        """Published plans with a tag, stage or channel trigger, highest priority first (briefly cached)."""
        now = self.monotonic()
        hit = self._triggers.get(tenant_id)
        if hit is not None and now - hit[0] < self.plan_cache_seconds:
            return hit[1]
        plans: list[Plan] = []
        cursor = None
        while True:
            page = self.repo.list_plans(tenant_id, status="published", cursor=cursor, limit=PLAN_PAGE)
            plans += [p for p in page.items if p.trigger.type in ("tag", "stage", "channel")]
            cursor = page.next_cursor
            if not cursor:
                break
        plans.sort(key=lambda p: (-p.priority, p.plan_id))
        self._triggers[tenant_id] = (now, plans)
        return plans
