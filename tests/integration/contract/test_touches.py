"""The bucket and touch contract, on DynamoDB Local and on the fake: a bucket registered once and listed under its
plan version, the open-buckets index the backstop sweeps, and the guarded touch transitions (the rest of the touch
contract, for any subject kind, is in tests/integration/test_sop_subject_store.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.touches import TouchRepository as R
from chalicelib.domain.sop import DROPPED, SCHEDULED, SENT, SKIPPED, Bucket, Subject, Touch
from tests.integration.contract.registry import covers

AT = "2026-12-01T10:00:00+08:00"


def bucket(step_id: str = "s1", minute: str = "202612010200", version: int = 1) -> Bucket:
    return Bucket("acme", "pl_a", version, step_id, minute)


@covers(R.register_bucket, R.get_bucket, R.plan_buckets)
def test_a_bucket_is_registered_once_and_listed_under_its_plan_version(store: Any) -> None:
    b = bucket()
    assert store.get_bucket("acme", b.bucket_id) is None
    assert store.register_bucket("acme", b)
    assert not store.register_bucket("acme", b)  # only the first caller creates the schedule
    assert store.get_bucket("acme", b.bucket_id) == b and store.get_bucket("other", b.bucket_id) is None
    later, next_day = bucket("s2", "202612020200"), bucket("s3", "202612030100")
    store.register_bucket("acme", later)
    store.register_bucket("acme", next_day)
    store.register_bucket("acme", bucket("s1", "202612040200", version=2))
    assert store.plan_buckets("acme", "pl_a", 1, from_minute="000000000000") == [b, later, next_day]
    assert store.plan_buckets("acme", "pl_a", 1, from_minute="202612020200") == [later, next_day]  # inclusive
    assert store.plan_buckets("acme", "pl_a", 3, from_minute="000000000000") == []
    assert store.plan_buckets("other", "pl_a", 1, from_minute="000000000000") == []


@covers(R.open_buckets, R.drain_bucket, R.reopen_bucket)
def test_open_buckets_are_those_of_the_day_not_drained_and_a_reopened_one_is_back(store: Any) -> None:
    early, late, tomorrow = bucket("s1", "202612010200"), bucket("s2", "202612010900"), bucket("s3", "202612020200")
    for b in (early, late, tomorrow):
        store.register_bucket("acme", b)
    assert store.open_buckets("acme", day="20261201", until_minute="202612010900") == [early, late]
    assert store.open_buckets("acme", day="20261201", until_minute="202612010859") == [early]
    assert store.open_buckets("other", day="20261201", until_minute="202612012359") == []
    store.drain_bucket("acme", early.bucket_id)
    assert store.open_buckets("acme", day="20261201", until_minute="202612012359") == [late]
    store.reopen_bucket("acme", early)
    assert store.open_buckets("acme", day="20261201", until_minute="202612012359") == [early, late]
    assert store.open_buckets("acme", day="20261202", until_minute="202612022359") == [tomorrow]


@covers(R.add_touch, R.touches_in, R.move_touch, R.feed_bucket, R.still_scheduled)
def test_transitions_are_won_once_and_a_sent_touch_implies_the_next_in_a_fed_bucket(store: Any) -> None:
    first, second = bucket("s1", "202612010200"), bucket("s2", "202612020200")
    store.register_bucket("acme", first)
    store.register_bucket("acme", second)
    a = Touch(first.bucket_id, Subject.customer("c1"), "en_1", "s1", 0, AT)
    b = Touch(first.bucket_id, Subject.customer("c2"), "en_2", "s1", 0, AT)
    c = Touch(first.bucket_id, Subject.customer("c3"), "en_3", "s1", 0, AT)
    assert all(store.add_touch("acme", t) for t in (a, b, c))
    assert [t.subject.id for t in store.touches_in("acme", first.bucket_id)] == ["c1", "c2", "c3"]
    assert store.touches_in("other", first.bucket_id) == []
    assert store.move_touch(
        "acme", a, to_state=SENT, from_state=SCHEDULED, task_id="tk_1", next_bucket=second.bucket_id, next_due=AT
    )
    assert not store.move_touch("acme", a, to_state=SKIPPED, from_state=SCHEDULED)  # won once
    assert store.move_touch("acme", b, to_state=DROPPED, from_state=SCHEDULED, reason="exit")
    assert not store.move_touch("acme", c, to_state=SKIPPED, from_state=SENT)  # not in that state
    assert store.still_scheduled("acme", first.bucket_id, [a, b, c]) == [c]
    assert {t.subject.id: t.state for t in store.touches_in("acme", first.bucket_id, state=None)} == {
        "c1": SENT,
        "c2": DROPPED,
        "c3": SCHEDULED,
    }
    [sent] = store.touches_in("acme", first.bucket_id, state=SENT)
    assert (sent.task_id, sent.next_bucket) == ("tk_1", second.bucket_id)
    assert store.touches_in("acme", second.bucket_id) == []  # not fed yet
    store.feed_bucket("acme", second.bucket_id, feeder=first.bucket_id)
    store.feed_bucket("acme", second.bucket_id, feeder=first.bucket_id)  # a set: once
    [implied] = store.touches_in("acme", second.bucket_id)
    assert implied == sent.implied_next("s2") and implied.state == SCHEDULED
    assert store.move_touch("acme", implied, to_state=SKIPPED, from_state=SCHEDULED, reason="cap")
    assert store.touches_in("acme", second.bucket_id) == []
    assert [t.state for t in store.touches_in("acme", second.bucket_id, state=None)] == [SKIPPED]
    # A customer's dropped or skipped touch goes on their timeline (c2's dropped one, c1's skipped implied one); a
    # sent one does not (take_quota logs that), nor a touch still scheduled.
    assert len(store.timeline("acme", "c2", limit=5)) == 1 and len(store.timeline("acme", "c1", limit=5)) == 1
    assert store.timeline("acme", "c3", limit=5) == []
