"""Check-ins, points, streaks, rewards, leaderboards and redemptions against the in-memory store: events go in
through the business-events service, as a tenant's systems send them, and reach points through the signal bus."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.business_events import event_digest, sign
from chalicelib.domain.points import CheckinRule, Standing, check_in, effective_rule, matches, reward_earned
from chalicelib.domain.signals import CHECKED_IN, CHECKIN, Signal
from chalicelib.errors import ConflictError, NotFoundError
from tests.fakes.store import FakeStore
from tests.unit.conftest import Env, make_channel, make_env

GROUP, OTHER = "wrGroupA0001", "wrGroupB0002"


@dataclass
class Camp:
    env: Env

    def customer(self) -> str:
        _, result = self.env.scan(self.channel)
        return str(result.customer_id)

    @property
    def channel(self) -> str:
        if not hasattr(self, "_state"):
            self._state = str(make_channel(self.env).state)
        return self._state

    def post(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        raw = json.dumps({"events": list(events)}, ensure_ascii=False).encode()
        stamp = str(int(self.env.clock.epoch()))
        secret = self.env.store.get_tenant("unit").events_secret
        body = self.env.svc.events.receive("unit", timestamp=stamp, signature=sign(secret, stamp, raw), body=raw)
        return list(body["results"])

    def points(self, cid: str, **kw: Any) -> dict[str, Any]:
        kw.setdefault("cursor", None)
        kw.setdefault("limit", 20)
        return self.env.svc.points.points(self.env.tenant, cid, **kw)

    def board(self, chat_id: str = GROUP, limit: int = 20) -> list[tuple[str, int]]:
        items = self.env.svc.points.leaderboard("unit", chat_id, limit=limit)["items"]
        return [(i["customer_id"], i["points"]) for i in items]

    def rewards(self) -> list[Any]:
        tasks = self.env.store.list_tasks("unit", userid=None, status=None, due_from=None, due_to=None, limit=100)
        return [t for t in tasks if t.kind == "reward"]


def checkin(event_id: str, cid: str, at: str, chat_id: str | None = GROUP) -> dict[str, Any]:
    body = {"event_id": event_id, "type": "checkin", "customer_id": cid, "occurred_at": at}
    return {**body, "chat_id": chat_id} if chat_id else body


def message(event_id: str, cid: str, at: str, text: str, chat_id: str | None = GROUP) -> dict[str, Any]:
    body = {"event_id": event_id, "type": "message", "customer_id": cid, "occurred_at": at, "text": text}
    return {**body, "chat_id": chat_id} if chat_id else body


def day(n: int, time: str = "09:00") -> str:
    """A Shanghai-local instant on November ``n`` (the fixed clock is 2026-12-01 20:00 in Shanghai)."""
    return f"2026-11-{n:02d}T{time}:00+08:00"


@pytest.fixture
def camp() -> Camp:
    return Camp(make_env(FakeStore()))


# --- the pure rules ---------------------------------------------------------------------------------------------


def test_the_keyword_matches_inside_the_text_whatever_its_width_and_case() -> None:
    assert matches("打卡", "Day3 打卡✅") and matches("打卡", "＃打 卡") and matches("daka", "DAKA 第1天")
    assert not matches("打卡", "签到") and not matches("打卡", None) and not matches("打卡", "")


def test_a_groups_rule_overrides_the_tenant_default_field_by_field() -> None:
    assert effective_rule(None, None) == CheckinRule("打卡", 10, 7)
    rule = effective_rule({"keyword": "签到", "points": 5}, {"points": 20})
    assert rule == CheckinRule("签到", 20, 7)


def test_a_streak_moves_forward_only_and_a_missed_day_starts_a_run() -> None:
    s = check_in(Standing("g"), day="2026-11-01", points=10, reached="k1")
    s = check_in(s, day="2026-11-02", points=10, reached="k2")
    assert (s.streak, s.run_start, s.score, s.checkins) == (2, "2026-11-01", 20, 2)
    late = check_in(s, day="2026-10-30", points=10, reached="k3")  # a late event: points, not the run
    assert (late.streak, late.last_day, late.score) == (2, "2026-11-02", 30)
    gap = check_in(s, day="2026-11-04", points=10, reached="k4")
    assert (gap.streak, gap.best, gap.run_start) == (1, 2, "2026-11-04")
    assert reward_earned(s, check_in(s, day="2026-11-03", points=1, reached="k"), 3)
    assert not reward_earned(s, check_in(s, day="2026-11-03", points=1, reached="k"), 0)


# --- check-ins --------------------------------------------------------------------------------------------------


def test_a_checkin_is_credited_once_per_customer_group_and_local_day(camp: Camp) -> None:
    cid = camp.customer()
    results = camp.post(checkin("c-1", cid, day(20)), checkin("c-2", cid, day(20, "21:00")))
    assert [r["status"] for r in results] == ["applied", "applied"]  # both are facts; one is credited
    camp.post(checkin("c-3", cid, day(20, "22:00"), chat_id=OTHER))  # another group, the same day: its own
    view = camp.points(cid)
    assert view["balance"] == 20 and len(view["ledger"]) == 2
    [g, o] = view["groups"]
    assert (g["chat_id"], g["points"], g["checkins"], g["streak"]) == (GROUP, 10, 1, 1)
    assert (o["chat_id"], o["points"]) == (OTHER, 10)
    assert view["ledger"][0]["chat_id"] == OTHER and view["ledger"][0]["reason"] == "checkin"


def test_a_checkin_without_a_group_earns_nothing(camp: Camp) -> None:
    cid = camp.customer()
    assert camp.post(checkin("c-1", cid, day(20), chat_id=None))[0]["status"] == "applied"
    assert camp.points(cid)["balance"] == 0 and camp.board() == []


def test_a_checkin_across_a_local_midnight_is_two_days_and_a_streak_of_two(camp: Camp) -> None:
    cid = camp.customer()
    # 23:59 and 00:01 in Shanghai: one UTC day (15:59Z and 16:01Z on the 20th), two local days.
    camp.post(checkin("late", cid, day(20, "23:59")), checkin("early", cid, day(21, "00:01")))
    [g] = camp.points(cid)["groups"]
    assert (g["checkins"], g["streak"], g["last_day"]) == (2, 2, "2026-11-21")
    assert camp.points(cid)["balance"] == 20


def test_a_replayed_event_or_signal_credits_nothing_twice(camp: Camp) -> None:
    cid = camp.customer()
    camp.post(checkin("c-1", cid, day(20)))
    assert camp.post(checkin("c-1", cid, day(20)))[0]["status"] == "duplicate"
    # The same fact's signal heard again (a crash and a re-publish): the fact's day is held by its own ref.
    ref = event_digest(camp.env.tenant, "c-1")
    at = camp.env.svc.events.validate(checkin("x", cid, day(20)), camp.env.clock.now())[0].occurred_at
    rule = camp.env.svc.points.rule("unit", GROUP)
    again = camp.env.svc.points.check_in(camp.env.tenant, cid, chat_id=GROUP, at=at, ref=ref, rule=rule)
    assert again == "replayed"
    assert camp.points(cid)["balance"] == 10 and camp.points(cid)["groups"][0]["checkins"] == 1


def test_group_messages_check_in_by_keyword_and_a_group_can_change_it(camp: Camp) -> None:
    cid = camp.customer()
    camp.post(
        message("m-1", cid, day(20), "签到"),  # not this group's keyword
        message("m-2", cid, day(20, "10:00"), "打卡", chat_id=None),  # a 1:1 message is no check-in
        message("m-3", cid, day(20, "11:00"), "Day1 打卡✅"),
    )
    assert camp.points(cid)["groups"][0]["checkins"] == 1
    camp.env.svc.points.set_rule("unit", OTHER, {"keyword": "签到", "points": 3})
    camp.post(message("m-4", cid, day(20), "打卡", chat_id=OTHER), message("m-5", cid, day(21), "签到", chat_id=OTHER))
    view = camp.points(cid)
    assert [(g["chat_id"], g["points"]) for g in view["groups"]] == [(GROUP, 10), (OTHER, 3)]
    assert camp.env.svc.points.rule_view("unit", OTHER) == {
        "keyword": "签到",
        "points": 3,
        "reward_streak": 7,
        "chat_id": OTHER,
        "overrides": {"keyword": "签到", "points": 3},
    }


def test_a_missed_day_resets_the_streak(camp: Camp) -> None:
    cid = camp.customer()
    camp.post(*[checkin(f"c-{n}", cid, day(n)) for n in (10, 11, 12, 14)])
    [g] = camp.points(cid)["groups"]
    assert (g["streak"], g["best_streak"], g["checkins"]) == (1, 3, 4)


def test_a_seven_day_streak_makes_one_reward_task_per_run(camp: Camp) -> None:
    cid = camp.customer()
    camp.post(*[checkin(f"c-{n}", cid, day(n)) for n in range(1, 9)])  # 8 days: the 7th earns it, the 8th not
    [task] = camp.rewards()
    assert task.userid == "zhang" and task.customer_ids == (cid,) and task.reason == "streak_reward"
    camp.post(*[checkin(f"d-{n}", cid, day(n)) for n in range(20, 27)])  # a new run of 7
    assert len(camp.rewards()) == 2
    camp.env.svc.points.set_rule("unit", None, {"reward_streak": 0})
    camp.post(*[checkin(f"e-{n}", cid, day(n), chat_id=OTHER) for n in range(1, 8)])
    assert len(camp.rewards()) == 2  # 0: no reward


# --- the ledger and redemptions ---------------------------------------------------------------------------------


def test_a_credit_is_idempotent_by_its_ref(camp: Camp) -> None:
    cid = camp.customer()
    points = camp.env.svc.points
    assert points.credit(camp.env.tenant, cid, points=100, reason="manual", ref="gift-1")
    assert not points.credit(camp.env.tenant, cid, points=100, reason="manual", ref="gift-1")
    view = camp.points(cid)
    assert (view["balance"], view["earned"]) == (100, 100) and len(view["ledger"]) == 1


def test_the_ledger_pages_newest_first(camp: Camp) -> None:
    cid = camp.customer()
    camp.post(*[checkin(f"c-{n}", cid, day(n)) for n in range(1, 6)])
    first = camp.points(cid, limit=2)
    second = camp.points(cid, limit=2, cursor=first["next_cursor"])
    third = camp.points(cid, limit=2, cursor=second["next_cursor"])
    ats = [e["at"][:10] for page in (first, second, third) for e in page["ledger"]]
    assert ats == [f"2026-11-0{n}" for n in (5, 4, 3, 2, 1)] and third["next_cursor"] is None


def test_two_redemptions_at_once_never_take_the_balance_below_zero(camp: Camp) -> None:
    cid = camp.customer()
    camp.env.svc.points.credit(camp.env.tenant, cid, points=100, reason="manual", ref="gift-1")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def redeem(rid: str) -> None:
        barrier.wait()
        try:
            body = {"redemption_id": rid, "points": 60, "reason": "兑换课程"}
            outcomes.append(camp.env.svc.points.redeem(camp.env.tenant, cid, body)["status"])
        except ConflictError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=redeem, args=(rid,)) for rid in ("r-1", "r-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["applied", "insufficient_points"]
    view = camp.points(cid)
    assert (view["balance"], view["spent"]) == (40, 60)


def test_a_repeated_redemption_answers_its_first_outcome(camp: Camp) -> None:
    cid = camp.customer()
    points, tenant = camp.env.svc.points, camp.env.tenant
    points.credit(tenant, cid, points=50, reason="manual", ref="gift-1")
    first = points.redeem(tenant, cid, {"redemption_id": "r-1", "points": 30, "reason": "书"})
    assert (first["status"], first["balance"]) == ("applied", 20)
    assert points.redeem(tenant, cid, {"redemption_id": "r-1", "points": 30, "reason": "书"})["status"] == "applied"
    with pytest.raises(ConflictError) as short:
        points.redeem(tenant, cid, {"redemption_id": "r-2", "points": 30, "reason": "书"})
    assert short.value.code == "insufficient_points"
    points.credit(tenant, cid, points=100, reason="manual", ref="gift-2")
    with pytest.raises(ConflictError) as again:  # refused once, refused for good
        points.redeem(tenant, cid, {"redemption_id": "r-2", "points": 30, "reason": "书"})
    assert again.value.code == "insufficient_points"
    with pytest.raises(ConflictError) as reused:
        points.redeem(tenant, cid, {"redemption_id": "r-1", "points": 99, "reason": "书"})
    assert reused.value.code == "redemption_id_reused"
    assert camp.points(cid)["balance"] == 120
    with pytest.raises(NotFoundError):
        points.redeem(tenant, "cnobody0000000", {"redemption_id": "r-3", "points": 1})


# --- leaderboards and erasure -----------------------------------------------------------------------------------


def test_the_leaderboard_ranks_by_group_points_then_who_got_there_first(camp: Camp) -> None:
    a, b, c = camp.customer(), camp.customer(), camp.customer()
    camp.post(*[checkin(f"a-{n}", a, day(n)) for n in (1, 2)])
    camp.post(checkin("b-1", b, day(3)), checkin("b-2", b, day(4)), checkin("c-1", c, day(2)))
    camp.post(checkin("c-other", c, day(5), chat_id=OTHER))  # another group's points are not this board's
    assert camp.board() == [(a, 20), (b, 20), (c, 10)]
    assert camp.board(limit=2) == [(a, 20), (b, 20)]
    items = camp.env.svc.points.leaderboard("unit", GROUP, limit=1)["items"]
    assert items == [{"rank": 1, "customer_id": a, "points": 20, "checkins": 2, "streak": 2}]
    assert camp.board(OTHER) == [(c, 10)]


def test_erasure_removes_every_points_item_and_the_board_entries(camp: Camp) -> None:
    a, b = camp.customer(), camp.customer()
    camp.post(*[checkin(f"a-{n}", a, day(n)) for n in range(1, 8)])  # a 7-day run: a reward task names them
    camp.post(checkin("a-o", a, day(1), chat_id=OTHER), checkin("b-1", b, day(2)))
    camp.env.svc.points.redeem(camp.env.tenant, a, {"redemption_id": "r-1", "points": 5})
    assert [t.customer_ids for t in camp.rewards()] == [(a,)]
    camp.env.svc.customers.erase(camp.env.tenant, a)
    assert camp.board() == [(b, 10)] and camp.board(OTHER) == [] and camp.rewards() == []
    state = camp.env.store._points()
    left = [key for table in ("checkins", "refs", "standings", "balances", "ledger") for key in state[table]]
    assert all(a not in key for key in left) and any(b in key for key in left)


def test_a_signal_without_a_group_or_a_ref_is_ignored(camp: Camp) -> None:
    cid = camp.customer()
    now = camp.env.clock.now()
    camp.env.svc.points.on_signal(camp.env.tenant, cid, Signal(CHECKIN, now, chat_id=GROUP))
    camp.env.svc.points.on_signal(camp.env.tenant, cid, Signal(CHECKIN, now, ref="r"))
    assert camp.points(cid)["balance"] == 0


def test_a_checkins_fact_keeps_its_group_for_the_metrics(camp: Camp) -> None:
    cid = camp.customer()
    camp.post(checkin("c-1", cid, day(20)), checkin("c-2", cid, day(20, "10:00")))
    facts = [f for (t, c, _), f in camp.env.store._events()["facts"].items() if (t, c) == ("unit", cid)]
    assert sorted((f.type, f.detail.get("chat_id")) for f in facts if f.type == "checkin") == [
        ("checkin", GROUP),
        ("checkin", GROUP),
    ]
    # Both are facts (a metrics rebuild counts check-in facts per group and local day); one day is one credit.
    assert len(camp.env.store._points()["checkins"]) == 1


def test_a_credited_checkin_is_told_once_for_the_metrics(camp: Camp) -> None:
    heard: list[tuple[str, Signal]] = []
    camp.env.svc.signals.subscribe((CHECKED_IN,), "metrics", lambda t, cid, s: heard.append((cid, s)))
    cid = camp.customer()
    camp.post(checkin("c-1", cid, day(20)), checkin("c-2", cid, day(20, "21:00")), checkin("c-1", cid, day(20)))
    camp.post(message("m-1", cid, day(21), "打卡"), message("m-2", cid, day(21, "10:00"), "hi"))
    assert [(c, s.chat_id, s.kind) for c, s in heard] == [(cid, GROUP, "2026-11-20"), (cid, GROUP, "2026-11-21")]
    assert len({s.ref for _, s in heard}) == 2 and all(s.text is None for _, s in heard)
