"""Staff task status from WeCom and escalation to the lead, on fakes and the in-process WeCom world
(tests/integration/test_task_sync_dynamodb.py runs the same tests on DynamoDB Local)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.wecom import client as wecom_client
from chalicelib.adapters.wecom.codec import WXCallbackCodec
from chalicelib.domain.customers import Customer, customer_id_for
from chalicelib.domain.instants import iso_of
from chalicelib.domain.messages import Message
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.staff import Staff
from chalicelib.jobs import tasks as task_jobs
from chalicelib.ports import WeComCredentials
from chalicelib.services.task_sync import SyncReport, TaskSyncService, escalation_task_id
from chalicelib.settings import Settings
from tests.fakes import SeqIds
from tests.unit.test_sop_engine import CORP, T0, Env, plan, step


class SyncEnv(Env):
    """The SOP engine's test environment plus the task sync and staff: zhang → lead wang, li without a lead,
    zhao → lead qian who left (inactive)."""

    def __init__(self, store: Any = None) -> None:
        super().__init__(store)
        self.sync = TaskSyncService(self.store, self.wecom, self.clock)
        for userid, lead, active in (
            ("zhang", "wang", True),
            ("wang", None, True),
            ("li", None, True),
            ("zhao", "qian", True),
            ("qian", None, False),
        ):
            self.store.put_staff("sop", Staff(userid, userid, lead_userid=lead, active=active))

    def fire_task(self, customers: list[Customer], plan_id: str) -> StaffTask:
        """Enroll the customers into a one-step plan, 30 minutes on fire its bucket: the one task it makes."""
        self.plans.add(plan([step("s1", after_minutes=30)], plan_id=plan_id))
        for c in customers:
            assert self.engine.enroll(self.tenant, c.customer_id, plan_id) is not None
        self.clock.advance(minutes=30)
        for sched in list(self.scheduler.schedules.values()):
            if sched["payload"]["bucket_id"].startswith(plan_id + "."):
                self.engine.fire("sop", sched["payload"]["bucket_id"])
        [task] = [t for t in self.all_tasks() if t.plan_id == plan_id]
        assert task.status == "created" and task.msgid
        return task

    def all_tasks(self, **filters: Any) -> list[StaffTask]:
        query: dict[str, Any] = dict(userid=None, status=None, due_from=None, due_to=None, limit=1000)
        query.update(filters)
        return self.store.list_tasks("sop", **query)

    def task(self, task_id: str) -> StaffTask:
        task = self.store.get_task("sop", task_id)
        assert task is not None
        return task

    def calls(self, api: str) -> int:
        return len(self.world.calls(f"externalcontact/{api}"))


@pytest.fixture
def env() -> SyncEnv:
    return SyncEnv()


def _counts(task: StaffTask) -> dict[str, int]:
    return {k: task.results.get(k, -1) for k in ("sent", "not_sent", "not_friend", "limit_hit")}


def _run_concurrently(env: SyncEnv, n: int = 3) -> list[SyncReport]:
    barrier = threading.Barrier(n)
    reports: list[SyncReport] = []

    def run() -> None:
        barrier.wait()
        reports.append(env.sync.run("sop"))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reports) == n
    return reports


# --- status sync ------------------------------------------------------------------------------------------------


def test_a_confirmed_task_is_synced_with_each_customers_outcome(env: SyncEnv) -> None:
    env.world.register_corp(CORP, monthly_limit=1)  # one mass message per customer per month
    a, b, c, d = env.customer(1), env.customer(2), env.customer(3), env.customer(4)
    first = env.fire_task([a], "pl_a")
    env.world.confirm_task(first.msgid or "", "zhang")  # a has had this month's one message now
    second = env.fire_task([a, b, c, d], "pl_b")
    env.world.event(CORP, "del_external_contact", userid="zhang", external_userid=c.external_userid)
    env.world.event(CORP, "del_follow_user", userid="zhang", external_userid=d.external_userid)
    env.clock.advance(minutes=5)
    env.world.confirm_task(second.msgid or "", "zhang")

    report = env.sync.run("sop")

    assert (report.checked, report.sent, report.errors) == (2, 2, 0)
    synced = env.task(second.task_id)
    assert synced.status == "sent" and synced.sent_at == iso_of(env.clock.now(), env.tenant.zone)
    assert _counts(synced) == {"sent": 1, "not_sent": 0, "not_friend": 2, "limit_hit": 1}
    assert synced.outcome_map() == {
        a.customer_id: "limit_hit",
        b.customer_id: "sent",
        c.customer_id: "not_friend",  # the staff member deleted the customer
        d.customer_id: "not_friend",  # the customer deleted the staff member
    }
    assert synced.public()["outcomes"] == synced.outcome_map() and synced.public()["sent_at"] == synced.sent_at
    assert synced.results["fail_list"] == 0  # what add_msg_template said is kept
    assert synced.text == second.text and synced.customer_ids == second.customer_ids
    earlier = env.task(first.task_id)
    assert earlier.status == "sent" and _counts(earlier) == {"sent": 1, "not_sent": 0, "not_friend": 0, "limit_hit": 0}
    assert earlier.outcome_map() == {a.customer_id: "sent"}
    # Sent is final: a later run has nothing to look at.
    calls = env.calls("get_groupmsg_task")
    assert env.sync.run("sop").checked == 0 and env.calls("get_groupmsg_task") == calls


def test_a_task_not_confirmed_stays_created(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1), env.customer(2)], "pl_a")
    env.clock.advance(minutes=10)
    report = env.sync.run("sop")
    assert (report.checked, report.sent, report.escalated) == (1, 0, 0)
    assert env.task(task.task_id) == task  # untouched: status, results, no outcomes, no escalation
    assert env.calls("get_groupmsg_task") == 1 and env.calls("get_groupmsg_send_result") == 0


def test_a_task_confirmed_in_siyu_is_polled_until_wecom_reports_it_sent(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1), env.customer(2)], "pl_a")
    env.staff_tasks.confirm("sop", task.task_id, userid="zhang", proof_url=None)  # README step 7, Siyu side first
    report = env.sync.run("sop")
    assert (report.checked, report.sent) == (1, 0)
    confirmed = env.task(task.task_id)
    assert confirmed.status == "confirmed" and confirmed.sent_at is None
    env.clock.advance(minutes=7)
    env.world.confirm_task(task.msgid or "", "zhang")  # then the staff member presses send in WeCom
    report = env.sync.run("sop")
    assert (report.checked, report.sent) == (1, 1)
    sent = env.task(task.task_id)
    assert sent.status == "sent" and sent.sent_at == iso_of(env.clock.now(), env.tenant.zone)
    assert _counts(sent) == {"sent": 2, "not_sent": 0, "not_friend": 0, "limit_hit": 0}
    assert env.sync.run("sop").checked == 0  # final: no longer polled


def test_a_confirmed_task_never_escalates_and_expires_out_of_the_sync(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1)], "pl_a")
    env.staff_tasks.confirm("sop", task.task_id, userid="zhang", proof_url=None)
    env.clock.advance(hours=5)
    report = env.sync.run("sop")
    assert (report.checked, report.escalated, report.lead_tasks) == (1, 0, 0)
    assert env.all_tasks(userid="wang") == [] and env.task(task.task_id).escalated_at is None
    env.clock.advance(days=7)  # the window is the task's expiry: WeCom never sent it
    asked = env.calls("get_groupmsg_task")
    assert env.sync.run("sop").checked == 0 and env.calls("get_groupmsg_task") == asked
    assert env.task(task.task_id).status == "confirmed"


def test_created_and_confirmed_tasks_are_walked_in_due_order_within_the_bound(env: SyncEnv) -> None:
    env.sync = TaskSyncService(env.store, env.wecom, env.clock, max_tasks=2)
    tasks = [env.fire_task([env.customer(n, owner="li")], f"pl_{n}") for n in range(4)]
    for task in tasks[::2]:
        env.staff_tasks.confirm("sop", task.task_id, userid="li", proof_url=None)
    reports = [env.sync.run("sop") for _ in range(2)]
    assert [(r.checked, r.more) for r in reports] == [(2, True), (2, False)]
    asked = [c.payload["msgid"] for c in env.world.calls("externalcontact/get_groupmsg_task")]
    assert asked == [t.msgid for t in tasks]  # oldest first, whatever the status


def test_results_follow_the_wecom_cursor(env: SyncEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wecom_client, "PAGE_LIMIT", 2)  # pages of two rows
    customers = [env.customer(n) for n in range(5)]
    task = env.fire_task(customers, "pl_a")
    env.world.confirm_task(task.msgid or "", "zhang")
    assert env.sync.run("sop").sent == 1
    synced = env.task(task.task_id)
    assert _counts(synced) == {"sent": 5, "not_sent": 0, "not_friend": 0, "limit_hit": 0}
    assert set(synced.outcome_map().values()) == {"sent"} and len(synced.outcome_map()) == 5
    assert env.calls("get_groupmsg_send_result") == 3  # 2 + 2 + 1


def test_customers_map_by_their_derived_id_without_reads(env: SyncEnv) -> None:
    """Intake derives a customer's id from the tenant-keyed digest of its first external_userid; the sync maps
    WeCom's rows back the same way, reading a customer only when that fails (as for the test customers above)."""
    c = env.customer(1)
    derived = customer_id_for(env.tenant.hmac_hex("ext:" + c.external_userid))
    creds = WeComCredentials("sop", CORP, "sec")
    sent = env.wecom.add_msg_template(
        creds, sender="zhang", external_userids=[c.external_userid], message=Message(text="你好")
    )
    now = iso_of(env.clock.now(), env.tenant.zone)
    task = StaffTask(
        "tk_derived", "zhang", "mass", "created", now, now, recipients=("c_unknown", derived), msgid=sent.msgid
    )
    env.store.create_task("sop", task)
    env.world.confirm_task(sent.msgid, "zhang")
    reads: list[str] = []
    read = env.store.get_customer

    def counted(tenant_id: str, customer_id: str) -> Any:
        reads.append(customer_id)
        return read(tenant_id, customer_id)

    env.store.get_customer = counted  # type: ignore[method-assign]
    assert env.sync.run("sop").sent == 1
    assert reads == []
    assert env.task("tk_derived").outcome_map() == {"c_unknown": "unreachable", derived: "sent"}


def test_concurrent_syncs_record_sent_once(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1)], "pl_a")
    env.world.confirm_task(task.msgid or "", "zhang")
    reports = _run_concurrently(env)
    assert sum(r.sent for r in reports) == 1
    assert env.task(task.task_id).status == "sent"


def test_a_wecom_error_on_one_task_neither_stops_the_others_nor_escalates(env: SyncEnv) -> None:
    now = iso_of(env.clock.now(), env.tenant.zone)
    bogus = StaffTask("tk_bogus", "zhang", "mass", "created", now, now, msgid="msgdoesnotexist0000000000")
    env.store.create_task("sop", bogus)
    good = env.fire_task([env.customer(1)], "pl_a")
    env.world.confirm_task(good.msgid or "", "zhang")
    report = env.sync.run("sop")
    assert (report.errors, report.sent) == (1, 1)
    env.clock.advance(hours=3)
    assert env.sync.run("sop").errors == 1
    assert env.task("tk_bogus").escalated_at is None  # WeCom could not say it is unsent: no escalation on a guess
    assert env.all_tasks(userid="wang") == []


def test_a_wecom_rate_limit_ends_the_run_at_that_task(env: SyncEnv) -> None:
    first = env.fire_task([env.customer(1)], "pl_a")
    second = env.fire_task([env.customer(2)], "pl_b")
    for task in (first, second):
        env.world.confirm_task(task.msgid or "", "zhang")
    env.world.inject("externalcontact/get_groupmsg_task", 45009)
    report = env.sync.run("sop")
    assert (report.checked, report.sent, report.errors, report.more) == (1, 0, 1, True)
    assert env.calls("get_groupmsg_task") == 1  # the second task was not tried
    report = env.sync.run("sop")  # resumes with the task that hit the limit
    assert (report.checked, report.sent, report.errors) == (2, 2, 0)


def test_work_is_bounded_and_resumes_where_it_stopped(env: SyncEnv) -> None:
    env.sync = TaskSyncService(env.store, env.wecom, env.clock, max_tasks=2)
    tasks = [env.fire_task([env.customer(n, owner="li")], f"pl_{n}") for n in range(5)]  # li: no lead tasks
    reports = [env.sync.run("sop") for _ in range(3)]
    assert [(r.checked, r.more) for r in reports] == [(2, True), (2, True), (1, False)]
    asked = [c.payload["msgid"] for c in env.world.calls("externalcontact/get_groupmsg_task")]
    assert sorted(asked) == sorted(t.msgid or "" for t in tasks)  # each task once over the three runs
    assert env.sync.run("sop").checked == 2  # and round again from the oldest
    assert env.sync.run("sop", stop=lambda: True).checked == 0  # the job's time budget ends a run at once


# --- escalation -------------------------------------------------------------------------------------------------


def test_an_overdue_task_escalates_once_to_the_lead(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1), env.customer(2)], "pl_a")
    env.clock.advance(minutes=119)
    assert env.sync.run("sop").escalated == 0 and env.all_tasks(userid="wang") == []
    env.clock.advance(minutes=1)  # due + 120 minutes
    reports = [*_run_concurrently(env), env.sync.run("sop"), env.sync.run("sop")]
    assert sum(r.lead_tasks for r in reports) == 1
    [lead_task] = env.all_tasks(userid="wang")
    assert lead_task.task_id == escalation_task_id(task.task_id)
    assert (lead_task.kind, lead_task.status, lead_task.parent_task_id) == ("escalation", "created", task.task_id)
    assert lead_task.customer_ids == task.customer_ids and lead_task.text == task.text
    assert "zhang" in lead_task.notes and "120" in lead_task.notes
    escalated = env.task(task.task_id)
    assert escalated.status == "created" and escalated.escalated_to == "wang"
    assert escalated.escalated_at == iso_of(env.clock.now(), env.tenant.zone)
    assert escalated.public()["escalated_to"] == "wang"
    env.clock.advance(hours=5)
    env.sync.run("sop")
    assert len(env.all_tasks(userid="wang")) == 1 and env.task(task.task_id).escalated_at == escalated.escalated_at


def test_the_lead_task_closes_once_the_original_is_sent(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1)], "pl_a")
    env.clock.advance(hours=2)
    assert env.sync.run("sop").lead_tasks == 1
    env.world.confirm_task(task.msgid or "", "zhang")
    report = env.sync.run("sop")
    assert (report.sent, report.resolved) == (1, 1)
    sent = env.task(task.task_id)
    assert sent.status == "sent" and sent.escalated_to == "wang"  # the escalation stays on record
    lead_task = env.task(escalation_task_id(task.task_id))
    assert lead_task.status == "done" and lead_task.reason == "resolved:sent"


def test_a_lead_task_closes_when_the_staff_confirms_by_hand(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1)], "pl_a")
    env.clock.advance(hours=2)
    env.sync.run("sop")
    env.staff_tasks.confirm("sop", task.task_id, userid="zhang", proof_url="https://img.example/p.png")
    assert env.sync.run("sop").resolved == 1
    assert env.task(escalation_task_id(task.task_id)).reason == "resolved:confirmed"


def test_without_a_lead_the_escalation_is_only_recorded(env: SyncEnv) -> None:
    mine = env.fire_task([env.customer(1, owner="li")], "pl_a")  # li has no lead
    theirs = env.fire_task([env.customer(2, owner="zhao")], "pl_b")  # zhao's lead has left
    env.clock.advance(hours=2)
    report = env.sync.run("sop")
    assert (report.escalated, report.lead_tasks) == (2, 0)
    for task in (mine, theirs):
        recorded = env.task(task.task_id)
        assert recorded.escalated_at == iso_of(env.clock.now(), env.tenant.zone) and recorded.escalated_to is None
    assert {t.task_id for t in env.all_tasks()} == {mine.task_id, theirs.task_id}  # no lead task anywhere
    env.clock.advance(hours=1)
    assert env.sync.run("sop").escalated == 0  # once


def test_a_snoozed_task_escalates_only_after_its_snooze(env: SyncEnv) -> None:
    task = env.fire_task([env.customer(1)], "pl_a")
    env.staff_tasks.snooze("sop", task.task_id, userid="zhang", minutes=180)
    env.clock.advance(minutes=150)  # past due + 120, inside the snooze
    assert env.sync.run("sop").escalated == 0
    env.clock.advance(minutes=30 + 119)  # the snooze ended 119 minutes ago: the delay counts from its end
    assert env.sync.run("sop").escalated == 0
    env.clock.advance(minutes=1)
    assert env.sync.run("sop").escalated == 1
    assert env.task(task.task_id).escalated_to == "wang"


def test_follow_up_tasks_escalate_without_asking_wecom(env: SyncEnv) -> None:
    task_id = env.staff_tasks.follow_up(
        "sop",
        customer_id="c00001",
        owner_userid="zhang",
        reason="positive_reply",
        text="多少钱",
        due=T0 + timedelta(minutes=15),
        dedupe_key="ev1",
    )
    env.clock.advance(minutes=15 + 120)
    report = env.sync.run("sop")
    assert (report.escalated, report.lead_tasks) == (1, 1)
    assert env.task(escalation_task_id(task_id)).userid == "wang"
    assert env.calls("get_groupmsg_task") == 0


def test_old_tasks_fall_out_of_the_window(env: SyncEnv) -> None:
    env.fire_task([env.customer(1)], "pl_a")
    env.clock.advance(days=8)
    assert env.sync.run("sop").checked == 0


# --- the periodic job -------------------------------------------------------------------------------------------


def test_the_job_syncs_every_tenant(env: SyncEnv) -> None:
    svc = bootstrap.build(
        Settings(admin_token="admin-unit"),
        store=env.store,
        wecom=env.wecom,
        clock=env.clock,
        ids=SeqIds(),
        codec=WXCallbackCodec(max_bytes=64 * 1024),
        scheduler=env.scheduler,
    )
    other = replace(env.tenant, tenant_id="other", corp_id="wwother0000000001")
    env.store.create_tenant(other)
    task = env.fire_task([env.customer(1)], "pl_a")
    env.world.confirm_task(task.msgid or "", "zhang")
    bootstrap.override(svc)
    try:
        assert task_jobs.sync(budget_seconds=0)["tenants"] == 0  # no time: nothing started
        totals = task_jobs.sync()
    finally:
        bootstrap.override(None)
    assert totals["tenants"] == 2 and totals["sent"] == 1 and totals["errors"] == 0
    assert env.task(task.task_id).status == "sent"


def test_app_schedules_the_job_every_ten_minutes() -> None:
    import app

    [source] = [s for s in app.app.event_sources if getattr(s, "name", None) == "task_sync"]
    rate = source.schedule_expression  # type: ignore[attr-defined]
    assert (rate.value, rate.unit) == (10, "MINUTES") and source.handler_string == "app.task_sync"
