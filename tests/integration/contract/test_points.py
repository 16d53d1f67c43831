"""The check-in and points contract, on DynamoDB Local and on the fake: a day claimed once (the check-in's credit
claim), a credit's ref credited once, a standing changed only from the version read, the board entry moved (never
two), a balance never below zero, and erasure that leaves no points item of the customer anywhere."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.erasure import ErasureRepository
from chalicelib.adapters.dynamodb.points import PointsRepository as R
from chalicelib.domain.points import LedgerEntry, Redemption, Standing, check_in
from chalicelib.errors import ConflictError, InvalidError
from tests.integration.contract.registry import covers

G = "wrGroup01"


def _checkin(store: Any, cid: str, day: str, ref: str, *, points: int = 10, chat_id: str = G) -> str:
    before, _ = store.load_checkin("acme", cid, chat_id, day)
    before = before or Standing(chat_id)
    after = check_in(before, day=day, points=points, reached=f"{day}T01:00:00Z#{ref}")
    entry = LedgerEntry(ref, points, "checkin", f"{day}T09:00:00+08:00", chat_id)
    outcome: str = store.record_checkin("acme", cid, day=day, before=before, after=after, entry=entry)
    return outcome


@covers(R.checkin_rules, R.put_checkin_rule)
def test_rules_are_the_tenant_default_and_a_groups_override(store: Any) -> None:
    assert store.checkin_rules("acme", G) == ({}, {})
    store.put_checkin_rule("acme", None, {"keyword": "签到"})
    store.put_checkin_rule("acme", G, {"points": 5})
    assert store.checkin_rules("acme", G) == ({"keyword": "签到"}, {"points": 5})
    assert store.checkin_rules("acme", "wrOther") == ({"keyword": "签到"}, {})
    assert store.checkin_rules("acme", None) == ({"keyword": "签到"}, {})
    assert store.checkin_rules("other", G) == ({}, {})  # tenants never meet
    store.put_checkin_rule("acme", G, {})
    assert store.checkin_rules("acme", G) == ({"keyword": "签到"}, {})


@covers(R.load_checkin, R.record_checkin, R.points_of, R.leaderboard)
def test_a_day_is_claimed_once_a_ref_credited_once_and_the_board_entry_moves(store: Any) -> None:
    assert store.load_checkin("acme", "c1", G, "2026-11-01") == (None, None)
    assert _checkin(store, "c1", "2026-11-01", "e1") == "applied"
    assert _checkin(store, "c1", "2026-11-01", "e2") == "duplicate"  # the day is taken
    assert _checkin(store, "c1", "2026-11-01", "e1") == "duplicate"  # so is it for a replay (the service reads first)
    standing, holder = store.load_checkin("acme", "c1", G, "2026-11-01")
    assert holder == "e1" and standing.score == 10 and standing.version == 1
    assert store.load_checkin("acme", "c1", "wrOther", "2026-11-01") == (None, None)
    assert store.load_checkin("other", "c1", G, "2026-11-01") == (None, None)
    assert _checkin(store, "c1", "2026-11-02", "e3") == "applied"
    assert _checkin(store, "c2", "2026-11-02", "e4", points=15) == "applied"
    board = store.leaderboard("acme", G, limit=10)
    assert [(e.customer_id, e.score, e.checkins, e.streak) for e in board] == [("c1", 20, 2, 2), ("c2", 15, 1, 1)]
    assert [e.customer_id for e in store.leaderboard("acme", G, limit=1)] == ["c1"]
    assert store.leaderboard("other", G, limit=10) == []
    balance, standings = store.points_of("acme", "c1")
    assert (balance.balance, balance.earned) == (20, 20)
    assert [(s.chat_id, s.score, s.streak, s.last_day) for s in standings] == [(G, 20, 2, "2026-11-02")]
    assert standings[0].rewards == ()
    assert store.points_of("other", "c1")[1] == []


@covers(R.record_checkin, R.points_of)
def test_a_standing_keeps_its_rewards_keys(store: Any) -> None:
    before = Standing(G)
    after = replace(check_in(before, day="2026-11-01", points=1, reached="k"), rewards=("reward#a", "reward#b"))
    entry = LedgerEntry("e1", 1, "checkin", "2026-11-01T09:00:00+08:00", G)
    assert store.record_checkin("acme", "c1", day="2026-11-01", before=before, after=after, entry=entry) == "applied"
    assert store.points_of("acme", "c1")[1] == [after]


@covers(R.record_checkin)
def test_a_stale_standing_is_refused_and_changes_nothing(store: Any) -> None:
    _checkin(store, "c1", "2026-11-01", "e1")
    stale = Standing(G)  # read before the first check-in
    after = check_in(stale, day="2026-11-02", points=10, reached="2026-11-02T01:00:00Z")
    entry = LedgerEntry("e2", 10, "checkin", "2026-11-02T09:00:00+08:00", G)
    with pytest.raises(ConflictError):
        store.record_checkin("acme", "c1", day="2026-11-02", before=stale, after=after, entry=entry)
    assert store.points_of("acme", "c1")[0].balance == 10
    assert len(store.leaderboard("acme", G, limit=10)) == 1


@covers(R.record_checkin)
def test_two_checkins_at_once_on_one_day_credit_once(store: Any) -> None:
    barrier, outcomes = threading.Barrier(2), []

    def check(ref: str) -> None:
        barrier.wait()
        try:
            outcomes.append(_checkin(store, "c1", "2026-11-01", ref))
        except ConflictError:  # read before the other won: the service re-reads, and then finds the day taken
            outcomes.append(_checkin(store, "c1", "2026-11-01", ref))

    threads = [threading.Thread(target=check, args=(ref,)) for ref in ("e1", "e2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["applied", "duplicate"]
    assert store.points_of("acme", "c1")[0].balance == 10 and len(store.leaderboard("acme", G, limit=10)) == 1


@covers(R.credit_points, R.ledger_page)
def test_credits_are_idempotent_by_ref_and_the_ledger_pages_newest_first(store: Any) -> None:
    for n in range(1, 6):
        assert store.credit_points("acme", "c1", LedgerEntry(f"g{n}", n, "gift", f"2026-11-0{n}T09:00:00+08:00"))
    assert not store.credit_points("acme", "c1", LedgerEntry("g1", 1, "gift", "2026-11-09T09:00:00+08:00"))
    first = store.ledger_page("acme", "c1", cursor=None, limit=3)
    assert [e.ref for e in first.items] == ["g5", "g4", "g3"] and first.next_cursor
    second = store.ledger_page("acme", "c1", cursor=first.next_cursor, limit=3)
    assert [e.ref for e in second.items] == ["g2", "g1"] and second.next_cursor is None
    assert second.items[0] == LedgerEntry("g2", 2, "gift", "2026-11-02T09:00:00+08:00")
    with pytest.raises(InvalidError):
        store.ledger_page("acme", "c2", cursor=first.next_cursor, limit=3)  # a cursor of another customer
    assert store.points_of("acme", "c1")[0].balance == 15


@covers(R.redeem_points, R.points_of)
def test_a_redemption_never_overdraws_and_answers_its_first_outcome(store: Any) -> None:
    store.credit_points("acme", "c1", LedgerEntry("g1", 100, "gift", "2026-11-01T09:00:00+08:00"))
    r1 = Redemption("r1", 60, "课程", "2026-11-02T09:00:00+08:00")
    assert store.redeem_points("acme", "c1", r1).status == "applied"
    assert store.redeem_points("acme", "c1", r1).status == "applied"  # a repeat debits nothing
    r2 = Redemption("r2", 60, "课程", "2026-11-02T10:00:00+08:00")
    assert store.redeem_points("acme", "c1", r2).status == "insufficient_points"
    store.credit_points("acme", "c1", LedgerEntry("g2", 100, "gift", "2026-11-03T09:00:00+08:00"))
    assert store.redeem_points("acme", "c1", r2) == Redemption("r2", 60, "课程", r2.at, "insufficient_points")
    assert store.redeem_points("acme", "c9", r1).status == "insufficient_points"  # no balance at all
    balance, _ = store.points_of("acme", "c1")
    assert (balance.balance, balance.earned, balance.spent) == (140, 200, 60)
    assert [e.points for e in store.ledger_page("acme", "c1", cursor=None, limit=10).items] == [100, -60, 100]


@covers(R.redeem_points)
def test_two_redemptions_at_once_one_succeeds(store: Any) -> None:
    store.credit_points("acme", "c1", LedgerEntry("g1", 100, "gift", "2026-11-01T09:00:00+08:00"))
    barrier, outcomes = threading.Barrier(2), []

    def redeem(rid: str) -> None:
        barrier.wait()
        outcomes.append(store.redeem_points("acme", "c1", Redemption(rid, 60, "课程", "2026-11-02T09:00:00+08:00")))

    threads = [threading.Thread(target=redeem, args=(rid,)) for rid in ("r1", "r2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) == ["applied", "insufficient_points"]
    assert store.points_of("acme", "c1")[0].balance == 40


@covers(ErasureRepository.erase_customer)
def test_erasure_deletes_every_points_item_and_the_board_entries(store: Any) -> None:
    _checkin(store, "c1", "2026-11-01", "e1")
    _checkin(store, "c1", "2026-11-02", "e2")
    _checkin(store, "c1", "2026-11-02", "e3", chat_id="wrGroup02")
    _checkin(store, "c2", "2026-11-02", "e4")
    store.redeem_points("acme", "c1", Redemption("r1", 5, "书", "2026-11-03T09:00:00+08:00"))
    store.erase_customer("acme", "c1", tombstones=[])
    assert [e.customer_id for e in store.leaderboard("acme", G, limit=10)] == ["c2"]
    assert store.leaderboard("acme", "wrGroup02", limit=10) == []
    assert store.points_of("acme", "c1")[1] == [] and store.points_of("acme", "c1")[0].balance == 0
    assert store.ledger_page("acme", "c1", cursor=None, limit=10).items == []
    assert store.load_checkin("acme", "c1", G, "2026-11-01") == (None, None)
    assert store.points_of("acme", "c2")[0].balance == 10
