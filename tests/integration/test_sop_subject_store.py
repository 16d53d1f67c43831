"""The SOP storage for any subject kind, on DynamoDB Local and on the in-memory fake: one contract for both.

A group's enrollment, touches and task recipients are stored and read back as a group's, beside (never over) a
customer with the same id, and they write nothing on a customer's timeline."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.enrollments import EnrollmentRepository as E
from chalicelib.adapters.dynamodb.tasks import StaffTaskRepository as T
from chalicelib.adapters.dynamodb.touches import TouchRepository as R
from chalicelib.domain.sop import (
    ACTIVE,
    EXITED,
    GROUP,
    SCHEDULED,
    SENT,
    SKIPPED,
    Bucket,
    Enrollment,
    StaffTask,
    Subject,
    Touch,
)
from tests.integration.contract.registry import covers

AT = "2026-12-01T10:00:00+08:00"
BUCKET = "pl_g.1.s1.202612010200"
NEXT = "pl_g.1.s2.202612020200"
GROUP_1 = Subject(GROUP, "wr_1")
SAME_ID_CUSTOMER = Subject.customer("wr_1")


def _enrollment(subject: Subject, eid: str = "en_1") -> Enrollment:
    return Enrollment(subject, "pl_g", 1, eid, AT)


@covers(
    E.put_enrollment,
    E.subject_enrollments_in,
    E.subject_enrollments,
    E.repin_enrollment,
    E.end_enrollment,
    E.get_enrollment,
)
def test_a_subjects_enrollments_are_its_own(store: Any) -> None:
    assert store.put_enrollment("acme", _enrollment(GROUP_1), reentry="never")
    assert not store.put_enrollment("acme", _enrollment(GROUP_1, "en_2"), reentry="never")  # once
    assert store.put_enrollment("acme", _enrollment(SAME_ID_CUSTOMER, "en_c"), reentry="never")  # not the same one
    found = store.subject_enrollments_in("acme", [GROUP_1, SAME_ID_CUSTOMER, Subject(GROUP, "wr_9")], "pl_g")
    assert {s: e.enrollment_id for s, e in found.items()} == {GROUP_1: "en_1", SAME_ID_CUSTOMER: "en_c"}
    assert [e.subject for e in store.subject_enrollments("acme", GROUP_1)] == [GROUP_1]
    assert store.repin_enrollment("acme", found[GROUP_1], 2)
    repinned = store.subject_enrollments_in("acme", [GROUP_1], "pl_g")[GROUP_1]
    assert (repinned.version, repinned.status) == (2, ACTIVE)
    assert store.end_enrollment("acme", repinned, status=EXITED, reason="exit:test", at=AT)
    assert not store.end_enrollment("acme", repinned, status=EXITED, reason="exit:test", at=AT)  # once
    assert store.subject_enrollments_in("acme", [GROUP_1], "pl_g")[GROUP_1].status == EXITED
    assert store.get_enrollment("acme", "wr_1", "pl_g").enrollment_id == "en_c"  # the customer's, untouched
    facts = store.timeline("acme", "wr_1", limit=10)
    assert [f.digest for f in facts] == ["enr.en_c"]  # the group's start and exit went on no customer's timeline


@covers(R.add_touch, R.touches_in, R.move_touch)
def test_a_subjects_touches_keep_their_subject_through_every_transition(store: Any) -> None:
    touch = Touch(BUCKET, GROUP_1, "en_1", "s1", 0, AT)
    other = Touch(BUCKET, SAME_ID_CUSTOMER, "en_c", "s1", 0, AT)
    assert store.add_touch("acme", touch) and store.add_touch("acme", other)
    assert not store.add_touch("acme", touch)  # once
    assert [t.subject for t in store.touches_in("acme", BUCKET)] == [SAME_ID_CUSTOMER, GROUP_1]  # by key
    moved = store.move_touch(
        "acme", touch, to_state=SENT, from_state=SCHEDULED, task_id="tk_1", next_bucket=NEXT, next_due=AT
    )
    assert moved and not store.move_touch("acme", touch, to_state=SKIPPED, from_state=SCHEDULED)
    [sent] = [t for t in store.touches_in("acme", BUCKET, state=SENT)]
    assert (sent.subject, sent.task_id, sent.next_bucket) == (GROUP_1, "tk_1", NEXT)
    assert sent.implied_next("s2").subject == GROUP_1
    assert store.move_touch("acme", other, to_state=SKIPPED, from_state=SCHEDULED, reason="test")
    assert {t.subject: t.state for t in store.touches_in("acme", BUCKET, state=None)} == {
        GROUP_1: SENT,
        SAME_ID_CUSTOMER: SKIPPED,
    }


@covers(T.create_task, T.get_task, T.save_task, T.list_tasks)
def test_a_tasks_recipients_keep_their_kind(store: Any) -> None:
    task = StaffTask("tk_g", "zhang", "mass", "claimed", AT, AT, ("wr_1", "wr_2"), "群发", recipient_kind=GROUP)
    assert store.create_task("acme", task)
    read = store.get_task("acme", "tk_g")
    assert read is not None and (read.recipients, read.recipient_kind, read.customer_ids) == (
        ("wr_1", "wr_2"),
        GROUP,
        (),
    )
    assert store.save_task("acme", task.__class__(**{**task.__dict__, "status": "created"}), expected_status="claimed")
    [listed] = store.list_tasks("acme", userid="zhang", status="created", due_from=None, due_to=None, limit=5)
    assert (listed.recipients, listed.recipient_kind) == (("wr_1", "wr_2"), GROUP)
    assert listed.public()["customer_ids"] == []  # the API's customer_ids are customers only


@covers(R.still_scheduled, R.register_bucket, R.feed_bucket, R.touches_in, R.move_touch)
def test_executor_hints_are_stored_and_a_shard_rereads_what_is_still_scheduled(store: Any) -> None:
    """A touch keeps its executor hint; a sent touch names its next touch's hint, which the implied touch carries;
    ``still_scheduled`` (a shard's re-read) keeps scheduled and implied-not-written touches, drops closed ones."""
    hinted = Touch(BUCKET, GROUP_1, "en_1", "s1", 0, AT, executor="zhang")
    plain = Touch(BUCKET, SAME_ID_CUSTOMER, "en_c", "s1", 0, AT)
    assert store.add_touch("acme", hinted) and store.add_touch("acme", plain)
    assert {t.subject: t.executor for t in store.touches_in("acme", BUCKET)} == {
        GROUP_1: "zhang",
        SAME_ID_CUSTOMER: None,
    }
    assert store.still_scheduled("acme", BUCKET, [hinted, plain]) == [hinted, plain]
    assert store.move_touch(
        "acme",
        hinted,
        to_state=SENT,
        from_state=SCHEDULED,
        task_id="tk_1",
        next_bucket=NEXT,
        next_due=AT,
        next_executor="li",
    )
    assert store.still_scheduled("acme", BUCKET, [hinted, plain]) == [plain]
    store.register_bucket("acme", Bucket("acme", "pl_g", 1, "s2", NEXT.split(".")[-1], kind=GROUP))
    store.feed_bucket("acme", NEXT, feeder=BUCKET)
    [implied] = store.touches_in("acme", NEXT)
    assert (implied.subject, implied.executor) == (GROUP_1, "li")
    assert store.still_scheduled("acme", NEXT, [implied]) == [implied]  # implied, not written: still scheduled
    assert store.move_touch("acme", implied, to_state=SKIPPED, from_state=SCHEDULED, reason="test")
    assert store.still_scheduled("acme", NEXT, [implied]) == []
