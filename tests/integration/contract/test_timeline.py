"""Timeline entries of enrollments, on DynamoDB Local and on the fake (the rest of the timeline contract is in
tests/integration/test_timeline_store.py): a customer's enrollment item is its own start and exit entries, so a start
or an exit writes no timeline item; a run that leaves its item keeps its entries as real ones."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.enrollments import EnrollmentRepository as E
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.adapters.dynamodb.timeline import TimelineRepository as R
from chalicelib.domain import timeline as tl
from chalicelib.domain.sop import Enrollment, Subject
from chalicelib.domain.timeline import Entry
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


# --- a customer's enrollment item is its own start and exit entries ---------------------------------------------

NOON = "2026-12-01T12:00:00+08:00"


def _run(eid: str, at: str = AT, plan_id: str = "pl_a", version: int = 1, cid: str = "c1") -> Enrollment:
    return Enrollment(Subject.customer(cid), plan_id, version, eid, at, source="tag")


def _stored(store: Any, cid: str = "c1") -> list[str]:
    """The timeline items actually stored in the customer's partition (not the derived ones), each store read its own
    way: what a start or an exit writes is the point of these tests."""
    if isinstance(store, DynamoStore):
        raws, _ = store.repos.timeline.walk(k.customer_pk("acme", cid), prefix=tl.PREFIX, keys_only=True)
        return sorted((r["sk"]["S"] for r in raws), reverse=True)
    return sorted(store._months().get(("acme", cid), {}), reverse=True)


def _shown(store: Any, cid: str = "c1") -> list[tuple[str, str, Any]]:
    """(key, type, detail) of every timeline item, newest first."""
    items, more = store.timeline_items("acme", cid, below=tl.PREFIX + "~")
    assert not more and all(len(i.entries) == 1 for i in items)
    return [(i.sk, i.entries[0].type, i.entries[0].detail) for i in items]


def _key(at: str, ref: str) -> str:
    return tl.sk_at(tl.epoch_of(at), ref)


@covers(E.put_enrollment, R.timeline_items)
def test_a_first_enrollment_writes_no_timeline_item_and_the_timeline_shows_it(store: Any) -> None:
    assert store.put_enrollment("acme", _run("en_1", version=2), reentry="never")
    assert _stored(store) == []  # the enrollment item alone: no F# item
    [item], more = store.timeline_items("acme", "c1", below=tl.PREFIX + "~", limit=5)
    assert item.sk == _key(AT, "enr.en_1") and not more
    [entry] = item.entries
    assert (entry.type, entry.at, entry.time, entry.ref) == ("enrolled", AT, tl.epoch_of(AT), "enr.en_1")
    assert entry.detail == {"plan_id": "pl_a", "version": 2, "enrollment_id": "en_1", "source": "tag"}
    assert not store.put_enrollment("acme", _run("en_2"), reentry="never")  # refused: nothing changes
    assert [sk for sk, _, _ in _shown(store)] == [_key(AT, "enr.en_1")] and _stored(store) == []
    assert store.put_enrollment("acme", Enrollment(Subject("group", "c1"), "pl_a", 1, "en_g", NOON), reentry="never")
    assert [sk for sk, _, _ in _shown(store)] == [_key(AT, "enr.en_1")]  # a group's run is on no customer's timeline
    assert _shown(store, "c2") == [] and store.timeline_items("other", "c1", below=tl.PREFIX + "~") == ([], False)


@covers(E.end_enrollment)
def test_an_exit_shows_enrollment_ended_and_a_completion_shows_only_the_start(store: Any) -> None:
    store.put_enrollment("acme", _run("en_1", version=2), reentry="never")
    assert store.end_enrollment("acme", _run("en_1", version=2), status="exited", reason="exit:reply", at=LATER)
    assert not store.end_enrollment("acme", _run("en_1", version=2), status="exited", reason="again", at=NOON)
    store.put_enrollment("acme", _run("en_2", NOON, plan_id="pl_b"), reentry="never")
    done = _run("en_2", NOON, plan_id="pl_b")
    assert store.end_enrollment("acme", done, status="completed", reason="completed", at=NOON)
    assert _stored(store) == []
    started_b = {"plan_id": "pl_b", "version": 1, "enrollment_id": "en_2", "source": "tag"}
    ended_a = {"plan_id": "pl_a", "version": 2, "enrollment_id": "en_1", "status": "exited", "reason": "exit:reply"}
    started_a = {"plan_id": "pl_a", "version": 2, "enrollment_id": "en_1", "source": "tag"}
    assert _shown(store) == [
        (_key(NOON, "enr.en_2"), "enrolled", started_b),
        (_key(LATER, "end.en_1"), "enrollment_ended", ended_a),
        (_key(AT, "enr.en_1"), "enrolled", started_a),
    ]
    items, _ = store.timeline_items("acme", "c1", below=tl.PREFIX + "~")
    [ended] = [e for i in items for e in i.entries if e.type == "enrollment_ended"]
    assert (ended.at, ended.time, ended.ref) == (LATER, tl.epoch_of(LATER), "end.en_1")


@covers(E.put_enrollment, R.log_enrollment)
def test_a_reentry_keeps_the_replaced_run_on_the_timeline(store: Any) -> None:
    store.put_enrollment("acme", _run("en_1"), reentry="after_completion")
    store.end_enrollment("acme", _run("en_1"), status="completed", reason="completed", at=AT)
    assert store.put_enrollment("acme", _run("en_2", LATER), reentry="after_completion")
    assert _stored(store) == [_key(AT, "enr.en_1")]  # the completed run: its start alone
    store.end_enrollment("acme", _run("en_2", LATER), status="exited", reason="exit:order", at=NOON)
    assert store.put_enrollment("acme", _run("en_3", NOON), reentry="always")
    assert store.put_enrollment("acme", _run("en_3", NOON), reentry="always")  # a repeat of this run: nothing kept
    assert _stored(store) == [_key(NOON, "end.en_2"), _key(LATER, "enr.en_2"), _key(AT, "enr.en_1")]
    assert store.put_enrollment("acme", _run("en_4", NOON), reentry="always")  # replaces an active run: no exit
    shown = [(sk, kind) for sk, kind, _ in _shown(store)]
    assert shown == [
        (_key(NOON, "enr.en_4"), "enrolled"),
        (_key(NOON, "enr.en_3"), "enrolled"),
        (_key(NOON, "end.en_2"), "enrollment_ended"),
        (_key(LATER, "enr.en_2"), "enrolled"),
        (_key(AT, "enr.en_1"), "enrolled"),
    ]
    details = {sk: detail for sk, _, detail in _shown(store)}
    ended = {"plan_id": "pl_a", "version": 1, "enrollment_id": "en_2", "status": "exited", "reason": "exit:order"}
    assert details[_key(NOON, "end.en_2")] == ended
    assert details[_key(AT, "enr.en_1")] == {"plan_id": "pl_a", "version": 1, "enrollment_id": "en_1", "source": "tag"}


@covers(E.repin_enrollment)
def test_a_migrated_run_keeps_the_version_it_started_on(store: Any) -> None:
    store.put_enrollment("acme", _run("en_1"), reentry="never")
    assert not store.repin_enrollment("acme", _run("en_9"), 2)  # another run: nothing written
    assert _stored(store) == []
    assert store.repin_enrollment("acme", _run("en_1"), 2)
    assert store.repin_enrollment("acme", _run("en_1", version=2), 3)
    assert store.end_enrollment("acme", _run("en_1", version=3), status="exited", reason="exit:reply", at=LATER)
    assert _stored(store) == [_key(AT, "enr.en_1")]  # the first move wrote the start; a later one kept it
    versions = [(kind, detail["version"]) for _, kind, detail in _shown(store)]
    assert versions == [("enrollment_ended", 3), ("enrolled", 1)]
    assert store.put_enrollment("acme", _run("en_2", NOON), reentry="always")  # the start kept stays as it was
    runs = [(detail["enrollment_id"], detail["version"]) for _, _, detail in _shown(store)]
    assert runs == [("en_2", 1), ("en_1", 3), ("en_1", 1)]


@covers(R.put_entry)
def test_a_stored_entry_wins_over_the_derived_one_with_its_key(store: Any) -> None:
    """Entry items written before starts were derived hold the same keys: the timeline shows each once."""
    store.put_enrollment("acme", _run("en_1", version=2), reentry="never")
    legacy = Entry(tl.epoch_of(AT), "enrolled", AT, detail={"plan_id": "pl_a", "version": 1, "enrollment_id": "en_1"})
    assert store.put_entry("acme", "c1", "enr.en_1", legacy, once=True)
    assert not store.put_entry("acme", "c1", "enr.en_1", replace(legacy, at=LATER), once=True)  # taken: kept
    assert _shown(store) == [(_key(AT, "enr.en_1"), "enrolled", legacy.detail)]


@covers(R.timeline_items)
@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_pages_across_derived_entries_are_exact(store: Any, limit: int) -> None:
    """Derived items sit among the stored ones by key (ties broken by the key's suffix): walking pages of any size
    (and a band between bounds, as the page's extension reads) shows every item once, in key order."""
    for i, at in enumerate((AT, LATER, NOON)):
        store.put_entry("acme", "c1", f"d{i}", Entry(tl.epoch_of(at), "custom", at))  # "d…" < "enr…" at equal times
        store.put_entry("acme", "c1", f"x{i}", Entry(tl.epoch_of(at) + 1, "custom", at))
    store.put_enrollment("acme", _run("en_1"), reentry="never")
    store.end_enrollment("acme", _run("en_1"), status="exited", reason="exit:reply", at=LATER)
    store.put_enrollment("acme", _run("en_2", NOON, plan_id="pl_b"), reentry="never")
    everything = [sk for sk, _, _ in _shown(store)]
    assert len(everything) == 9 and everything == sorted(everything, reverse=True)
    walked, below = [], tl.PREFIX + "~"
    for _ in range(20):
        page, more = store.timeline_items("acme", "c1", below=below, limit=limit)
        assert len(page) <= limit
        walked += [i.sk for i in page]
        if not more:
            break
        below = page[-1].sk
    assert walked == everything
    band, _ = store.timeline_items("acme", "c1", below=_key(LATER, "x1"), above=tl.bound_sk(tl.epoch_of(AT)))
    x0 = tl.sk_at(tl.epoch_of(AT) + 1, "x0")
    assert [i.sk for i in band] == [
        _key(LATER, "end.en_1"),
        _key(LATER, "d1"),
        x0,
        _key(AT, "enr.en_1"),
        _key(AT, "d0"),
    ]
