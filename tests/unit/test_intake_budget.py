"""Intake within WeCom's 5 s (issue 9 §3): the callback's budget under a slow or failing WeCom, the welcome that
could not be sent (welcome_missed and the owner's task), and the repair queue that makes the rest later.

WeCom's slowness is injected into the in-process world (``WeComWorld.slow``, what ``POST /sandbox/faults`` with
``delay_ms`` does in the sandbox) and spent on a virtual monotonic clock: no test sleeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.codec import WXCallbackCodec
from chalicelib.bootstrap import Services, build
from chalicelib.domain.contact_events import event_from_fields
from chalicelib.domain.repairs import MARK_TAG, MAX_RECEIVES, PROFILE_SYNC, RepairItem
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import WeComBusyError, WeComDeadlineError
from chalicelib.observability import metrics
from chalicelib.ports import WelcomeOutcome
from chalicelib.services.budget import Budget
from chalicelib.settings import Settings
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.repairs import MemoryRepairQueue
from tests.fakes.store import FakeStore
from tests.unit.conftest import CORP, WECOM

BUDGET = 3.0
GET, WELCOME, MARK = "externalcontact/get", "externalcontact/send_welcome_msg", "externalcontact/mark_tag"


class VirtualTime:
    """A monotonic clock that moves only when someone waits: WeCom's slow answers and the client's backoff."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.clock.advance(seconds=seconds)


@dataclass
class World:
    svc: Services
    store: FakeStore
    world: WeComWorld
    clock: FixedClock
    time: VirtualTime
    queue: MemoryRepairQueue
    tenant: Tenant
    channel: Any = None

    def scan(self, **kwargs: Any) -> tuple[dict[str, Any], Any, float]:
        """A parent scans the channel's code; the delivery's result and the seconds it took."""
        fields = self.world.scan(CORP, self.channel.state, now=self.clock.epoch(), **kwargs)
        return (fields, *self.deliver(fields))

    def deliver(self, fields: dict[str, Any]) -> tuple[Any, float]:
        start = self.time.now
        result = self.svc.intake.handle(self.tenant, event_from_fields(fields), Budget(BUDGET, self.time.monotonic))
        return result, self.time.now - start

    def repair(self) -> Any:
        assert self.svc.repairs is not None
        return self.svc.repairs.run(stop=lambda: False)

    def tasks(self, kind: str) -> list[Any]:
        return [
            t
            for t in self.store.list_tasks("unit", userid=None, status=None, due_from=None, due_to=None, limit=100)
            if t.kind == kind
        ]


@pytest.fixture
def w() -> World:
    clock = FixedClock()
    vt = VirtualTime(clock)
    world = WeComWorld(clock=clock.epoch, sleep=vt.sleep)
    client = WeComClient(WorldTransport(world), sleep=vt.sleep, monotonic=vt.monotonic)
    store = FakeStore()
    queue = MemoryRepairQueue(clock)
    svc = build(
        Settings(admin_token="admin-unit"),
        store=store,
        wecom=client,
        clock=clock,
        ids=SeqIds(),
        codec=WXCallbackCodec(max_bytes=64 * 1024),
        scheduler=FakeScheduler(),
        repair_queue=queue,
    )
    tenant = svc.tenants.create(tenant_id="unit", name="单元测试教育", corp_id=CORP, wecom=WECOM)
    svc.staff.create("unit", {"userid": "zhang", "name": "张老师"})
    env = World(svc, store, world, clock, vt, queue, tenant)
    env.channel = svc.channels.create(
        tenant,
        {
            "name": "抖音直播间",
            "source": "douyin",
            "staff": {"mode": "single", "userids": ["zhang"]},
            "welcome": {"text": "您好，资料包稍后发您"},
            "tags": [{"group": "流量平台来源", "name": "抖音"}],
        },
    )
    return env


def _customer(w: World, customer_id: str) -> Any:
    c = w.store.get_customer("unit", customer_id)
    assert c is not None
    return c


def _kinds(w: World) -> list[str]:
    return sorted(item.kind for item in w.queue.pending())


def _metric(name: str) -> float:
    entry = metrics.metric_set.get(name)
    return float(sum(entry["Value"])) if entry else 0.0


# --- the budget ---------------------------------------------------------------------------------------------------


def test_a_slow_profile_fetch_leaves_the_welcome_its_time_and_is_repaired_later(w: World) -> None:
    w.world.slow(GET, 30.0)  # externalcontact/get hangs far past any timeout
    _, result, took = w.scan()
    assert took <= BUDGET
    assert result.outcome == "created" and result.welcome == WelcomeOutcome.SENT
    assert len(w.world.welcome_messages()) == 1
    assert not _customer(w, result.customer_id).profile_synced
    assert _kinds(w) == [PROFILE_SYNC]

    report = w.repair()
    assert (report.repaired, report.retried, report.dead) == (1, 0, 0)
    c = _customer(w, result.customer_id)
    assert c.profile_synced and c.name.startswith("家长")
    assert w.queue.pending() == []


def test_every_wecom_call_slow_the_callback_still_answers_within_its_budget(w: World) -> None:
    for api in (GET, WELCOME, MARK):
        w.world.slow(api, 2.9)
    fields, result, took = w.scan()
    assert took <= BUDGET
    assert result.outcome == "created"
    assert result.welcome == WelcomeOutcome.FAILED and w.world.welcome_messages() == []
    assert w.world.calls(MARK) == []  # no time was left for it: not started at all
    assert _kinds(w) == [MARK_TAG, PROFILE_SYNC]
    assert len(w.tasks("welcome")) == 1

    w.time.sleep(60)  # WeCom is fast again; the job makes what the callback could not
    report = w.repair()
    assert report.repaired == 2 and w.queue.pending() == []
    assert [c.errcode for c in w.world.calls(MARK)] == [0]
    assert _customer(w, result.customer_id).profile_synced
    follow = w.world.corps[CORP].follows[fields["ExternalUserID"]]["zhang"]
    assert len(follow.tags) == 1  # the channel's tag, marked in WeCom by the repair


def test_the_client_starts_no_call_that_cannot_fit_and_never_sleeps_past_the_budget(w: World) -> None:
    from chalicelib.services.identities import credentials

    client = w.svc.wecom
    assert isinstance(client, WeComClient)
    creds = credentials(w.tenant)
    before = len(w.world.calls())
    with pytest.raises(WeComDeadlineError):
        client.bounded(Budget(0.1, w.time.monotonic)).get_corp_tag_list(creds)
    assert len(w.world.calls()) == before  # not even gettoken

    client.get_corp_tag_list(creds)  # a token in the cache
    w.world.inject("externalcontact/get_corp_tag_list", -1, 5)
    listed = len(w.world.calls("externalcontact/get_corp_tag_list"))
    start = w.time.now
    with pytest.raises(WeComBusyError):
        client.bounded(Budget(0.5, w.time.monotonic)).get_corp_tag_list(creds)
    assert w.time.now - start <= 0.5
    # 0.2 s of backoff fitted (0.3 s left for a call), 0.4 s would not have: two calls, where an unbounded client
    # makes four (three backoffs).
    assert len(w.world.calls("externalcontact/get_corp_tag_list")) - listed == 2


# --- the welcome ---------------------------------------------------------------------------------------------------


def test_a_welcome_that_fails_five_times_is_welcome_missed_with_a_task_for_the_owner(w: World) -> None:
    w.world.inject(WELCOME, -1, 5)
    metrics.clear_metrics()  # the buffer flushes itself at 100 names: start this count from an empty one
    missed_before = _metric("WelcomeMissed")
    fields, result, took = w.scan()
    assert took <= BUDGET
    assert result.outcome == "created" and result.welcome == WelcomeOutcome.FAILED
    assert w.world.welcome_messages() == []
    assert _metric("WelcomeMissed") == missed_before + 1

    timeline = w.store.timeline("unit", result.customer_id, limit=10)
    missed = [f for f in timeline if f.type == "welcome_missed"]
    assert len(missed) == 1 and missed[0].userid == "zhang" and missed[0].detail == {"outcome": "failed"}
    tasks = w.tasks("welcome")
    assert len(tasks) == 1
    task = tasks[0]
    assert task.userid == "zhang" and task.status == "created" and task.reason == "welcome_missed"
    assert task.customer_ids == (result.customer_id,) and task.text == "您好，资料包稍后发您"

    # WeCom redelivers the callback: a duplicate, which neither greets again nor makes a second task or repair.
    calls, puts, version = len(w.world.calls()), w.queue.puts, _customer(w, result.customer_id).version
    again, _ = w.deliver(fields)
    assert again.outcome == "duplicate"
    assert len(w.world.calls()) == calls and w.queue.puts == puts
    assert len(w.tasks("welcome")) == 1 and _customer(w, result.customer_id).version == version
    assert len([f for f in w.store.timeline("unit", result.customer_id, limit=10) if f.type == "welcome_missed"]) == 1


@pytest.mark.parametrize(
    "errcode, outcome, missed",
    [
        (41050, WelcomeOutcome.EXPIRED, True),
        (41051, WelcomeOutcome.ALREADY_DELIVERED, False),
        (41096, WelcomeOutcome.OTHER_APP, False),
    ],
)
def test_only_a_welcome_nobody_sent_is_missed(w: World, errcode: int, outcome: str, missed: bool) -> None:
    w.world.inject(WELCOME, errcode)
    _, result, _ = w.scan()
    assert result.welcome == outcome
    assert len(w.tasks("welcome")) == (1 if missed else 0)


# --- the repair queue ---------------------------------------------------------------------------------------------


def test_a_failed_tag_marking_is_repaired_by_the_job_with_backoff(w: World) -> None:
    w.world.inject(MARK, 45033, 2)  # the callback's call and the job's first try meet the concurrency limit
    fields, result, _ = w.scan()
    assert result.welcome == WelcomeOutcome.SENT
    assert _kinds(w) == [MARK_TAG]

    first = w.repair()
    assert (first.received, first.retried, first.repaired) == (1, 1, 0)
    assert w.repair().received == 0  # hidden for its backoff: not retried in a loop
    w.clock.advance(seconds=59)
    assert w.repair().received == 0  # a rate limit waits at least 60 s
    w.clock.advance(seconds=w.queue.wait_all().total_seconds())
    second = w.repair()
    assert (second.received, second.repaired) == (1, 1) and w.queue.pending() == []
    follow = w.world.corps[CORP].follows[fields["ExternalUserID"]]["zhang"]
    assert len(follow.tags) == 1

    # Applied twice (an SQS message delivered again): one effect, in WeCom and in Siyu.
    item = RepairItem(
        MARK_TAG,
        "unit",
        {"userid": "zhang", "external_userid": fields["ExternalUserID"], "add_tag": list(follow.tags)},
    )
    w.queue.put(item)
    assert w.repair().repaired == 1
    assert w.world.corps[CORP].follows[fields["ExternalUserID"]]["zhang"].tags == follow.tags


def test_a_profile_repair_applied_twice_has_one_effect(w: World) -> None:
    w.world.inject(GET, 45009)
    fields, result, _ = w.scan()
    assert _kinds(w) == [PROFILE_SYNC]
    item = w.queue.pending()[0]
    assert item.data == {
        "userid": "zhang",
        "external_userid": fields["ExternalUserID"],
        "customer_id": result.customer_id,
    }
    assert w.repair().repaired == 1
    synced = _customer(w, result.customer_id)
    w.queue.put(item)
    assert w.repair().repaired == 1
    assert _customer(w, result.customer_id) == synced  # not even the version moved


def test_a_repair_that_keeps_failing_ends_dead_with_its_reason(w: World) -> None:
    w.world.inject(MARK, 45033, MAX_RECEIVES + 1)
    w.scan()
    for _ in range(MAX_RECEIVES):
        w.repair()
        w.clock.advance(seconds=w.queue.wait_all().total_seconds())
    assert w.queue.pending() == []
    assert [(item.kind, reason) for item, reason in w.queue.dead_letters] == [(MARK_TAG, "wecom_rate_limited")]


def test_a_repair_wecom_can_never_take_is_dead_at_once(w: World) -> None:
    w.world.inject(MARK, 84061)  # no contact relationship: no retry will ever change that
    w.scan()
    w.world.inject(MARK, 84061)
    report = w.repair()
    assert report.dead == 1 and w.queue.dead_letters[0][1] == "wecom_invalid_argument"


def test_a_queue_that_refuses_never_fails_the_callback(w: World) -> None:
    w.queue.fail_puts = True
    metrics.clear_metrics()  # the buffer flushes itself at 100 names: start this count from an empty one
    failed_before = _metric("RepairEnqueueFailed")
    w.world.inject(MARK, 45009)
    _, result, _ = w.scan()
    assert result.outcome == "created" and result.welcome == WelcomeOutcome.SENT
    assert _metric("RepairEnqueueFailed") == failed_before + 1


class SlowCodec:
    """The real codec, after ``seconds`` of the callback's time have gone (a cold start, a slow tenant read)."""

    def __init__(self, time: VirtualTime, seconds: float) -> None:
        self.time = time
        self.seconds = seconds
        self.codec = WXCallbackCodec(max_bytes=64 * 1024)

    def verify_url(self, tenant: Tenant, **kwargs: Any) -> str:
        return self.codec.verify_url(tenant, **kwargs)

    def open(self, tenant: Tenant, **kwargs: Any) -> dict[str, Any]:
        self.time.sleep(self.seconds)
        return self.codec.open(tenant, **kwargs)


def test_the_budget_starts_when_the_callback_arrives_and_the_welcome_comes_first(w: World) -> None:
    from chalicelib.adapters.wecom.callback_xml import build_event_xml
    from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope
    from chalicelib.services.callbacks import CallbackService

    callbacks = CallbackService(
        w.svc.tenant_cache,
        SlowCodec(w.time, 2.5),
        w.svc.intake,
        w.clock,
        budget_seconds=BUDGET,
        monotonic=w.time.monotonic,
    )
    fields = w.world.scan(CORP, w.channel.state, now=w.clock.epoch())
    ts, nonce = str(int(w.clock.epoch())), "1234567"
    encrypted, sig = CallbackCrypto(WECOM["token"], WECOM["encoding_aes_key"], CORP).encrypt(
        build_event_xml(fields), nonce=nonce, timestamp=ts
    )
    start = w.time.now
    result = callbacks.receive(
        "unit", {"msg_signature": sig, "timestamp": ts, "nonce": nonce}, envelope(CORP, encrypted)
    )
    assert w.time.now - start <= BUDGET
    # 0.5 s were left after decryption: the profile fetch (which keeps 1 s for the welcome) was not started, the
    # welcome went out, and the profile waits in the repair queue.
    assert result.outcome == "created" and result.welcome == WelcomeOutcome.SENT
    assert w.world.calls(GET) == [] and len(w.world.welcome_messages()) == 1
    assert _kinds(w) == [PROFILE_SYNC]


# --- an SOP step due at the scan ------------------------------------------------------------------------------------

TEMPLATE = "externalcontact/add_msg_template"


def _due_now_channel(w: World) -> Any:
    """A channel whose plan's first step is due at once: the kernel fires it inline, inside the callback."""
    plan = w.svc.plans.create(
        w.tenant,
        {
            "name": "扫码即发资料",
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "资料包"}}],
        },
    )
    w.svc.plans.publish(w.tenant, plan.plan_id)
    return w.svc.channels.create(
        w.tenant,
        {
            "name": "公众号菜单",
            "source": "wechat_mp",
            "staff": {"mode": "single", "userids": ["zhang"]},
            "plan_id": plan.plan_id,
        },
    )


def test_an_sop_step_fired_inline_spends_the_callbacks_budget_and_is_retried_not_lost(w: World) -> None:
    w.channel = _due_now_channel(w)
    w.world.slow(TEMPLATE, 30.0)  # WeCom hangs on the mass-message task far past any budget
    _, result, took = w.scan()
    assert took <= BUDGET  # the inline fire fitted into what the callback had left
    assert result.outcome == "created"
    [task] = w.tasks("mass")
    assert task.status == "retrying" and task.recipients == (result.customer_id,)
    assert task.retry_at is not None

    w.world.slow(TEMPLATE, 0.0)  # WeCom is fast again; the retry (its one-time schedule, or the backstop) sends it
    w.time.sleep(120)
    w.svc.sop.retry_task("unit", task.task_id)
    [task] = w.tasks("mass")
    assert task.status == "created" and task.msgid
    created = [c for c in w.world.calls(TEMPLATE) if c.errcode == 0]
    assert len(created) == 1  # one WeCom task for the customer: the budgeted attempt never reached WeCom


def test_only_a_callback_binds_the_inline_fire_to_its_budget(w: World) -> None:
    w.channel = _due_now_channel(w)
    w.world.slow(GET, 2.5)  # the profile fetch spends most of the callback's budget
    w.world.slow(TEMPLATE, 1.5)  # WeCom takes 1.5 s for the task: more than the callback has left
    _, first, took = w.scan()
    assert took <= BUDGET
    assert [(t.status, t.recipients) for t in w.tasks("mass")] == [("retrying", (first.customer_id,))]

    plain = w.svc.channels.create(
        w.tenant, {"name": "官网表单", "source": "website", "staff": {"mode": "single", "userids": ["zhang"]}}
    )
    fields = w.world.scan(CORP, plain.state, now=w.clock.epoch())
    second, _ = w.deliver(fields)
    w.svc.sop.enroll(w.tenant, second.customer_id, w.channel.plan_id, source="manual")  # an API enrollment
    outside = [t for t in w.tasks("mass") if t.recipients == (second.customer_id,)]
    assert [t.status for t in outside] == ["created"]  # the same 1.5 s call, with no callback's budget
