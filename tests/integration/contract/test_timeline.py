"""Timeline entries of enrollments, on DynamoDB Local and on the fake (the rest of the timeline contract is in
tests/integration/test_timeline_store.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.timeline import TimelineRepository as R
from chalicelib.domain import timeline as tl
from chalicelib.domain.sop import Enrollment, Subject
from tests.integration.contract.registry import covers

AT = "2026-12-01T10:00:00+08:00"
LATER = "2026-12-01T11:00:00+08:00"


@covers(R.log_enrollment)
def test_a_start_and_an_exit_are_entries_and_a_completion_is_not(store: Any) -> None:
    started = Enrollment(Subject.customer("c1"), "pl_a", 2, "en_1", AT, source="tag")
    store.log_enrollment("acme", started)
    store.log_enrollment("acme", replace(started, status="exited", ended_at=LATER, exit_reason="exit:reply"))
    store.log_enrollment("acme", replace(started, enrollment_id="en_2", status="completed", ended_at=LATER))
    items, _ = store.timeline_items("acme", "c1", below=tl.PREFIX + "~")
    assert [i.sk for i in items] == [tl.sk_at(tl.epoch_of(LATER), "end.en_1"), tl.sk_at(tl.epoch_of(AT), "enr.en_1")]
    ended, enrolled = (i.entries[0] for i in items)
    assert (enrolled.type, enrolled.at) == ("enrolled", AT)
    assert enrolled.detail == {"plan_id": "pl_a", "version": 2, "enrollment_id": "en_1", "source": "tag"}
    assert (ended.type, ended.at) == ("enrollment_ended", LATER)
    assert ended.detail == {
        "plan_id": "pl_a",
        "version": 2,
        "enrollment_id": "en_1",
        "status": "exited",
        "reason": "exit:reply",
    }
    assert store.timeline_items("other", "c1", below=tl.PREFIX + "~") == ([], False)
