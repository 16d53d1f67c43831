"""The console's 社群 reads, each one call for its page: groups with their cohorts, the live codes' rotation and the
camp plans (the overview); one group with its leaderboard; a camp plan's calendar by day.

Over the services that own each part (groups/setup.py, group_codes.py, points.py, sop/simulation.py, plans.py);
nothing here writes. A staff session sees the groups it owns or administers, as the JSON API's staff token does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from chalicelib.domain import group_plans
from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.domain.group_rotation import Slot, rotation
from chalicelib.domain.groups import Group
from chalicelib.domain.plans import GROUP_PLAN, Plan, PlanStatus
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.ports import Clock, Page
from chalicelib.services.groups.setup import GroupFilter

CODES = 20  # live codes on the overview (a tenant keeps a handful per campaign)
CAMP_PLANS = 50
BOARD = 20  # leaderboard rows on a group's page
CHOICES = 50  # active groups offered by a form (a code's groups, a camp's enrollment): one store page


class Groups(Protocol):
    def list(self, tenant_id: str, flt: GroupFilter, *, cursor: str | None, limit: int) -> Page: ...
    def get(self, tenant_id: str, chat_id: str, *, staff: str | None = None) -> Group: ...
    def naming(self, tenant_id: str) -> NamingTemplate: ...


class Codes(Protocol):
    def list(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def get(self, tenant_id: str, code_id: str) -> GroupCode: ...


class GroupReads(Protocol):
    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]: ...
    def group_codes_of_chats(self, tenant_id: str, chat_ids: list[str]) -> dict[str, str]: ...


class Plans(Protocol):
    def find(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...
    def current_plan(self, tenant_id: str, plan_id: str) -> Plan | None: ...


class Points(Protocol):
    def leaderboard(self, tenant_id: str, chat_id: str, *, limit: int) -> dict[str, Any]: ...


class Simulation(Protocol):
    def simulate(self, tenant: Tenant, plan_id: str, request: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CodeRotation:
    code: GroupCode
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Cohort:
    name: str  # "" for groups without a cohort
    start: str | None
    groups: list[Group] = field(default_factory=list)


@dataclass(frozen=True)
class GroupOverview:
    cohorts: list[Cohort]
    next_cursor: str | None
    codes: list[CodeRotation]
    camps: list[Plan]  # published group plans: their calendars


@dataclass(frozen=True)
class CodeEditor:
    """What the live-code form offers: the code (None: a new one), the groups it may take (active, on no other
    code; for an edit, its own waiting groups first), and the naming template its rooms are named by."""

    code: GroupCode | None
    groups: list[Group]
    naming: NamingTemplate


@dataclass(frozen=True)
class Candidate:
    """A group a camp plan's enrollment form offers, with why it cannot be enrolled (None: it can)."""

    group: Group
    refusal: str | None


@dataclass(frozen=True)
class CampDay:
    day: int | None
    date: str
    phase: str | None
    items: list[dict[str, Any]]


class GroupBoard:
    def __init__(
        self,
        groups: Groups,
        codes: Codes,
        repo: GroupReads,
        plans: Plans,
        points: Points,
        simulation: Simulation,
        clock: Clock,
    ) -> None:
        self.groups = groups
        self.codes = codes
        self.repo = repo
        self.plans = plans
        self.points = points
        self.simulation = simulation
        self.clock = clock

    def overview(self, tenant_id: str, flt: GroupFilter, *, cursor: str | None, limit: int) -> GroupOverview:
        """A page of groups gathered by cohort, the live codes with their rotation, and the camp plans. Staff see
        their own groups only, and no codes (a code spans groups that may be others')."""
        page = self.groups.list(tenant_id, flt, cursor=cursor, limit=limit)
        codes: list[CodeRotation] = []
        if flt.staff is None:
            found = [c for c in self.codes.list(tenant_id, cursor=None, limit=CODES).items if isinstance(c, GroupCode)]
            chats = sorted({chat for c in found for chat in (*c.chat_ids, *c.queue, *c.retired)})
            groups = self.repo.get_groups(tenant_id, chats) if chats else {}
            codes = [CodeRotation(c, rotation(c, groups)) for c in found]
        plans = self.plans.find(tenant_id, status=PlanStatus.PUBLISHED.value, cursor=None, limit=CAMP_PLANS)
        camps = [p for p in plans.items if p.kind == GROUP_PLAN]
        return GroupOverview(by_cohort(page.items), page.next_cursor, codes, camps)

    def group(self, tenant_id: str, chat_id: str, *, staff: str | None) -> dict[str, Any]:
        """One group and its leaderboard (points from its check-ins)."""
        group = self.groups.get(tenant_id, chat_id, staff=staff)
        board = self.points.leaderboard(tenant_id, chat_id, limit=BOARD)
        return {"group": group, "leaderboard": board["items"]}

    def calendar(self, tenant: Tenant, plan_id: str, cohort_start: str | None) -> dict[str, Any]:
        """A camp plan's calendar for a cohort starting on ``cohort_start`` (default: the plan's fixed day 0, else
        today), by day, each deferral named (the simulator's, as the engine will do it)."""
        plan = self.plans.current_plan(tenant.tenant_id, plan_id)
        if plan is None or plan.kind != GROUP_PLAN:
            raise NotFoundError(f"group plan {plan_id} does not exist")
        start = cohort_start or plan.day0 or self.clock.now().astimezone(tenant.zone).date().isoformat()
        try:
            date.fromisoformat(start)
        except ValueError as exc:
            raise InvalidError("开营日期须为 YYYY-MM-DD") from exc
        camp = self.simulation.simulate(tenant, plan_id, {"cohort_start": start})
        enrollable = plan.status == PlanStatus.PUBLISHED
        candidates = self._candidates(tenant.tenant_id, plan) if enrollable else []
        return {
            "plan": plan,
            "camp": camp,
            "days": by_day(camp["items"]),
            "enrollable": enrollable,
            "candidates": candidates,
        }

    def _active(self, tenant_id: str) -> list[Group]:
        return list(self.groups.list(tenant_id, GroupFilter(status="active"), cursor=None, limit=CHOICES).items)

    def _candidates(self, tenant_id: str, plan: Plan) -> list[Candidate]:
        """The active groups in the plan's audience (its named groups, or its types, cohorts and tags), each with
        the enrollment's own refusal (no cohort start…): the form offers the ready ones."""
        found = [Candidate(g, group_plans.refusal(plan, g)) for g in self._active(tenant_id)]
        return [c for c in found if group_plans.matches(plan.groups, c.group)]

    def code_editor(self, tenant_id: str, code_id: str | None) -> CodeEditor:
        """The live-code form's choices: a new code's groups (active, on no code), or an edit's waiting groups (its
        queue in order, then the free ones)."""
        code = self.codes.get(tenant_id, code_id) if code_id else None
        active = self._active(tenant_id)
        taken = self.repo.group_codes_of_chats(tenant_id, [g.chat_id for g in active]) if active else {}
        free = [g for g in active if g.chat_id not in taken]
        if code is not None and code.queue:
            waiting = self.repo.get_groups(tenant_id, list(code.queue))
            free = [waiting[c] for c in code.queue if c in waiting] + free
        return CodeEditor(code, free, self.groups.naming(tenant_id))


def by_cohort(groups: list[Group]) -> list[Cohort]:
    """Groups gathered by cohort in the order they were listed; groups without one last."""
    cohorts: dict[str, Cohort] = {}
    for g in groups:
        name = g.setup.cohort or ""
        cohorts.setdefault(name, Cohort(name, g.setup.cohort_start)).groups.append(g)
    return sorted(cohorts.values(), key=lambda c: c.name == "")


def by_day(items: list[dict[str, Any]]) -> list[CampDay]:
    """The calendar's touches gathered by their planned date, in order."""
    days: dict[str, CampDay] = {}
    for item in items:
        day = days.setdefault(item["date"], CampDay(item.get("day"), item["date"], item.get("phase"), []))
        day.items.append(item)
    return [days[d] for d in sorted(days)]


def board_of(svc: Any) -> GroupBoard:
    """The console's group reads over the wired services (stateless: building one per request is free)."""
    return GroupBoard(svc.groups, svc.group_codes, svc.store, svc.plans, svc.points, svc.simulation, svc.clock)
