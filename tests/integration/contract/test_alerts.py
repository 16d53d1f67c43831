"""The hot leads and alerts outbox contract, on DynamoDB Local and on the fake: conditional writes, sparse indexes,
and the hot state erased with its customer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters.dynamodb.alerts import AlertRepository as R
from chalicelib.adapters.dynamodb.erasure import ErasureRepository
from chalicelib.domain.alerts import FAILED, SENDING, SENT, Alert, HotLead
from tests.integration.contract.registry import covers


def lead(cid: str = "c1", owner: str = "zhang", hot_at: str = "2026-12-01T10:00:00+08:00", ref: str = "r1") -> HotLead:
    return HotLead(cid, owner, hot_at, "2026-12-08T10:00:00+08:00", ref)


def alert(alert_id: str = "al_1", due_at: str = "2026-12-01T10:00:00+08:00", **kw: Any) -> Alert:
    base: dict[str, Any] = dict(
        alert_id=alert_id,
        kind="hot",
        userid="zhang",
        dedupe_key=f"hot:c1:{alert_id}",
        due_at=due_at,
        created_at="2026-12-01T10:00:00+08:00",
        customer_id="c1",
    )
    base.update(kw)
    return Alert(**base)


@covers(R.mark_hot, R.get_hot, R.hot_leads)
def test_a_customer_is_made_hot_once_per_newer_reply_and_listed_under_its_owner(store: Any) -> None:
    assert store.mark_hot("acme", lead(), hot_key="2026-12-01T02:00:00Z")
    assert not store.mark_hot("acme", lead(), hot_key="2026-12-01T02:00:00Z")  # the same reply again
    assert not store.mark_hot("acme", lead(ref="r0"), hot_key="2026-12-01T01:00:00Z")  # an older one, late
    assert store.get_hot("acme", "c1") == lead()
    later = lead(hot_at="2026-12-02T10:00:00+08:00", ref="r2")
    assert store.mark_hot("acme", later, hot_key="2026-12-02T02:00:00Z")
    assert store.mark_hot("acme", lead("c2"), hot_key="2026-12-01T03:00:00Z")
    assert store.mark_hot("acme", lead("c3", owner="li"), hot_key="2026-12-01T03:00:00Z")
    assert store.mark_hot("other", lead("c4"), hot_key="2026-12-01T03:00:00Z")
    hot = store.hot_leads("acme", "zhang", since_key="2026-11-24T00:00:00Z", limit=10)
    assert [h.customer_id for h in hot] == ["c1", "c2"]  # newest first, only this owner's, only this tenant's
    assert hot[0] == later
    assert [h.customer_id for h in store.hot_leads("acme", "zhang", since_key="2026-12-02T00:00:00Z", limit=10)] == [
        "c1"
    ]
    assert len(store.hot_leads("acme", "zhang", since_key="2026-11-24T00:00:00Z", limit=1)) == 1
    assert store.get_hot("acme", "c9") is None and store.get_hot("other", "c1") is None


@covers(R.clear_hot)
def test_an_order_clears_the_hot_state_unless_a_newer_reply_made_it_hot(store: Any) -> None:
    store.mark_hot("acme", lead(), hot_key="2026-12-01T02:00:00Z")
    assert not store.clear_hot("acme", "c1", cleared_key="2026-12-01T01:00:00Z")  # the reply came after it
    assert store.clear_hot("acme", "c1", cleared_key="2026-12-01T03:00:00Z")
    assert not store.clear_hot("acme", "c1", cleared_key="2026-12-01T04:00:00Z")  # not hot any more
    assert not store.clear_hot("acme", "c9", cleared_key="2026-12-01T04:00:00Z")
    assert store.get_hot("acme", "c1") is None
    assert store.hot_leads("acme", "zhang", since_key="2026-11-24T00:00:00Z", limit=10) == []
    assert not store.mark_hot("acme", lead(ref="r0"), hot_key="2026-12-01T02:30:00Z")  # before the order
    assert store.mark_hot("acme", lead(ref="r5"), hot_key="2026-12-01T05:00:00Z")  # a new reply after it
    assert store.get_hot("acme", "c1") == lead(ref="r5")


@covers(ErasureRepository.erase_customer)
def test_erasure_takes_the_customer_off_the_hot_list(store: Any) -> None:
    store.mark_hot("acme", lead(), hot_key="2026-12-01T02:00:00Z")
    store.erase_customer("acme", "c1", tombstones=[])
    assert store.get_hot("acme", "c1") is None
    assert store.hot_leads("acme", "zhang", since_key="2026-11-24T00:00:00Z", limit=10) == []


@covers(R.create_alert, R.get_alert, R.save_alert, R.due_alerts)
def test_an_alert_is_created_once_saved_under_its_status_and_due_while_pending(store: Any) -> None:
    assert store.create_alert("acme", alert())
    assert not store.create_alert("acme", replace(alert(), userid="li"))  # the same fact again
    assert store.get_alert("acme", "al_1") == alert()
    assert store.get_alert("other", "al_1") is None
    store.create_alert("acme", alert("al_2", due_at="2026-12-02T08:00:00+08:00"))  # deferred to the quiet end
    store.create_alert("other", alert("al_3"))
    assert [a.alert_id for a in store.due_alerts("acme", until_key="2026-12-01T02:00:00Z", limit=10)] == ["al_1"]
    assert [a.alert_id for a in store.due_alerts("acme", until_key="2026-12-02T00:00:00Z", limit=10)] == [
        "al_1",
        "al_2",
    ]
    claimed = replace(alert(), status=SENDING, lease_until="2026-12-01T10:05:00+08:00")
    assert not store.save_alert("acme", claimed, expected=claimed)  # not what is stored
    assert not store.save_alert("acme", claimed, expected=replace(alert(), attempts=1))  # a stale copy
    assert store.save_alert("acme", claimed, expected=alert())
    assert not store.save_alert("acme", claimed, expected=alert())  # a second sender loses
    assert store.due_alerts("acme", until_key="2026-12-01T02:04:59Z", limit=10) == []  # its lease runs
    assert store.due_alerts("acme", until_key="2026-12-01T02:05:00Z", limit=10) == [claimed]  # then it is back
    reclaimed = replace(claimed, lease_until="2026-12-01T10:10:00+08:00")
    assert store.save_alert("acme", reclaimed, expected=claimed)
    again = replace(claimed, lease_until="2026-12-01T10:11:00+08:00")
    assert not store.save_alert("acme", again, expected=claimed)  # the same expired lease reclaimed twice
    sent = replace(reclaimed, status=SENT, lease_until=None, sent_at="2026-12-01T10:00:01+08:00", msgid="m1")
    assert store.save_alert("acme", sent, expected=reclaimed)
    assert store.get_alert("acme", "al_1") == sent
    assert [a.alert_id for a in store.due_alerts("acme", until_key="2026-12-09T00:00:00Z", limit=10)] == ["al_2"]
    deferred = alert("al_2", due_at="2026-12-02T08:00:00+08:00")
    assert store.save_alert("acme", replace(deferred, status=FAILED, reason="wecom_auth"), expected=deferred)
    assert store.due_alerts("acme", until_key="2026-12-09T00:00:00Z", limit=10) == []


@covers(R.take_alert_slot)
def test_alert_slots_count_per_member_minute_and_hour(store: Any) -> None:
    def take(userid: str = "zhang", minute: str = "2026-12-01T02:05", hour: str = "2026-12-01T02") -> str | None:
        result: str | None = store.take_alert_slot("acme", userid, minute=minute, hour=hour, per_minute=2, per_hour=3)
        return result

    assert take() is None and take() is None
    assert take() == "minute"  # the third in the same minute
    assert take("li") is None  # another member has their own
    assert store.take_alert_slot("other", "zhang", minute="2026-12-01T02:05", hour="2026-12-01T02",
                                 per_minute=2, per_hour=3) is None  # fmt: skip
    assert take(minute="2026-12-01T02:06") is None  # the next minute: the hour's third
    assert take(minute="2026-12-01T02:07") == "hour"
    assert take(minute="2026-12-01T03:00", hour="2026-12-01T03") is None
