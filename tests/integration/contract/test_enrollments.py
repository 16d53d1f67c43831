"""The enrollment contract, on DynamoDB Local and on the fake: re-entry policies, conditional ends, the plans'
rosters and both listings with their cursors, bulk jobs, and the customer's stage moves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.customers import CustomerRepository
from chalicelib.adapters.dynamodb.enrollments import EnrollmentRepository as R
from chalicelib.adapters.dynamodb.jobs import JobRepository as J
from chalicelib.domain.customers import Stage
from chalicelib.domain.sop import ACTIVE, COMPLETED, EXITED, Enrollment, Subject
from chalicelib.errors import InvalidError
from tests.integration.contract.registry import covers
from tests.integration.test_store_contract import counter, customer

AT = "2026-12-01T10:00:00+08:00"


def enrollment(cid: str, plan_id: str = "pl_a", eid: str = "en_1", status: str = ACTIVE) -> Enrollment:
    return Enrollment(Subject.customer(cid), plan_id, 1, eid, AT, status=status)


@covers(R.put_enrollment, R.get_enrollment, R.get_enrollments, R.enrollments_of)
def test_the_reentry_policies_and_the_reads_of_a_customers_enrollments(store: Any) -> None:
    assert store.get_enrollment("acme", "c1", "pl_a") is None
    assert store.put_enrollment("acme", enrollment("c1"), reentry="never")
    assert not store.put_enrollment("acme", enrollment("c1", eid="en_2"), reentry="never")
    assert not store.put_enrollment("acme", enrollment("c1", eid="en_2"), reentry="after_completion")  # active
    assert store.put_enrollment("acme", enrollment("c1", eid="en_3"), reentry="always")
    assert store.get_enrollment("acme", "c1", "pl_a") == enrollment("c1", eid="en_3")
    assert store.end_enrollment("acme", enrollment("c1", eid="en_3"), status=COMPLETED, reason="done", at=AT)
    assert store.put_enrollment("acme", enrollment("c1", eid="en_4"), reentry="after_completion")
    assert store.put_enrollment("acme", enrollment("c1", plan_id="pl_b"), reentry="never")
    assert store.put_enrollment("acme", enrollment("c2"), reentry="never")
    assert store.put_enrollment("other", enrollment("c3"), reentry="never")
    assert [e.plan_id for e in sorted(store.enrollments_of("acme", "c1"), key=lambda e: e.plan_id)] == ["pl_a", "pl_b"]
    assert store.enrollments_of("other", "c1") == []
    found = store.get_enrollments("acme", ["c1", "c2", "c3", "c9"], "pl_a")
    assert {cid: e.enrollment_id for cid, e in found.items()} == {"c1": "en_4", "c2": "en_1"}


@covers(R.end_enrollment, R.repin_enrollment)
def test_an_end_or_a_repin_needs_that_very_run_still_active(store: Any) -> None:
    store.put_enrollment("acme", enrollment("c1"), reentry="never")
    assert not store.repin_enrollment("acme", enrollment("c1", eid="en_9"), 2)  # another run
    assert store.repin_enrollment("acme", enrollment("c1"), 2)
    assert store.get_enrollment("acme", "c1", "pl_a").version == 2
    assert not store.end_enrollment("acme", enrollment("c1", eid="en_9"), status=EXITED, reason="x", at=AT)
    assert store.end_enrollment("acme", enrollment("c1"), status=EXITED, reason="exit:order", at=AT)
    ended = store.get_enrollment("acme", "c1", "pl_a")
    assert (ended.status, ended.exit_reason, ended.ended_at, ended.version) == (EXITED, "exit:order", AT, 1)
    assert not store.end_enrollment("acme", enrollment("c1"), status=EXITED, reason="again", at=AT)
    assert not store.repin_enrollment("acme", enrollment("c1"), 3)  # ended


@covers(R.put_roster, R.list_plan_enrollments)
def test_a_plans_listing_pages_its_roster_with_a_status_filter(store: Any) -> None:
    for i in range(5):
        store.put_enrollment("acme", enrollment(f"c{i}", eid=f"en_{i}"), reentry="never")
    store.end_enrollment("acme", enrollment("c1", eid="en_1"), status=EXITED, reason="x", at=AT)
    store.put_roster("acme", enrollment("c9"))  # a roster entry whose enrollment never got written (a crash)
    store.put_roster("acme", enrollment("c0", eid="en_0"))  # idempotent
    store.put_enrollment("other", enrollment("c7"), reentry="never")
    seen, cursor = [], None
    for _ in range(5):
        page = store.list_plan_enrollments("acme", "pl_a", status=None, cursor=cursor, limit=2)
        seen += [e.customer_id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["c0", "c1", "c2", "c3", "c4"]
    active = store.list_plan_enrollments("acme", "pl_a", status=ACTIVE, cursor=None, limit=10)
    assert [e.customer_id for e in active.items] == ["c0", "c2", "c3", "c4"] and active.next_cursor is None
    first = store.list_plan_enrollments("acme", "pl_a", status=None, cursor=None, limit=2)
    with pytest.raises(InvalidError):  # bound to its tenant and plan
        store.list_plan_enrollments("other", "pl_a", status=None, cursor=first.next_cursor, limit=2)
    with pytest.raises(InvalidError):
        store.list_plan_enrollments("acme", "pl_b", status=None, cursor=first.next_cursor, limit=2)


@covers(R.list_plan_enrollments)
def test_a_group_plans_listing_names_its_groups(store: Any) -> None:
    for chat_id in ("wr2", "wr1"):
        group = Enrollment(Subject("group", chat_id), "pl_g", 1, f"en_{chat_id}", AT)
        assert store.put_enrollment("acme", group, reentry="never")
    store.put_enrollment("acme", enrollment("c1", plan_id="pl_g"), reentry="never")  # a customer: not this kind
    page = store.list_plan_enrollments("acme", "pl_g", status=None, cursor=None, limit=10, kind="group")
    assert [(e.subject.kind, e.subject.id) for e in page.items] == [("group", "wr1"), ("group", "wr2")]
    customers = store.list_plan_enrollments("acme", "pl_g", status=None, cursor=None, limit=10)
    assert [e.customer_id for e in customers.items] == ["c1"]


@covers(R.list_customer_enrollments, R.subject_enrollments)
def test_a_customers_listing_pages_by_plan_with_a_status_filter(store: Any) -> None:
    for plan in ("pl_a", "pl_b", "pl_c"):
        store.put_enrollment("acme", enrollment("c1", plan_id=plan), reentry="never")
    store.end_enrollment("acme", enrollment("c1", plan_id="pl_b"), status=EXITED, reason="x", at=AT)
    first = store.list_customer_enrollments("acme", "c1", status=None, cursor=None, limit=2)
    assert [e.plan_id for e in first.items] == ["pl_a", "pl_b"] and first.next_cursor
    rest = store.list_customer_enrollments("acme", "c1", status=None, cursor=first.next_cursor, limit=2)
    assert [e.plan_id for e in rest.items] == ["pl_c"] and rest.next_cursor is None
    exited = store.list_customer_enrollments("acme", "c1", status=EXITED, cursor=None, limit=5)
    assert [e.plan_id for e in exited.items] == ["pl_b"] and exited.next_cursor is None
    with pytest.raises(InvalidError):
        store.list_customer_enrollments("acme", "c2", status=None, cursor=first.next_cursor, limit=2)
    assert len(store.subject_enrollments("acme", Subject.customer("c1"))) == 3


@covers(J.put_job, J.get_job, J.running_jobs)
def test_a_job_is_created_once_advanced_in_order_and_listed_while_running(store: Any) -> None:
    job = {"job_id": "jb_1", "seq": 0, "status": "running", "done": 0}
    assert store.get_job("acme", "jb_1") is None
    assert store.put_job("acme", job, create=True)
    assert not store.put_job("acme", job, create=True)  # once
    assert store.put_job("other", {**job, "job_id": "jb_2"}, create=True)
    assert store.get_job("acme", "jb_1") == job
    assert [j["job_id"] for j in store.running_jobs("acme")] == ["jb_1"]
    step = {**job, "seq": 1, "done": 50}
    assert store.put_job("acme", step)
    assert not store.put_job("acme", step)  # a stale worker: the seq moved on
    assert not store.put_job("acme", {**job, "seq": 5})
    finished = {**step, "seq": 2, "status": "done"}
    assert store.put_job("acme", finished)
    assert store.get_job("acme", "jb_1") == finished
    assert store.running_jobs("acme") == []


@covers(CustomerRepository.advance_stage)
def test_a_stage_advances_only_from_the_stages_named_and_bumps_the_version(store: Any) -> None:
    store.create_customer("acme", customer("c1", AT), counter())
    before = store.get_customer("acme", "c1")
    assert not store.advance_stage("acme", "c1", to=Stage.SILENT, from_stages=(Stage.TRIAL,))
    assert store.advance_stage("acme", "c1", to=Stage.NURTURING, from_stages=(Stage.TRIAL, before.stage))
    after = store.get_customer("acme", "c1")
    assert after == replace(before, stage=Stage.NURTURING, version=before.version + 1)
    assert not store.advance_stage("acme", "c9", to=Stage.NURTURING, from_stages=(before.stage,))  # no customer
    assert store.get_customer("acme", "c9") is None


@covers(J.recent_jobs)
def test_the_job_log_lists_bulk_jobs_and_group_syncs_newest_first(store: Any) -> None:
    a = {"job_id": "bj_a", "seq": 0, "status": "running", "started_at": "2026-12-01T10:00:00+08:00"}
    b = {"job_id": "bj_b", "seq": 0, "status": "running", "started_at": "2026-12-01T03:00:00+00:00"}  # 11:00 +08
    sync = {"job_id": "gs_c", "seq": 0, "status": "running", "started_at": "2026-12-01T10:30:00+08:00"}
    assert store.recent_jobs("acme", limit=10) == []
    assert store.put_job("acme", a, create=True) and store.put_job("acme", b, create=True)
    assert store.claim_group_sync("acme", sync) == sync
    assert store.put_job("other", {**a, "job_id": "bj_x"}, create=True)  # another tenant's: never listed here
    listed = store.recent_jobs("acme", limit=10)
    assert [(kind, job["job_id"]) for kind, job in listed] == [
        ("job", "bj_b"),  # by the instant it started, whatever the offset it was written with
        ("group_sync", "gs_c"),
        ("job", "bj_a"),
    ]
    assert listed[1][1] == sync
    done_a = {**a, "seq": 1, "status": "done"}
    assert store.put_job("acme", done_a)
    assert store.save_group_sync("acme", {**sync, "seq": 1, "status": "done"})
    after = store.recent_jobs("acme", limit=10)
    assert after[2] == ("job", done_a)  # a finished job stays in the log, as it was last saved
    assert after[1][1]["status"] == "done"
    assert [job["job_id"] for _, job in store.recent_jobs("acme", limit=2)] == ["bj_b", "gs_c"]
    assert [job["job_id"] for _, job in store.recent_jobs("other", limit=10)] == ["bj_x"]
