"""A staff member's day (services/my_day.py) with the fake store: today's tasks in the tenant's calendar by due time,
follow-ups, overdue tasks, hot leads of their own customers only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.alerts import HotLead
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.facts import StaffDayDelta
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.services.my_day import MyDayService
from tests.fakes import FixedClock
from tests.fakes.store import FakeStore

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 on 12-01 in Shanghai (the UTC date is the same)


def task(task_id: str, due: str, *, kind: str = "mass", status: str = "created", userid: str = "zhang") -> StaffTask:
    return StaffTask(task_id, userid, kind, status, due, due, recipients=("c1",))


def setup() -> tuple[FakeStore, MyDayService]:
    store = FakeStore()
    store.create_tenant(Tenant("acme", "Acme", "wwacme", "Asia/Shanghai", "t", "k" * 43, "s", "salt", ""))
    at = NOW.isoformat()
    for cid, owner in (("c1", "zhang"), ("c2", "zhang"), ("c3", "li")):
        customer = Customer(cid, f"wm{cid}", owner, "ch", Stage.HOT, at, at, at, name=f"家长{cid}", version=1)
        store.create_customer("acme", customer, StaffDayDelta(owner, "2026-12-01", {"adds": 1}))
    return store, MyDayService(store, FixedClock(NOW))


def test_today_is_the_tenants_day_by_due_time_with_done_tasks_kept() -> None:
    store, svc = setup()
    for t in (
        task("t_late", "2026-12-01T21:00:00+08:00"),
        task("t_early", "2026-12-01T00:30:00+08:00", status="confirmed"),  # 16:30 UTC the day before
        task("t_tomorrow", "2026-12-02T00:00:00+08:00"),
        task("t_yesterday", "2026-11-30T23:59:00+08:00"),
        task("t_old_sent", "2026-11-29T09:00:00+08:00", status="sent"),
        task("t_other", "2026-12-01T09:00:00+08:00", userid="li"),
        task("f_open", "2026-11-28T09:00:00+08:00", kind="follow_up"),
        task("f_done", "2026-11-28T09:00:00+08:00", kind="follow_up", status="confirmed"),
        task("f_today", "2026-12-01T10:15:00+08:00", kind="follow_up", status="done"),
        task("e_today", "2026-12-01T09:00:00+08:00", kind="escalation"),
    ):
        store.create_task("acme", t)
    day = svc.day("acme", "zhang")
    assert day.date == "2026-12-01"
    assert [t.task_id for t in day.tasks] == ["t_early", "t_late"]
    assert [t.task_id for t in day.follow_ups] == ["f_open", "e_today", "f_today"]  # a confirmed old one is done
    assert [t.task_id for t in day.overdue] == ["t_yesterday"]
    assert day.customers["c1"].name == "家长c1"


def test_hot_leads_are_the_owners_own_and_still_hot() -> None:
    store, svc = setup()
    for cid, owner, hours_ago in (("c1", "zhang", 1), ("c2", "zhang", 3), ("c3", "zhang", 2)):
        at = NOW - timedelta(hours=hours_ago)
        lead = HotLead(cid, owner, at.isoformat(), (at + timedelta(days=7)).isoformat(), f"r{cid}")
        store.mark_hot("acme", lead, hot_key=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    day = svc.day("acme", "zhang")
    assert [h.customer.customer_id for h in day.hot] == ["c1", "c2"]  # c3 belongs to li now
    assert day.hot[0].customer.name == "家长c1" and svc.day("acme", "li").hot == []
