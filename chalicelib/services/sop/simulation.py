"""``POST /t/{tenant_id}/plans/{plan_id}/simulate``: the request checked, then the pure simulator (domain/simulate.py)
on a virtual clock — no WeCom call, no write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from chalicelib.domain import group_simulate
from chalicelib.domain import simulate as simulation
from chalicelib.domain.plan_calendar import CalendarDay, calendar
from chalicelib.domain.plans import GROUP_PLAN, Plan
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.sop.content import ContentSource
from chalicelib.services.sop.rules import PlanSource, rules_of

MAX_JOINS = 24
MAX_DAYS = 90  # as the simulate endpoint's schema allows


@dataclass(frozen=True)
class CalendarPreview:
    """A cohort's touches by day and time (the console's preview): the start (day 0), the days, the totals."""

    start: str
    kind: str
    days: list[CalendarDay]
    totals: dict[str, int] = field(default_factory=dict)  # task | deferred | dropped | skipped


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

    def calendar(
        self, tenant: Tenant, plan_id: str, *, start: date, joins: list[str], days: int, version: int | None = None
    ) -> CalendarPreview:
        """The calendar preview: a customer plan for a cohort joining on ``start`` at each of ``joins`` (HH:MM,
        local) over ``days`` days; a group plan's camp with ``start`` as the cohort's day 0. Same simulator."""
        request: dict[str, Any] = {"version": version} if version else {}
        if not 1 <= days <= MAX_DAYS:
            raise InvalidError(f"days must be 1 to {MAX_DAYS}", code="invalid")
        if not joins or len(joins) > MAX_JOINS:
            raise InvalidError(f"give 1 to {MAX_JOINS} join times", code="invalid")
        try:
            instants = [datetime.combine(start, time.fromisoformat(j), tenant.zone) for j in joins]
        except ValueError as exc:
            raise InvalidError("join times are HH:MM", code="invalid") from exc
        cohort = [{"id": f"{j}加入", "joined_at": at.isoformat()} for j, at in zip(joins, instants, strict=True)]
        request |= {"cohort_start": start.isoformat(), "days": days, "cohort": cohort}
        plan = (
            self.plans.plan_version(tenant.tenant_id, plan_id, version)
            if version
            else self.plans.current_plan(tenant.tenant_id, plan_id)
        )
        is_camp = plan is not None and plan.kind == GROUP_PLAN
        if is_camp:
            request = {k: v for k, v in request.items() if k in ("version", "cohort_start")}
        else:
            request.pop("cohort_start")
        answer = self.simulate(tenant, plan_id, request)
        # A Moments step (朋友圈) says so in its title: the calendar shows a post, not a message.
        titles = {s.id: ("朋友圈 · " if s.is_moment else "") + s.title for s in plan.steps} if plan is not None else {}
        items = [
            {**i, "title": i.get("title") or titles.get(i["step_id"], "")}
            for i in answer.get("items", answer.get("touches", []))
        ]
        day0 = date.fromisoformat(answer.get("cohort_start") or start.isoformat())
        laid_out = calendar(items, day0)
        totals = {o: sum(1 for i in items if i["outcome"] == o) for o in ("task", "dropped", "skipped")}
        totals["deferred"] = sum(1 for d in laid_out for e in d.entries if e.deferred)
        return CalendarPreview(day0.isoformat(), GROUP_PLAN if is_camp else "customer", laid_out, totals)
