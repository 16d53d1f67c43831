"""The silence-timer contract, on DynamoDB Local and on the fake: every change conditional, the index by due day."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.silence import SilenceRepository as R
from chalicelib.domain.silence import SilenceTimer
from tests.integration.contract.registry import covers

DUE = "2026-12-08T01:00:00Z"


def timer(cid: str = "c1", plan_id: str = "pl_a", enrollment_id: str = "en_1", due: str = DUE) -> SilenceTimer:
    return SilenceTimer(cid, plan_id, enrollment_id, 1, 7, "pl_next", due)


@covers(R.put_silence_timer, R.silence_timers_of)
def test_a_start_does_not_reset_the_same_enrollments_timer_and_a_new_run_replaces_it(store: Any) -> None:
    assert store.put_silence_timer("acme", timer())
    moved = replace(timer(), due="2026-12-09T01:00:00Z")
    assert not store.put_silence_timer("acme", moved)  # a repeat of the same enrollment
    assert store.silence_timers_of("acme", "c1") == [timer()]
    assert store.put_silence_timer("acme", timer(plan_id="pl_b"))
    rerun = timer(enrollment_id="en_2", due="2026-12-10T01:00:00Z")
    assert store.put_silence_timer("acme", rerun)  # a later run of the same plan
    assert store.silence_timers_of("acme", "c1") == [rerun, timer(plan_id="pl_b")]
    assert store.silence_timers_of("other", "c1") == [] and store.silence_timers_of("acme", "c2") == []


@covers(R.move_silence_timer, R.due_silence_timers)
def test_a_move_goes_forward_only_and_the_index_follows(store: Any) -> None:
    store.put_silence_timer("acme", timer())
    store.put_silence_timer("acme", timer(cid="c2", due="2026-12-08T03:00:00Z"))
    store.put_silence_timer("other", timer())
    day = DUE[:10]
    assert [t.customer_id for t in store.due_silence_timers("acme", day=day, until="2026-12-08T03:00:00Z")] == [
        "c1",
        "c2",
    ]
    assert store.due_silence_timers("acme", day=day, until="2026-12-08T00:59:59Z") == []
    assert [t.customer_id for t in store.due_silence_timers("acme", day=day, until=DUE)] == ["c1"]  # inclusive
    assert not store.move_silence_timer("acme", timer(), DUE)  # not forward
    assert not store.move_silence_timer("acme", timer(enrollment_id="en_9"), "2026-12-12T01:00:00Z")
    assert store.move_silence_timer("acme", timer(), "2026-12-12T01:00:00Z")
    assert [t.customer_id for t in store.due_silence_timers("acme", day=day, until="2026-12-08T23:59:59Z")] == ["c2"]
    [moved] = store.due_silence_timers("acme", day="2026-12-12", until="2026-12-12T01:00:00Z")
    assert moved == timer(due="2026-12-12T01:00:00Z")
    assert store.silence_timers_of("acme", "c1") == [moved]


@covers(R.claim_silence_timer, R.delete_silence_timer, R.move_silence_timer)
def test_a_claim_is_won_once_per_lease_and_a_delete_needs_it(store: Any) -> None:
    store.put_silence_timer("acme", timer())
    now, lease = "2026-12-08T01:00:05Z", "2026-12-08T01:05:05Z"
    claimed = store.claim_silence_timer("acme", timer(), token="a", now=now, lease_until=lease)
    assert claimed == replace(timer(), claimed_at=now)
    assert store.claim_silence_timer("acme", timer(), token="b", now=now, lease_until=lease) is None  # held
    assert not store.move_silence_timer("acme", timer(), "2026-12-12T01:00:00Z")  # not while held
    later = "2026-12-08T01:06:00Z"
    again = store.claim_silence_timer("acme", timer(), token="b", now=later, lease_until="2026-12-08T01:11:00Z")
    assert again == replace(timer(), claimed_at=now)  # the lease ran out; claimed_at keeps the first claim
    stale = timer(due="2026-12-07T01:00:00Z")
    assert store.claim_silence_timer("acme", stale, token="c", now=later, lease_until=later) is None
    assert not store.delete_silence_timer("acme", timer(), token="a")  # that claim was lost
    assert store.delete_silence_timer("acme", timer(), token="b")
    assert store.silence_timers_of("acme", "c1") == []
    assert not store.delete_silence_timer("acme", timer(), token="b")


@covers(R.repin_silence_timer)
def test_a_repin_takes_the_new_versions_rule_or_removes_the_timer(store: Any) -> None:
    store.put_silence_timer("acme", timer())
    to = SilenceTimer("c1", "pl_a", "en_1", 2, 3, None, "2026-12-05T01:00:00Z")
    assert not store.repin_silence_timer("acme", timer(enrollment_id="en_9"), to)
    assert store.repin_silence_timer("acme", timer(), to)
    assert store.silence_timers_of("acme", "c1") == [to]
    assert [t.version for t in store.due_silence_timers("acme", day="2026-12-05", until=to.due)] == [2]
    assert store.due_silence_timers("acme", day=DUE[:10], until=DUE) == []
    store.claim_silence_timer("acme", to, token="a", now=to.due, lease_until="2026-12-05T01:05:00Z")
    assert not store.repin_silence_timer("acme", to, None)  # not while the job holds it
    assert store.delete_silence_timer("acme", to, token="a")
    store.put_silence_timer("acme", timer())
    assert store.repin_silence_timer("acme", timer(), None)
    assert store.silence_timers_of("acme", "c1") == []
