"""``POST /t/{tenant_id}/plans/{plan_id}/simulate``: the request checked, then the pure simulator (domain/simulate.py)
on a virtual clock — no WeCom call, no write."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.domain import group_simulate
from chalicelib.domain import simulate as simulation
from chalicelib.domain.plans import GROUP_PLAN, Plan
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.sop.content import ContentSource
from chalicelib.services.sop.rules import PlanSource, rules_of


class Simulator:
    def __init__(self, plans: PlanSource, contents: ContentSource) -> None:
        self.plans = plans
        self.contents = contents  # the group content a group plan's steps name, shown as it is now

    def simulate(self, tenant: Tenant, plan_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Preview paths: the same timing code as the fire handler, on a virtual clock; no WeCom call, no write."""
        version = request.get("version")
        plan = (
            self.plans.plan_version(tenant.tenant_id, plan_id, version)
            if version
            else self.plans.current_plan(tenant.tenant_id, plan_id)
        )
        if plan is None:
            raise NotFoundError(f"plan {plan_id} does not exist")
        if plan.kind == GROUP_PLAN:
            return self._camp(tenant, plan, request)
        if "cohort" not in request or "days" not in request:
            raise InvalidError("a customer plan's simulation needs days and cohort", code="invalid")
        try:
            cohort = simulation.cohort_from_json(request["cohort"], tenant.zone)
            touches = simulation.simulate(
                plan, rules_of(tenant), tenant.zone, cohort, request["days"], tenant_id=tenant.tenant_id
            )
        except ValueError as exc:
            raise InvalidError(str(exc)) from exc
        return simulation.to_json(touches, tenant.zone)

    def _camp(self, tenant: Tenant, plan: Plan, request: dict[str, Any]) -> dict[str, Any]:
        """A group plan's calendar for a cohort starting on ``cohort_start`` (day 0), every deferral named."""
        raw = request.get("cohort_start")
        if raw is None and plan.day0 is None:
            raise InvalidError("a group plan's simulation needs cohort_start (YYYY-MM-DD: day 0)", code="invalid")
        try:
            start = date.fromisoformat(raw or plan.day0 or "")
            touches = group_simulate.simulate_camp(plan, rules_of(tenant), tenant.zone, start)
        except ValueError as exc:
            raise InvalidError(str(exc)) from exc
        named = {s.content_id for s in plan.steps if s.content_id}
        contents = {c: self.contents.get_group_content(tenant.tenant_id, c) for c in sorted(named)}
        return group_simulate.camp_to_json(plan, touches, tenant.zone, start, contents)
