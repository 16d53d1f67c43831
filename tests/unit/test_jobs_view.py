"""The console's jobs: a bulk enrollment and a group sync read as one shape with their progress, and the jobs face
over the real services (a bulk job started, listed while running, read by id when done)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain import jobs
from chalicelib.errors import NotFoundError
from chalicelib.ports import CustomerFilter
from chalicelib.services import bulk as bulk_module
from chalicelib.services.jobs import jobs_of
from tests.unit.conftest import Env, make_channel


def test_a_running_bulk_job_has_no_share_yet_and_a_done_one_is_complete() -> None:
    job = {"job_id": "bj_1", "plan_id": "pl_1", "status": "running", "seq": 2, "scanned": 200, "enrolled": 150,
           "skipped": 50, "refused": {"already_enrolled": 30, "audience_not_matched": 20}, "started_at": "s",
           "updated_at": "u"}  # fmt: skip
    view = jobs.bulk_view(job)
    assert view.running and view.percent is None and view.stage == "正在处理第 3 页客户"
    counts = {c.label: c.value for c in view.counts}
    assert counts["已扫描客户"] == 200 and counts["已入组"] == 150 and counts["未入组：已在计划中"] == 30
    assert counts["未入组：不符合计划人群"] == 20
    done = jobs.bulk_view(dict(job, status="done"))
    assert not done.running and done.percent == 100 and done.status_label == "已完成"
    assert done.public()["percent"] == 100 and done.public()["running"] is False


def test_a_group_sync_is_half_done_once_it_sweeps() -> None:
    job = {"job_id": "gs_1", "reason": "first", "status": "running", "phase": "list", "pages": 0, "groups_seen": 0,
           "changed": 0, "errors": 0, "dismissed": 0, "started_at": "s", "updated_at": "u"}  # fmt: skip
    listing = jobs.sync_view(job)
    assert listing.percent is None and listing.title == "社群同步 · 首次同步" and "第 1 步" in listing.stage
    assert jobs.sync_view(dict(job, phase="sweep")).percent == 50
    assert jobs.sync_view(dict(job, phase="sweep", status="done")).percent == 100


def test_job_ids_name_their_kind() -> None:
    assert jobs.kind_of("bj_x") == jobs.BULK and jobs.kind_of("gs_x") == jobs.GROUP_SYNC
    assert jobs.kind_of("xx_1") is None


def _plan(env: Env) -> Any:
    steps = [{"id": "s1", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "好久不见"}}]
    plan = env.svc.plans.create(env.tenant, {"name": "沉默唤醒", "trigger": {"type": "manual"}, "steps": steps})
    return env.svc.plans.publish(env.tenant, plan.plan_id)


def test_the_jobs_face_starts_lists_and_reads_a_bulk_job(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk_module, "PAGE", 3)
    monkeypatch.setattr(bulk_module, "SLICE_SECONDS", 0.0)  # the start records the job only: it stays running
    ch = make_channel(env)
    for _ in range(5):
        env.scan(ch.state)
    plan = _plan(env)
    face = jobs_of(env.svc)
    board = face.board("unit")
    assert (plan.plan_id, "沉默唤醒") in board["plans"]
    assert (ch.channel_id, "抖音直播间") in board["filters"].channels and ("zhang", "张老师") in board["filters"].staff
    env.clock.current = env.clock.now() + timedelta(minutes=1)  # after the tenant's first group sync started
    started = face.start_bulk(env.tenant, plan.plan_id, CustomerFilter(channel_id=ch.channel_id))
    assert started.running and started.subject == plan.plan_id
    listed = face.list("unit")
    kinds = [(v.kind, v.running) for v in listed]  # the first group and contact syncs connecting the tenant queued
    assert sorted(kinds) == sorted([(jobs.BULK, True), (jobs.GROUP_SYNC, True), (jobs.CONTACT_SYNC, True)])
    assert kinds[0] == (jobs.BULK, True)  # newest first
    assert listed[0].job_id == started.job_id
    env.svc.bulk.continue_running(env.tenant, budget_seconds=10)
    done = face.get("unit", started.job_id)
    assert done.percent == 100 and {c.label: c.value for c in done.counts}["已入组"] == 5
    listed = face.list("unit")
    assert listed[0].job_id == started.job_id and listed[0].status_label == "已完成"  # newest first, done stays
    with pytest.raises(NotFoundError):
        face.get("unit", "zz_nothing")
    with pytest.raises(NotFoundError):
        face.get("other", started.job_id)  # another tenant's id is no job of this one


def test_the_tenants_first_group_sync_is_listed(env: Env) -> None:
    listed = jobs_of(env.svc).list("unit")  # the tenant's creation claimed its first sync
    syncs = [v for v in listed if v.kind == jobs.GROUP_SYNC]
    assert len(syncs) == 1 and syncs[0].title == "社群同步 · 首次同步"
    assert jobs_of(env.svc).get("unit", syncs[0].job_id).job_id == syncs[0].job_id


def test_a_contact_sync_reads_its_phase_its_counts_and_a_wait_for_wecoms_rate_limit() -> None:
    assert jobs.kind_of("cs_first") == jobs.CONTACT_SYNC and jobs.kind_of("cs_day20261202") == jobs.CONTACT_SYNC
    base: dict[str, Any] = {"job_id": "cs_first", "reason": "first", "status": "running", "staff": ["a"] * 130}
    listing = jobs.contact_sync_view(dict(base, phase="contacts", batch=1, seen=300, counts={"created": 298}))
    assert listing.percent is None and listing.stage == "第 2 步（共 4 步）：读取客户，第 2 批员工（共 2 批）"
    assert listing.title == "客户同步 · 首次同步"
    assert [(c.label, c.value) for c in listing.counts][:2] == [("已读取客户关系", 300), ("导入新客户", 298)]
    waiting = jobs.contact_sync_view(dict(base, phase="contacts", waiting=True, retry_at=1))
    assert waiting.stage.endswith("等待企业微信频率限制解除，稍后自动继续")
    assert jobs.contact_sync_view(dict(base, phase="sweep")).percent == 60
    verify = jobs.contact_sync_view(dict(base, phase="verify", short=["a", "b"]))
    assert verify.percent == 80 and "2 位员工" in verify.stage
    done = jobs.contact_sync_view(dict(base, status="done", phase="verify", waiting=True, reason="periodic"))
    assert (done.percent, done.stage, done.title) == (100, "已完成", "客户同步 · 每日核对")
