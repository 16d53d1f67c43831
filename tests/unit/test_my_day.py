"""A staff member's day (services/my_day.py) with the fake store: today's tasks in the tenant's calendar by due time,
follow-ups, overdue tasks, hot leads of their own customers only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.alerts import HotLead
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.facts import StaffDayDelta
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.my_day import MyDayService, image_type, proof_path
from chalicelib.services.staff_tasks import StaffTaskService
from tests.fakes import FixedClock
from tests.fakes.blobs import FakeBlobs
from tests.fakes.store import FakeStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32

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
    clock = FixedClock(NOW)
    return store, MyDayService(store, clock, StaffTaskService(store, clock), FakeBlobs())


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


def test_a_task_is_confirmed_with_a_screenshot_only_by_its_owner() -> None:
    store, svc = setup()
    store.create_task("acme", task("t1", "2026-12-01T09:00:00+08:00"))
    with pytest.raises(NotFoundError):
        svc.confirm_with_proof("acme", "t1", userid="li", data=PNG)  # not theirs
    for bad in (b"", b"GIF00 not an image", PNG + b"\0" * (5 * 1024 * 1024)):
        with pytest.raises(InvalidError):
            svc.confirm_with_proof("acme", "t1", userid="zhang", data=bad)
    assert svc.blobs.objects == {}  # type: ignore[union-attr]
    assert store.get_task("acme", "t1").status == "created"  # type: ignore[union-attr]
    done = svc.confirm_with_proof("acme", "t1", userid="zhang", data=PNG, content_type="text/plain")
    assert done.status == "confirmed" and done.proof_url == proof_path("acme", "t1") == "/console/acme/tasks/t1/proof"
    blob = svc.proof("acme", "t1", userid="zhang")
    assert (blob.data, blob.content_type) == (PNG, "image/png")  # its bytes say what it is, not the browser
    assert svc.proof("acme", "t1", userid=None).data == PNG  # ops
    with pytest.raises(NotFoundError):
        svc.proof("acme", "t1", userid="li")
    store.create_task("acme", task("t2", "2026-12-01T09:00:00+08:00"))
    with pytest.raises(NotFoundError):
        svc.proof("acme", "t2", userid="zhang")  # no proof yet


def test_a_task_view_names_its_customers_and_snooze_moves_it() -> None:
    store, svc = setup()
    store.create_task("acme", replace(task("t1", "2026-12-01T09:00:00+08:00"), recipients=("c1", "c2", "gone")))
    view = svc.task("acme", "t1", userid="zhang")
    assert [c.name for c in view.customers] == ["家长c1", "家长c2"] and view.more == 0
    with pytest.raises(InvalidError):
        svc.snooze("acme", "t1", userid="zhang", minutes=0)
    snoozed = svc.snooze("acme", "t1", userid="zhang", minutes=30)
    assert snoozed.due_at == "2026-12-01T10:30:00+08:00"


def test_image_types_are_read_from_the_bytes() -> None:
    assert image_type(PNG) == "image/png" and image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert image_type(b"GIF89a..") == "image/gif" and image_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert image_type(b"<svg") is None and image_type(b"") is None


def test_a_task_for_one_customer_names_them_and_a_task_for_many_does_not_fetch_them() -> None:
    store, svc = setup()
    store.create_task("acme", replace(task("t_one", "2026-12-01T09:00:00+08:00"), recipients=("c2",)))
    store.create_task("acme", replace(task("t_old", "2026-11-30T09:00:00+08:00"), recipients=("c3",)))  # overdue
    store.create_task("acme", replace(task("t_many", "2026-12-01T11:00:00+08:00"), recipients=("c1", "c2")))
    day = svc.day("acme", "zhang")
    assert [t.task_id for t in day.tasks] == ["t_one", "t_many"] and [t.task_id for t in day.overdue] == ["t_old"]
    assert sorted(day.customers) == ["c2", "c3"]  # c1 only in a task for many: the page says "2 位客户"
    assert day.customers["c2"].name == "家长c2"
