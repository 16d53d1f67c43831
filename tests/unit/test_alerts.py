"""Alerts to staff and hot leads (services/alerts.py) with the fake store and the real WeCom client against the
in-memory WeCom world: what arrives in the member's WeCom, once, and when."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.alerts import FAILED, PENDING, SENT, SKIPPED, Alert, alert_id
from chalicelib.domain.customers import Attribution, Customer, Relation, Stage
from chalicelib.domain.facts import StaffDayDelta
from chalicelib.domain.signals import LOST, ORDER, REPLY, TASK_ESCALATED, Signal
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import WeComCredentials
from chalicelib.ports.wecom import AppMessageResult
from chalicelib.services.alerts import AlertService
from chalicelib.services.signals import SignalBus
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FixedClock
from tests.fakes.store import FakeStore

CORP = "wwalert0000000001"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NIGHT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: inside the default quiet hours 22:00–08:00
CONSOLE = "https://console.example.cn"


class CrashAfterSend(WeComClient):
    """WeCom delivers, then the answer is lost (a timeout after WeCom acted)."""

    crash = 0

    def send_app_message(self, creds: WeComCredentials, **kw: Any) -> AppMessageResult:
        result = super().send_app_message(creds, **kw)
        if self.crash:
            self.crash -= 1
            raise errors.WeComTransportError("the answer was lost")
        return result


class Env:
    def __init__(self, *, agent_id: int = 1000002, start: datetime = T0) -> None:
        self.clock = FixedClock(start)
        self.world = WeComWorld(clock=self.clock.epoch)
        self.world.register_corp(CORP)
        self.store = FakeStore()
        self.wecom = CrashAfterSend(WorldTransport(self.world), sleep=lambda s: None)
        self.tenant = Tenant(
            "acme", "Acme 教育", CORP, "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "", agent_id=agent_id
        )
        self.store.create_tenant(self.tenant)
        self.alerts = AlertService(self.store, self.wecom, self.clock, console_url=CONSOLE)
        self.bus = SignalBus()
        self.bus.subscribe(("reply", "order", "lost", "task_escalated"), "alerts", self.alerts.on_signal)
        self.store.create_staff("acme", Staff("zhang", "张老师", lead_userid="wang"))
        self.store.create_staff("acme", Staff("wang", "王主管", role="lead"))

    def customer(self, cid: str = "c1", owner: str = "zhang", name: str = "李妈妈") -> Customer:
        at = T0.isoformat()
        c = Customer(
            customer_id=cid,
            external_userid=f"wm{cid}",
            owner_userid=owner,
            source_channel_id="ch_x",
            stage=Stage.NEW,
            added_at=at,
            created_at=at,
            updated_at=at,
            name=name,
            phone_masked="138****0000",
            external_userids=(f"wm{cid}",),
            touches=(Attribution("ch_x", owner, at, "new"),),
            relations=(Relation(owner, f"wm{cid}", "active", at),),
            version=1,
        )
        self.store.create_customer("acme", c, StaffDayDelta(owner, "2026-12-01", {"adds": 1}))
        return c

    def reply(self, cid: str = "c1", ref: str = "r1", kind: str = "positive", at: datetime | None = None) -> None:
        self.bus.publish(self.tenant, cid, Signal(REPLY, at or self.clock.now(), kind=kind, ref=ref))

    def alert(self, dedupe_key: str) -> Alert:
        return self.alert_by_id(alert_id("acme", dedupe_key))

    def alert_by_id(self, aid: str) -> Alert:
        found = self.store.get_alert("acme", aid)
        assert found is not None
        return found

    def inbox(self, userid: str = "zhang", status: str = "delivered") -> list[dict[str, Any]]:
        return [m for m in self.world.app_messages(CORP, userid) if m["status"] == status]


@pytest.fixture
def env() -> Env:
    return Env()


def test_a_positive_reply_makes_the_customer_hot_and_tells_the_owner_at_once(env: Env) -> None:
    env.customer()
    env.reply()
    [card] = env.inbox()
    assert card["title"] == "热线索：李妈妈刚刚积极回复"
    assert card["url"] == f"{CONSOLE}/console/acme/customers/c1" and card["btntxt"] == "去跟进"
    assert "138" not in card["description"] and card["agentid"] == 1000002
    [lead] = env.store.hot_leads("acme", "zhang", since_key="2026-11-01T00:00:00Z", limit=10)
    assert (lead.customer_id, lead.ref, lead.until) == ("c1", "r1", "2026-12-08T10:00:00+08:00")
    alert = env.alert("hot:c1:r1")
    assert alert.status == SENT and alert.msgid == card["msgid"] and not alert.deferred
    [call] = env.world.calls("message/send")
    assert call.payload["enable_duplicate_check"] == 1 and call.payload["duplicate_check_interval"] == 14400


def test_the_same_reply_twice_and_a_negative_reply_send_nothing_more(env: Env) -> None:
    env.customer()
    env.reply()
    env.reply()  # a second delivery of the same reply (the same ref)
    env.reply(ref="r2", kind="negative")
    env.reply(ref="r3", kind=None)  # type: ignore[arg-type]
    assert len(env.inbox()) == 1 and len(env.world.calls("message/send")) == 1


def test_an_order_clears_the_hot_lead_and_an_old_reply_does_not_make_it_hot_again(env: Env) -> None:
    env.customer()
    env.reply()
    env.clock.advance(minutes=30)
    env.bus.publish(env.tenant, "c1", Signal(ORDER, env.clock.now(), kind="trial", ref="o1"))
    assert env.store.hot_leads("acme", "zhang", since_key="2026-11-01T00:00:00Z", limit=10) == []
    env.reply(ref="r0", at=T0 + timedelta(minutes=10))  # sent before the order, delivered after it
    assert env.store.get_hot("acme", "c1") is None and len(env.inbox()) == 1


def test_a_reply_older_than_the_hot_days_makes_nobody_hot(env: Env) -> None:
    env.customer()
    env.reply(at=T0 - timedelta(days=8))
    assert env.store.get_hot("acme", "c1") is None and env.inbox() == []


def test_an_alert_in_the_quiet_hours_is_deferred_to_their_end_and_sent_by_the_job_once() -> None:
    env = Env(start=NIGHT)
    env.customer()
    env.reply()
    assert env.inbox() == [] and env.world.calls("message/send") == []
    alert = env.alert("hot:c1:r1")
    assert alert.status == PENDING and alert.deferred and alert.due_at == "2026-12-02T08:00:00+08:00"
    env.clock.advance(hours=8, minutes=59)  # 07:59: still quiet
    assert env.alerts.run_due("acme").sent == 0 and env.inbox() == []
    env.clock.advance(minutes=1)
    assert env.alerts.run_due("acme").sent == 1
    assert env.alerts.run_due("acme").sent == 0  # a second run finds nothing due
    [card] = env.inbox()
    assert env.alert_by_id(alert.alert_id).sent_at == "2026-12-02T08:00:00+08:00"
    assert card["sent_at"] == datetime(2026, 12, 2, 0, 0, tzinfo=UTC).timestamp()


def test_an_answer_lost_after_wecom_delivered_is_resent_and_wecom_shows_it_once(env: Env) -> None:
    env.customer()
    env.wecom.crash = 1
    env.reply()
    alert = env.alert("hot:c1:r1")
    assert alert.status == PENDING and alert.attempts == 1 and alert.reason == "wecom_unreachable"
    assert env.alerts.run_due("acme").sent == 0  # retried after its backoff, not at once
    env.clock.advance(minutes=5)
    assert env.alerts.run_due("acme").sent == 1
    assert len(env.inbox()) == 1 and len(env.inbox(status="duplicate")) == 1  # WeCom's duplicate check
    assert env.alert_by_id(alert.alert_id).status == SENT


def test_a_sender_that_crashed_holding_the_alert_leaves_it_to_the_job_after_its_lease(env: Env) -> None:
    env.customer()
    made = env.alerts.raise_alert(env.tenant, "hot", "zhang", "hot:c1:manual", customer_id="c1")
    assert made is not None and made.status == SENT
    stuck = replace(made, alert_id=alert_id("acme", "x"), dedupe_key="x", status="sending")
    stuck = replace(stuck, lease_until=(T0 + timedelta(minutes=5)).isoformat(), sent_at=None, msgid=None)
    env.store.create_alert("acme", stuck)
    assert env.alerts.run_due("acme").sent == 0
    env.clock.advance(minutes=5)
    assert env.alerts.run_due("acme").sent == 1 and env.alert_by_id(stuck.alert_id).status == SENT


def test_wecom_refusing_is_retried_with_backoff_then_given_up(env: Env) -> None:
    env.customer()
    env.world.inject("message/send", 45009, times=10)
    env.reply()
    for minutes in (5, 10, 20, 40):
        alert = env.alert("hot:c1:r1")
        assert alert.status == PENDING and alert.reason == "wecom_rate_limited"
        env.clock.advance(minutes=minutes)
        env.alerts.run_due("acme")
    alert = env.alert("hot:c1:r1")
    assert alert.status == FAILED and alert.attempts == 5 and env.inbox() == []
    env.clock.advance(days=1)
    assert env.alerts.run_due("acme").failed == 0  # a failed alert is not tried again


def test_no_agent_id_makes_no_alert_but_the_customer_is_still_hot() -> None:
    env = Env(agent_id=0)
    env.customer()
    env.reply()
    assert env.store.get_hot("acme", "c1") is not None
    assert env.store.get_alert("acme", alert_id("acme", "hot:c1:r1")) is None and env.world.calls() == []


def test_an_erased_customers_deferred_alert_is_skipped(env: Env) -> None:
    env = Env(start=NIGHT)
    env.customer()
    env.reply()
    env.store.erase_customer("acme", "c1", tombstones=[])
    assert env.store.get_hot("acme", "c1") is None
    env.clock.advance(hours=10)
    assert env.alerts.run_due("acme").skipped == 1
    assert env.alert("hot:c1:r1").status == SKIPPED and env.inbox() == []


def test_an_escalated_task_alerts_its_owner_and_the_lead(env: Env) -> None:
    signal = Signal(TASK_ESCALATED, T0, ref="tk_1", kind="mass", staff="zhang", member="wang")
    env.bus.publish(env.tenant, "tk_1", signal)
    env.bus.publish(env.tenant, "tk_1", signal)  # told again: nothing more
    [mine] = env.inbox("zhang")
    [lead] = env.inbox("wang")
    assert mine["title"] == "任务逾期" and mine["url"] == f"{CONSOLE}/console/acme/my"
    assert lead["title"] == "任务逾期已升级" and lead["url"] == f"{CONSOLE}/console/acme/my"
    assert len(env.world.calls("message/send")) == 2


def test_a_customer_who_deleted_their_staff_member_alerts_them_and_is_no_longer_hot(env: Env) -> None:
    env.customer()
    env.reply()
    env.bus.publish(env.tenant, "c1", Signal(LOST, T0, kind="lost", ref="d1", staff="zhang"))
    env.bus.publish(env.tenant, "c2", Signal(LOST, T0, kind="ended", ref="d2", staff="zhang"))  # staff deleted
    hot, lost = env.inbox()
    assert hot["title"].startswith("热线索") and lost["title"] == "客户流失：李妈妈"
    assert lost["url"] == f"{CONSOLE}/console/acme/customers/c1"
    assert env.store.get_hot("acme", "c1") is None


def test_the_alert_log_lines_carry_no_name_and_no_phone(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.customer()
    env.reply()
    [line] = [r for r in caplog.records if r.getMessage() == "alert"]
    assert line.__dict__["status"] == "sent" and line.__dict__["kind"] == "hot"
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert "李妈妈" not in logged and "138" not in logged


def test_the_task_sync_tells_each_escalation_once_with_its_owner_and_lead() -> None:
    from chalicelib.services.task_sync import TaskSyncService
    from tests.unit.test_task_sync import SyncEnv

    told: list[tuple[str, Signal]] = []

    class Told:
        def publish(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
            told.append((subject_id, signal))

    sync = SyncEnv()
    sync.sync = TaskSyncService(sync.store, sync.wecom, sync.clock, signals=Told())
    mine = sync.fire_task([sync.customer(1)], "pl_a")  # zhang → lead wang
    alone = sync.fire_task([sync.customer(2, owner="li")], "pl_b")  # li has no lead
    sync.clock.advance(hours=2)
    sync.sync.run("sop")
    sync.clock.advance(hours=1)
    sync.sync.run("sop")
    escalated = {sid: s for sid, s in told if s.type == TASK_ESCALATED}
    assert len([s for _, s in told if s.type == TASK_ESCALATED]) == 2
    assert (escalated[mine.task_id].staff, escalated[mine.task_id].member) == ("zhang", "wang")
    assert (escalated[alone.task_id].staff, escalated[alone.task_id].member) == ("li", None)


def test_a_burst_to_one_member_waits_for_the_next_minute_instead_of_being_dropped_by_wecom(env: Env) -> None:
    for n in range(16):
        env.customer(f"c{n}", name=f"家长{n}")
        env.reply(f"c{n}", ref=f"r{n}")
    assert len(env.inbox()) == 15 and env.inbox(status="dropped") == []  # Siyu's own 15 a minute
    late = env.alert("hot:c15:r15")
    assert late.status == PENDING and late.reason == "minute" and late.attempts == 0
    assert late.due_at == "2026-12-01T10:01:00+08:00"
    env.clock.advance(minutes=1)
    assert env.alerts.run_due("acme").sent == 1 and len(env.inbox()) == 16


def test_a_member_outside_the_apps_range_fails_at_once_without_retries(env: Env) -> None:
    env.customer()
    env.world.inject("message/send", 81013)
    env.reply()
    alert = env.alert("hot:c1:r1")
    assert (alert.status, alert.reason, alert.attempts) == (FAILED, "wecom_invalid_argument", 1)
    env.clock.advance(hours=3)
    assert env.alerts.run_due("acme").failed == 0 and len(env.world.calls("message/send")) == 1
