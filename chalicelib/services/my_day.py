"""A staff member's day (「我的今天」): their tasks due today in the tenant's calendar, by due time; their follow-ups
(1:1 tasks, escalations) still open or done today; overdue tasks of the last week still waiting; and their hot leads.

Read only, a few Queries: the tasks index by owner and due range, the owner's hot-lead index, one BatchGet of the
customers named. A hot lead whose customer has since moved to another owner, or was erased, is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol

from chalicelib.domain.alerts import HOT_DAYS, HotLead
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import utc_key
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError
from chalicelib.ports import Clock, TaskRepository
from chalicelib.ports.alerts import HotLeadRepository

FOLLOW_UP_KINDS = frozenset({"follow_up", "escalation"})
WAITING = "created"  # nobody has acted on it yet (a confirmed or snoozed one is in hand)
LOOKBACK = timedelta(days=7)  # overdue tasks and open follow-ups from this far back still show
MAX_TASKS = 200
MAX_HOT = 50


class MyDayRepo(TaskRepository, HotLeadRepository, Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...


@dataclass(frozen=True)
class HotView:
    lead: HotLead
    customer: Customer


@dataclass(frozen=True)
class MyDay:
    """What the page shows; ``customers`` names the tasks' customers (a name is fine on the staff member's own page)."""

    date: str  # the tenant-local day
    tasks: list[StaffTask]  # mass and welcome tasks due today, by due time (done ones too: shown as done)
    follow_ups: list[StaffTask]  # 1:1 follow-ups and escalations: open ones of the last week, and today's
    overdue: list[StaffTask]  # mass tasks due before today, still not sent
    hot: list[HotView]
    customers: dict[str, Customer] = field(default_factory=dict)


class MyDayService:
    def __init__(self, repo: MyDayRepo, clock: Clock, *, lookback: timedelta = LOOKBACK) -> None:
        self.repo = repo
        self.clock = clock
        self.lookback = lookback

    def day(self, tenant_id: str, userid: str) -> MyDay:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        zone = tenant.zone
        now = self.clock.now()
        today = now.astimezone(zone).date()
        start = datetime.combine(today, time(0, 0), zone)
        end = datetime.combine(today + timedelta(days=1), time(0, 0), zone)
        rows = self.repo.list_tasks(
            tenant_id,
            userid=userid,
            status=None,
            due_from=utc_key(start - self.lookback),
            due_to=utc_key(end),
            limit=MAX_TASKS,
        )
        start_key = utc_key(start)
        todays = [t for t in rows if utc_key(datetime.fromisoformat(t.due_at)) >= start_key]
        earlier = [t for t in rows if utc_key(datetime.fromisoformat(t.due_at)) < start_key]
        tasks = [t for t in todays if t.kind not in FOLLOW_UP_KINDS]
        follow_ups = [t for t in earlier if t.kind in FOLLOW_UP_KINDS and t.status == WAITING]
        follow_ups += [t for t in todays if t.kind in FOLLOW_UP_KINDS]
        overdue = [t for t in earlier if t.kind not in FOLLOW_UP_KINDS and t.status == WAITING]
        leads = self.repo.hot_leads(tenant_id, userid, since_key=utc_key(now - timedelta(days=HOT_DAYS)), limit=MAX_HOT)
        named = {cid for t in follow_ups for cid in t.customer_ids} | {h.customer_id for h in leads}
        customers = self.repo.get_customers(tenant_id, sorted(named)) if named else {}
        hot = [
            HotView(h, customers[h.customer_id])
            for h in leads
            if h.customer_id in customers
            and customers[h.customer_id].owner_userid == userid
            and datetime.fromisoformat(h.until) > now
        ]
        return MyDay(today.isoformat(), tasks, follow_ups, overdue, hot, customers)
