"""Bulk enrollment by filter: bounded slices, resumable, progress visible, no double enrollment on a re-run."""

from __future__ import annotations

from typing import Any

from chalicelib.ports import CustomerFilter
from chalicelib.services import bulk as bulk_module
from tests.unit.conftest import Env, make_channel


def _plan(env: Env) -> Any:
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "沉默唤醒",
            "trigger": {"type": "manual"},
            "steps": [
                {"id": "s1", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "好久不见"}}
            ],
        },
    )
    return env.svc.plans.publish(env.tenant, plan.plan_id)


def test_a_bulk_job_enrolls_every_match_in_slices_and_resumes(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_module, "PAGE", 7)
    a = make_channel(env)
    b = make_channel(env, name="B站", source="bilibili")
    wanted = {env.scan(a.state)[1].customer_id for _ in range(20)}
    others = {env.scan(b.state)[1].customer_id for _ in range(5)}
    plan = _plan(env)
    job = env.svc.bulk.start(env.tenant, plan.plan_id, CustomerFilter(channel_id=a.channel_id))
    assert job["status"] == "done" and job["scanned"] == 20 and job["enrolled"] == 20
    enrolled = {c for c in wanted | others if env.store.get_enrollment("unit", c, plan.plan_id)}
    assert enrolled == wanted
    # One schedule for all twenty (same step, same due minute).
    assert env.scheduler.calls == 1


def test_a_bulk_job_interrupted_midway_is_continued_by_the_backstop(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_module, "PAGE", 5)
    ch = make_channel(env)
    ids = {env.scan(ch.state)[1].customer_id for _ in range(12)}
    plan = _plan(env)
    monkeypatch.setattr(bulk_module, "SLICE_SECONDS", 0.0)  # the API call does no slice: only the job is recorded
    job = env.svc.bulk.start(env.tenant, plan.plan_id, CustomerFilter())
    assert job["status"] == "running" and job["scanned"] == 0
    assert env.svc.bulk.status("unit", job["job_id"])["status"] == "running"
    assert env.svc.bulk.continue_running(env.tenant, budget_seconds=10) == 1
    final = env.svc.bulk.status("unit", job["job_id"])
    assert final["status"] == "done" and final["enrolled"] == 12 and final["scanned"] == 12
    assert all(env.store.get_enrollment("unit", c, plan.plan_id) for c in ids)
    # A stale worker that read the job before it advanced cannot advance it again.
    stale = dict(job, seq=job["seq"] + 1, cursor="x")  # read before the backstop advanced it
    assert env.store.put_job("unit", stale) is False
    assert env.svc.bulk.status("unit", job["job_id"]) == final


def test_a_due_now_step_fires_at_enrollment_and_once_per_page_in_bulk(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_module, "PAGE", 50)
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "立即破冰",
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "你好"}}],
        },
    )
    env.svc.plans.publish(env.tenant, plan.plan_id)
    ch = make_channel(env)
    first = env.scan(ch.state)[1].customer_id
    env.svc.sop.enroll(env.tenant, first, plan.plan_id)  # due now: fired on the spot, no schedule
    assert len(env.world.calls("externalcontact/add_msg_template")) == 1
    assert env.scheduler.calls == 0
    for _ in range(30):
        env.scan(ch.state)
    env.svc.bulk.start(env.tenant, plan.plan_id, CustomerFilter(channel_id=ch.channel_id))
    calls = env.world.calls("externalcontact/add_msg_template")
    assert len(calls) == 2 and len(calls[1].payload["external_userid"]) == 30  # one task for the whole page


def test_a_bulk_page_reads_in_batches_and_never_revives_an_erased_customer(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_module, "PAGE", 10)
    ch = make_channel(env)
    ids = [env.scan(ch.state)[1].customer_id for _ in range(25)]
    plan = _plan(env)
    listing = env.svc.bulk.customers.list_customers
    erased: list[str] = []

    def list_then_erase(*args: Any, **kwargs: Any) -> Any:
        page = listing(*args, **kwargs)
        if page.items and not erased:  # a customer erased between the listing and the enrollment
            erased.append(page.items[0].customer_id)
            env.store.erase_customer("unit", erased[0], tombstones=[])
        return page

    monkeypatch.setattr(env.svc.bulk.customers, "list_customers", list_then_erase)
    counts = dict.fromkeys(("get_customer", "get_enrollment", "get_customers", "get_enrollments"), 0)
    for name in counts:
        original = getattr(env.store, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(env.store, name, counted)
    job = env.svc.bulk.start(env.tenant, plan.plan_id, CustomerFilter(channel_id=ch.channel_id))
    assert (job["status"], job["scanned"], job["enrolled"], job["skipped"]) == ("done", 25, 24, 1)
    # Three pages: one batched read of profiles and one of enrollments each, no single reads per customer.
    assert counts == {"get_customer": 0, "get_enrollment": 0, "get_customers": 3, "get_enrollments": 3}
    assert env.store.get_enrollment("unit", erased[0], plan.plan_id) is None  # erasure stays erasure
    assert env.store.get_customer("unit", erased[0]) is None
    assert all(env.store.get_enrollment("unit", c, plan.plan_id) for c in ids if c != erased[0])


def test_a_page_cut_short_between_an_enrollment_and_its_touch_is_finished_by_the_re_run(
    env: Env, monkeypatch: Any
) -> None:
    """The page's re-run skips the customers this job enrolled, but first gives the one whose attempt died after the
    enrollment's write its first touch (services/enrollments.py, RESUME_WITHIN): no customer enrolled untouched."""
    monkeypatch.setattr(bulk_module, "PAGE", 5)
    ch = make_channel(env)
    ids = {env.scan(ch.state)[1].customer_id for _ in range(5)}
    plan = _plan(env)
    original, calls = env.store.add_touch, {"n": 0}

    def dies_on_the_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the Lambda died")
        return original(*args, **kwargs)

    monkeypatch.setattr(env.store, "add_touch", dies_on_the_third)
    monkeypatch.setattr(bulk_module, "SLICE_SECONDS", 0.0)
    job = env.svc.bulk.start(env.tenant, plan.plan_id, CustomerFilter())
    try:
        env.svc.bulk.continue_running(env.tenant, budget_seconds=10)
    except RuntimeError:
        pass  # the page died after its third enrollment's write; the job's step was not advanced
    assert env.svc.bulk.continue_running(env.tenant, budget_seconds=10) == 1
    final = env.svc.bulk.status("unit", job["job_id"])
    assert final["status"] == "done" and final["enrolled"] == 5  # the cut-short page's counts were never recorded
    buckets = {s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()}
    touched = {t.subject.id for b in buckets for t in env.store.touches_in("unit", b)}
    assert touched == ids  # every customer has its first touch, the cut-short one included
