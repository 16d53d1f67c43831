"""The timeline and erasure repository methods, on DynamoDB Local and on the in-memory fake: one contract for both."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.customers import CustomerRepository
from chalicelib.adapters.dynamodb.erasure import ErasureRepository
from chalicelib.adapters.dynamodb.staff import StaffRepository
from chalicelib.adapters.dynamodb.timeline import TimelineRepository
from chalicelib.domain import timeline as tl
from chalicelib.domain.facts import Fact, StaffDayDelta
from chalicelib.domain.sop import Enrollment, StaffTask, Subject, Touch
from chalicelib.domain.timeline import Entry
from chalicelib.ports import IntakeKeys
from tests.integration.contract.registry import covers
from tests.integration.test_store_contract import customer

AT = "2026-12-01T10:00:00+08:00"
T0 = tl.epoch_of(AT)
BUCKET = "pl_a.1.s1.202612010200"


def _seed(store: Any, cid: str = "c1") -> None:
    store.create_customer("acme", customer(cid, AT), StaffDayDelta("zhang", "2026-12-01", {"adds": 1}))


def _touch(cid: str = "c1", occurrence: int = 0) -> Touch:
    return Touch(BUCKET, Subject.customer(cid), "en_1", "s1", occurrence, AT)


def _enrollment(cid: str = "c1") -> Enrollment:
    return Enrollment(Subject.customer(cid), "pl_a", 1, "en_1", AT, source="channel")


def _quota(store: Any, touch: Touch | None, *, cap: int = 4, last: bool = False) -> str | None:
    return store.take_quota("acme", "c1", month="2026-12", day_key=None, day_cap=None, month_cap=cap, touch=touch,
                            last=last)  # fmt: skip


@covers(TimelineRepository.timeline_items, TimelineRepository.put_entry)
def test_entries_are_one_prefix_newest_first_with_bounds_and_a_limit(store: Any) -> None:
    _seed(store)
    tagged = Fact("acme", "c1", T0 + 60, "d2", "tags_changed", "2026-12-01T10:01:00+08:00", "zhang")
    store.save_customer("acme", replace(customer("c1", AT), version=2), expected_version=1, fact=tagged)
    store.put_entry("acme", "c1", "enr.en_1", Entry(T0 + 120, "enrolled", "2026-12-01T10:02:00+08:00"))
    assert _quota(store, _touch()) is None
    items, more = store.timeline_items("acme", "c1", below=tl.PREFIX + "~")
    assert not more
    assert [i.sk for i in items] == [
        tl.month_sk("2026-12", "Q"),
        tl.sk_at(T0 + 120, "enr.en_1"),
        tl.sk_at(T0 + 60, "d2"),
    ]
    [sent] = items[0].entries
    assert sent.type == "touch" and sent.time == T0 and sent.detail["outcome"] == "sent"
    assert sent.detail["bucket"] == BUCKET and sent.detail["touch"] == "en_1#s1#0"
    assert items[2].entries[0].ref == "d2"
    page, more = store.timeline_items("acme", "c1", below=tl.PREFIX + "~", limit=2)
    assert len(page) == 2 and more
    rest, more = store.timeline_items("acme", "c1", below=page[-1].sk, limit=2)
    assert [i.sk for i in rest] == [tl.sk_at(T0 + 60, "d2")] and not more
    band, _ = store.timeline_items("acme", "c1", below=tl.sk_at(T0 + 120, "enr.en_1"), above=tl.bound_sk(T0 + 60))
    assert [i.sk for i in band] == [tl.sk_at(T0 + 60, "d2")]
    assert store.timeline_items("acme", "c2", below=tl.PREFIX + "~") == ([], False)


@covers(TimelineRepository.take_quota)
def test_the_quota_write_records_a_sent_touch_only_when_it_counts(store: Any) -> None:
    _seed(store)
    assert _quota(store, _touch(), cap=1, last=True) is None
    assert _quota(store, _touch(occurrence=1), cap=1) == "monthly_limit"  # refused: nothing appended
    [item], _ = store.timeline_items("acme", "c1", below=tl.PREFIX + "~")
    assert [e.detail.get("completes") for e in item.entries] == [True]


@covers(TimelineRepository.take_quota)
def test_a_touch_judged_again_is_counted_and_recorded_once(store: Any) -> None:
    """A fire that died after counting a touch but before claiming it judges it again after the restart."""
    _seed(store)
    assert _quota(store, _touch(), cap=2) is None
    assert _quota(store, _touch(), cap=2) is None  # the same touch: allowed, not counted again
    assert _quota(store, _touch(occurrence=1), cap=2) is None  # another touch: counted (2 of 2)
    assert _quota(store, _touch(occurrence=2), cap=2) == "monthly_limit"
    assert _quota(store, _touch(), cap=2) is None  # still the first touch's own count
    [item], _ = store.timeline_items("acme", "c1", below=tl.PREFIX + "~")
    assert [e.detail["touch"] for e in item.entries] == ["en_1#s1#0", "en_1#s1#1"]


@covers(TimelineRepository.take_quota)
def test_a_moments_post_takes_only_the_months_moments_not_the_receive_limit(store: Any) -> None:
    """``month_cap`` None (a Moments post, issue 14 §4): its own counter is capped, the mass messages' is untouched."""
    _seed(store)
    moment = {"month": "2026-12", "day_key": "2026-12#moment", "day_cap": 2, "month_cap": None}
    for n in range(2):
        assert store.take_quota("acme", "c1", **moment, touch=_touch(occurrence=n)) is None
    assert store.take_quota("acme", "c1", **moment, touch=_touch(occurrence=2)) == "cap"
    assert store.take_quota("acme", "c1", **moment, touch=_touch(occurrence=1)) is None  # judged again: counted once
    assert _quota(store, _touch("c1", occurrence=3), cap=1) is None  # the receive limit saw none of the Moments
    assert _quota(store, _touch("c1", occurrence=4), cap=1) == "monthly_limit"


def test_enrollments_exits_and_skips_are_entries_and_completion_is_not(store: Any) -> None:
    _seed(store)
    assert store.put_enrollment("acme", _enrollment(), reentry="never")
    assert not store.put_enrollment("acme", _enrollment(), reentry="never")  # refused: no second entry
    later = "2026-12-01T11:00:00+08:00"
    assert store.end_enrollment("acme", _enrollment(), status="exited", reason="exit:order:trial", at=later)
    store.add_touch("acme", _touch())
    assert store.move_touch("acme", _touch(), to_state="skipped", from_state="scheduled", reason="quiet_hours")
    items, _ = store.timeline_items("acme", "c1", below=tl.PREFIX + "~")
    entries = [e for i in items for e in i.entries]
    assert [(e.type, e.detail.get("reason")) for e in entries] == [
        ("enrollment_ended", "exit:order:trial"),
        ("touch", "quiet_hours"),  # due at AT, as the enrollment; the key's suffix orders equal times
        ("enrolled", None),
    ]
    assert store.put_enrollment("acme", replace(_enrollment(), enrollment_id="en_2"), reentry="always")
    done = replace(_enrollment(), enrollment_id="en_2")
    assert store.end_enrollment("acme", done, status="completed", reason="completed", at=later)
    assert len(store.timeline_items("acme", "c1", below=tl.PREFIX + "~")[0]) == 4  # en_2 enrolled; completion: none


def _task(task_id: str, ids: tuple[str, ...], kind: str = "mass") -> StaffTask:
    return StaffTask(task_id, "zhang", kind, "created", AT, AT, recipients=ids)


@covers(TimelineRepository.touch_tasks, TimelineRepository.task_heads, ErasureRepository.erase_touches)
def test_touch_tasks_task_heads_and_the_erasure_walk(store: Any) -> None:
    _seed(store)
    _seed(store, "c2")
    store.add_touch("acme", _touch())
    store.add_touch("acme", _touch("c2"))
    assert store.create_task("acme", _task("tk_1", ("c1", "c2")))
    assert store.create_task("acme", _task("fu_1", ("c1",), kind="follow_up"))
    assert store.move_touch("acme", _touch(), to_state="sent", from_state="scheduled", task_id="tk_1")
    assert store.touch_tasks("acme", [(BUCKET, "c1#en_1#s1#0"), (BUCKET, "c2#en_1#s1#0")]) == {
        (BUCKET, "c1#en_1#s1#0"): "tk_1"
    }
    heads = store.task_heads("acme", ["tk_1", "fu_1", "tk_none"])
    assert sorted(heads) == ["fu_1", "tk_1"] and heads["tk_1"].status == "created"
    assert store.erase_touches("acme", "c1", [BUCKET, "pl_a.1.s2.202612020200"]) == (1, {"tk_1"})
    assert store.touches_in("acme", BUCKET, state=None) == [_touch("c2")]
    assert store.drop_recipient("acme", "tk_1", "c1")
    assert not store.drop_recipient("acme", "tk_1", "c1")  # again: nothing to change
    task = store.get_task("acme", "tk_1")
    assert task is not None and task.customer_ids == ("c2",)
    assert store.drop_recipient("acme", "fu_1", "c1")
    assert store.get_task("acme", "fu_1") is None  # a follow-up about them alone goes whole


def test_dropping_a_recipient_drops_their_outcome_and_keeps_the_others(store: Any) -> None:
    """Outcomes match recipients by position: the erased one's character goes with their id, the rest keep theirs."""
    synced = replace(_task("tk_2", ("c1", "c2", "c3")), status="sent", outcomes="213", results={"sent": 1})
    assert store.create_task("acme", synced)
    assert store.create_task("acme", _task("tk_3", ("c1", "c2")))  # not synced: no outcomes to shift
    assert synced.outcome_map() == {"c1": "not_friend", "c2": "sent", "c3": "limit_hit"}
    assert store.drop_recipient("acme", "tk_2", "c2") and store.drop_recipient("acme", "tk_3", "c1")
    task = store.get_task("acme", "tk_2")
    assert task is not None and task.customer_ids == ("c1", "c3") and task.status == "sent"
    assert task.outcome_map() == {"c1": "not_friend", "c3": "limit_hit"} and task.results == {"sent": 1}
    unsynced = store.get_task("acme", "tk_3")
    assert unsynced is not None and unsynced.customer_ids == ("c2",) and unsynced.outcomes == ""
    listed = store.list_tasks("acme", userid=None, status=None, due_from=None, due_to=None, limit=10)
    assert {t.task_id: (t.customer_ids, t.outcomes) for t in listed} == {"tk_2": (("c1", "c3"), "23"),
                                                                        "tk_3": (("c2",), "")}  # fmt: skip
    assert store.drop_recipient("acme", "tk_2", "c1") and store.drop_recipient("acme", "tk_2", "c3")
    emptied = store.get_task("acme", "tk_2")  # a mass task stays, naming no one
    assert emptied is not None and emptied.customer_ids == () and emptied.outcome_map() == {}


@covers(ErasureRepository.erase_customer)
def test_erasure_in_pages_keeps_the_profile_until_the_last(store: Any) -> None:
    _seed(store)
    for i in range(5):
        store.put_entry("acme", "c1", f"x{i}", Entry(T0 + i, "custom", AT))
    assert store.erase_customer("acme", "c1", tombstones=[], max_items=3) == -1 - 3
    assert store.get_customer("acme", "c1") is not None  # unfinished: the profile marks it
    assert store.erase_customer("acme", "c1", tombstones=[], max_items=3) == 3  # 2 entries and the profile
    assert store.get_customer("acme", "c1") is None
    assert store.timeline_items("acme", "c1", below=tl.PREFIX + "~") == ([], False)
    assert store.erase_customer("acme", "c1", tombstones=[]) == 0


@covers(StaffRepository.rename_counter)
def test_a_counter_is_folded_into_another_once(store: Any) -> None:
    """What erasure does to the staff-day count a referral code was counted under (c#rf_<cid> -> c#rf_erased)."""
    store.create_customer("acme", customer("c1", AT), StaffDayDelta("zhang", "2026-12-01", {"adds": 1, "c#rf_x": 2}))
    store.create_customer("acme", customer("c2", AT), StaffDayDelta("zhang", "2026-12-01", {"c#rf_erased": 1}))
    assert store.rename_counter("acme", "zhang", "2026-12-01", "c#rf_x", "c#rf_erased")
    assert not store.rename_counter("acme", "zhang", "2026-12-01", "c#rf_x", "c#rf_erased")  # again: nothing
    assert not store.rename_counter("acme", "li", "2026-12-01", "c#rf_x", "c#rf_erased")  # no such day
    snap = store.load_intake("acme", IntakeKeys("e1", None, "zhang", "2026-12-01", include_alias=False))
    assert snap.counters == {"adds": 1, "c#rf_erased": 3}


@covers(CustomerRepository.claim_referral_code, CustomerRepository.referral_code_of)
def test_a_referral_link_is_claimed_once_and_erased_with_the_partition(store: Any) -> None:
    """The customer → referral code link: the first claim holds (a repeat or a rival gets its id back), only the
    customer's own partition holds it, and erasing the partition removes it (counted as one of its items)."""
    _seed(store)
    _seed(store, "c2")
    assert store.referral_code_of("acme", "c1") is None
    assert store.claim_referral_code("acme", "c1", "rf_a") == "rf_a"
    assert store.claim_referral_code("acme", "c1", "rf_b") == "rf_a"  # a rival or a repeat: the first claim
    assert store.referral_code_of("acme", "c1") == "rf_a" and store.referral_code_of("acme", "c2") is None
    assert store.referral_code_of("other", "c1") is None  # tenants never meet
    store.put_entry("acme", "c1", "x0", Entry(T0, "custom", AT))
    assert store.erase_customer("acme", "c1", tombstones=[], max_items=1) == -1 - 1
    assert store.erase_customer("acme", "c1", tombstones=[]) == 2  # the rest: the link or the entry, the profile
    assert store.referral_code_of("acme", "c1") is None
    assert store.claim_referral_code("acme", "c2", "rf_c") == "rf_c"
