"""The timeline's paging (domain/timeline.py, services/timeline.py) on the in-memory store: exact order across pages
even where a month quota item holds entries older than the facts around it."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import timeline as tl
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.sop import Enrollment, Subject, Touch
from chalicelib.domain.timeline import Entry, TimelineItem
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.timeline import TimelineService
from tests.fakes.store import FakeStore

ZONE = ZoneInfo("Asia/Shanghai")
ADDED = "2026-11-30T09:00:00+08:00"


def _customer() -> Customer:
    return Customer(
        customer_id="c1",
        external_userid="wm1",
        owner_userid="zhang",
        source_channel_id="ch_a",
        stage=Stage.NEW,
        added_at=ADDED,
        created_at=ADDED,
        updated_at=ADDED,
    )


def _at(day: int, hour: int) -> str:
    return datetime(2026, 12, day, hour, tzinfo=timezone(timedelta(hours=8))).isoformat()


def _story() -> FakeStore:
    """Facts every day of early December, and sent touches on days 2 and 6 in the month's quota item (keyed at the
    month's end, so it sorts before all of them, newest first)."""
    store = FakeStore()
    for day in range(1, 9):
        at = _at(day, 12)
        store.put_entry("t", "c1", f"d{day}", Entry(tl.epoch_of(at), "checkin", at, detail={"day": day}))
    for day in (2, 6):
        touch = Touch(f"pl_a.1.s{day}.2026120{day}0200", Subject.customer("c1"), "en_1", f"s{day}", 0, _at(day, 10))
        store.take_quota("t", "c1", month="2026-12", day_key=None, day_cap=None, month_cap=31, touch=touch)
    return store


def _walk(store: FakeStore, limit: int, before: datetime | None = None) -> list[tuple[str, str]]:
    svc, cursor, out = TimelineService(store), None, []
    for _ in range(50):
        page = svc.page("t", _customer(), ZONE, limit=limit, cursor=cursor, before=before)
        out += [(e["type"], e["at"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("the cursor never ended")


def test_one_page_holds_the_whole_story_newest_first_with_the_first_add_last() -> None:
    entries = _walk(_story(), 100)
    assert entries[0] == ("checkin", _at(8, 12)) and entries[-1] == ("add_external_contact", ADDED)
    assert [at for _, at in entries] == sorted((at for _, at in entries), reverse=True)
    assert entries.count(("touch", _at(6, 10))) == 1 and entries.count(("touch", _at(2, 10))) == 1


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 7])
def test_every_page_size_walks_the_same_story_in_the_same_order(limit: int) -> None:
    """The month item comes first and holds touches older than the page's last fact: the page reads on to the
    oldest of them, so no later page holds a newer entry, nothing repeats and nothing is lost."""
    assert _walk(_story(), limit) == _walk(_story(), 100)


def test_before_shows_only_older_entries_even_those_held_by_a_later_keyed_month_item() -> None:
    cut = datetime(2026, 12, 6, 11, tzinfo=UTC) - timedelta(hours=8)  # 11:00 local on the 6th
    everything = _walk(_story(), 100)
    older = [(t, at) for t, at in everything if datetime.fromisoformat(at) < cut]
    assert ("touch", _at(6, 10)) in older
    assert _walk(_story(), 100, before=cut) == older
    assert _walk(_story(), 2, before=cut) == older


def test_a_cursor_that_is_not_ours_is_a_clear_400() -> None:
    svc = TimelineService(_story())
    forged = [{"k": "PROFILE"}, {"k": "F#\u0000"}, {"k": "F#" + "9" * 300}, {"k": "F#1", "b": "x"}, {"k": 5}]
    encoded = [base64.urlsafe_b64encode(json.dumps(f).encode()).decode().rstrip("=") for f in forged]
    for bad in ("nope", "W10", *encoded):
        with pytest.raises(InvalidError):
            svc.page("t", _customer(), ZONE, limit=5, cursor=bad)


def test_a_month_item_is_keyed_after_every_local_instant_of_its_month() -> None:
    end = tl.month_end_epoch("2026-12")
    last_local = datetime(2026, 12, 31, 23, 59, 59, tzinfo=ZoneInfo("Etc/GMT+12"))  # UTC-12, the latest
    assert end >= last_local.timestamp()
    assert end < datetime(2027, 1, 2, tzinfo=UTC).timestamp()
    assert tl.is_month_item(tl.month_sk("2026-12", tl.QUOTA_TAG)) and not tl.is_month_item(tl.sk_at(5, "abc"))
    assert tl.touch_suffix("c1#en_1#s1#0") == "tch.en_1.s1.0"
    assert tl.plan_of_bucket("pl_a.3.s_1.202612010200") == ("pl_a", 3, "s_1")


def test_adds_losses_and_re_adds_are_the_facts_intake_always_wrote_plus_the_profile() -> None:
    """No write of their own: the first add is the profile, a loss and a re-add are intake's facts."""
    from tests.unit.conftest import make_channel, make_env

    env = make_env(FakeStore())
    fields, created = env.scan(make_channel(env).state)
    env.clock.advance(hours=1)
    env.event("del_follow_user", userid="zhang", external_userid=fields["ExternalUserID"])
    env.clock.advance(hours=1)
    env.scan(make_channel(env, name="B站视频", source="bilibili").state, external_userid=fields["ExternalUserID"])
    page = env.svc.customers.timeline("unit", created.customer_id, zone=ZONE, limit=10, cursor=None, before=None)
    assert [(e["type"], e["detail"].get("first")) for e in page["items"]] == [
        ("add_external_contact", None),  # the re-add
        ("del_follow_user", None),
        ("add_external_contact", True),  # the first add, from the profile
    ]
    assert page["items"][-1]["channel_id"] and page["items"][-1]["userid"] == "zhang"
    with pytest.raises(NotFoundError):  # a staff token reads only its own customers
        env.svc.customers.timeline("unit", created.customer_id, zone=ZONE, limit=10, cursor=None, before=None,
                                   only_owner="li")  # fmt: skip


def test_a_page_costs_one_query_and_one_more_only_where_it_ends_inside_a_month_with_touches() -> None:
    store, reads = _story(), []
    real = store.timeline_items

    def counted(*args: object, **kwargs: object) -> object:
        reads.append(kwargs.get("limit"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    store.timeline_items = counted  # type: ignore[method-assign,assignment]
    svc = TimelineService(store)
    first = svc.page("t", _customer(), ZONE, limit=2)  # the month item and the 8th: its touches reach the 2nd
    assert reads == [2, None] and [e["type"] for e in first["items"]].count("touch") == 2
    reads.clear()
    svc.page("t", _customer(), ZONE, limit=2, cursor=first["next_cursor"])
    assert reads == [2]  # below the month's touches: one Query
    reads.clear()
    svc.page("t", _customer(), ZONE, limit=100)
    assert reads == [100]


def test_a_sent_touch_costs_the_quota_item_under_100_bytes_and_reads_back_whole() -> None:
    """Four of them (WeCom's monthly limit) keep the quota item, and so the write that counts a touch, at 1 KB."""
    bucket, touch, due = (
        "pl_ilf9lhgta174uoux.12.s_day7_am.202612061200",
        "en_x9q2m4k7w1z8v3b6n5#s_day7_am#0",
        _at(6, 20),
    )
    record = tl.sent_record(bucket, touch, due, last=True)
    assert len(record.encode()) < 100
    assert tl.sent_entry(record) == tl.touch_entry(bucket, touch, due, "sent", last=True)
    assert tl.sent_entry(record).detail["step_id"] == "s_day7_am" and tl.sent_entry(record).detail["completes"]


def _enrolled_story() -> FakeStore:
    """The story, plus enrollments whose start and exit are derived from their items (no entry item of their own):
    one started and exited among the facts, one started at the very time of a fact, and one replaced by a re-entry
    (its start and exit then stored for real)."""
    store = _story()
    first = Enrollment(Subject.customer("c1"), "pl_a", 1, "en_1", _at(2, 9), source="channel")
    store.put_enrollment("t", first, reentry="never")
    store.end_enrollment("t", first, status="exited", reason="exit:order:trial", at=_at(5, 12))  # as the 5th's fact
    store.put_enrollment("t", Enrollment(Subject.customer("c1"), "pl_b", 1, "en_2", _at(7, 8)), reentry="never")
    assert store.put_enrollment("t", replace(first, enrollment_id="en_3", enrolled_at=_at(8, 9)), reentry="always")
    return store


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_derived_enrollment_entries_page_like_stored_ones(limit: int) -> None:
    everything = _walk(_enrolled_story(), 100)
    assert [t for t, _ in everything].count("enrolled") == 3 and ("enrollment_ended", _at(5, 12)) in everything
    assert [at for _, at in everything] == sorted((at for _, at in everything), reverse=True)
    assert _walk(_enrolled_story(), limit) == everything


def test_merging_derived_items_keeps_a_page_exact() -> None:
    """A stored item wins over a derived one with its key; a derived item outside the window, or below the last
    stored item when more may follow (a Query page cut short by size), waits for its own page."""

    def item(t: int, suffix: str, kind: str = "custom") -> TimelineItem:
        return TimelineItem(tl.sk_at(t, suffix), (Entry(t, kind, ""),))

    stored = [item(50, "a"), item(40, "enr.en_1", "stored")]
    derived = [item(60, "enr.en_9"), item(45, "end.en_1"), item(40, "enr.en_1"), item(30, "enr.en_2")]
    below, above = tl.bound_sk(55), tl.bound_sk(10)
    merged, more = tl.merge_derived(stored, derived, below=below, above=above, limit=5, more=True)
    assert [(i.time, i.entries[0].type) for i in merged] == [(50, "custom"), (45, "custom"), (40, "stored")] and more
    merged, more = tl.merge_derived(stored, derived, below=below, above=above, limit=5, more=False)
    assert [i.time for i in merged] == [50, 45, 40, 30] and not more
    merged, more = tl.merge_derived(stored, derived, below=below, above=above, limit=3, more=False)
    assert [i.time for i in merged] == [50, 45, 40] and more  # cut: the rest follows
    assert tl.merge_derived([], derived, below=below, above=tl.bound_sk(35), limit=None, more=False) == (
        [derived[1], derived[2]],
        False,
    )


def test_an_enrollment_renders_its_start_and_only_an_exit_as_its_end() -> None:
    run = Enrollment(Subject.customer("c1"), "pl_a", 2, "en_1", _at(1, 9), source="tag")
    [start] = tl.enrollment_items(run)
    assert start.sk == tl.sk_at(tl.epoch_of(_at(1, 9)), "enr.en_1") and start.entries[0].ref == "enr.en_1"
    assert len(tl.enrollment_items(replace(run, status="completed", ended_at=_at(2, 9)))) == 1
    exited = tl.enrollment_items(replace(run, status="exited", ended_at=None, exit_reason="silence"))
    shown = [(i.entries[0].type, i.entries[0].at) for i in exited]
    assert shown == [("enrolled", _at(1, 9)), ("enrollment_ended", _at(1, 9))]  # an exit without its time: the start's
