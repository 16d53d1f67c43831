"""The SOP kernel needs nothing customer-specific: a made-up subject kind (a "room", reached as a group chat) fires
through the same kernel, the fake store and a recording WeCom, with a policy written here in a few lines."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from chalicelib.domain.messages import Message
from chalicelib.domain.plans import Step
from chalicelib.domain.sop import ACTIVE, COMPLETED, MAX_CHATS_PER_TASK, SENT, SKIPPED, Enrollment, Subject, Touch
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import MsgTemplateResult, WeComPort
from chalicelib.services.sop import SopKernel
from chalicelib.services.sop.policy import DROP, SEND, SKIP, FireContext, SubjectPage, SubjectPolicy, Verdict
from chalicelib.services.sop.rules import creds_of
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.fakes.wecom import RecordingWeCom
from tests.unit.test_sop_engine import Plans, plan, step

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
ROOM = "room"
MONTHLY = 2  # a room takes at most two touches (a made-up quota)


@dataclass(frozen=True)
class Room:
    room_id: str
    chat_id: str
    owner: str


class RoomPolicy:
    """A test-only subject policy: rooms live in a dict, their enrollments in the fake store."""

    kind = ROOM
    chat_type = "group"
    recipient_limit = MAX_CHATS_PER_TASK

    def __init__(self, store: FakeStore, wecom: WeComPort) -> None:
        self.rooms: dict[str, Room] = {}
        self.store = store
        self.wecom = wecom
        self.gate: threading.Barrier | None = None  # concurrent fires wait here, each with its touches read
        self.sent: dict[str, int] = {}  # a room's quota: at most MONTHLY touches

    def load(self, tenant_id: str, plan_id: str, subjects: list[Subject]) -> SubjectPage[Room]:
        if self.gate is not None:
            self.gate.wait(timeout=10)
        states = {s: self.rooms[s.id] for s in subjects if s.id in self.rooms}
        return SubjectPage(states, self.store.subject_enrollments_in(tenant_id, subjects, plan_id))

    def judge(self, ctx: FireContext, touch: Touch, room: Room | None, enrollment: Enrollment | None) -> Verdict:
        if room is None:
            return Verdict(SKIP, "room_gone")
        if enrollment is None or enrollment.status != ACTIVE or enrollment.enrollment_id != touch.enrollment_id:
            return Verdict(SKIP, "enrollment_ended")
        refused = self.take_quota(ctx, touch, room)
        return Verdict(SEND) if refused is None else Verdict(DROP, refused)

    def take_quota(self, ctx: FireContext, touch: Touch, room: Room) -> str | None:
        if self.sent.get(room.room_id, 0) >= MONTHLY:
            return "room_quota"
        self.sent[room.room_id] = self.sent.get(room.room_id, 0) + 1
        return None

    def executor(self, step: Step, room: Room) -> str:
        return room.owner

    def address(self, room: Room) -> str:
        return room.chat_id

    def deliver(self, tenant: Tenant, *, sender: str, recipients: list[Room], message: Message) -> MsgTemplateResult:
        chats = [r.chat_id for r in recipients]
        return self.wecom.add_msg_template(
            creds_of(tenant), sender=sender, message=message, chat_type="group", chat_ids=chats
        )


class Env:
    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.store = FakeStore()
        self.scheduler = FakeScheduler()
        self.plans = Plans()
        self.wecom = RecordingWeCom()
        self.ids = SeqIds()
        self.policy = RoomPolicy(self.store, cast(WeComPort, self.wecom))
        self.tenant = Tenant("rooms", "群运营", "wwroom", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
        self.store.create_tenant(self.tenant)
        self.plan = self.plans.add(
            plan([step("s1", after_minutes=30), step("s2", after_minutes=90)], plan_id="pl_room")
        )

    def kernel(self) -> SopKernel:
        """A kernel (each call: another process, as two Lambda invocations are) that knows only rooms."""
        policies: dict[str, SubjectPolicy[Any]] = {ROOM: self.policy}
        return SopKernel(
            self.store, self.plans, self.scheduler, cast(WeComPort, self.wecom), self.clock, self.ids, policies
        )

    def enroll(self, kernel: SopKernel, room: Room) -> Enrollment:
        self.policy.rooms[room.room_id] = room
        enrolled = T0.astimezone(self.tenant.zone).isoformat()
        enrollment = Enrollment(Subject(ROOM, room.room_id), "pl_room", 1, f"en_{room.room_id}", enrolled)
        assert self.store.put_enrollment("rooms", enrollment, reentry="never")
        kernel.start(self.tenant, self.plan, enrollment)
        return enrollment

    def bucket_ids(self) -> list[str]:
        return [s["payload"]["bucket_id"] for s in self.scheduler.schedules.values()]


def test_a_made_up_subject_kind_fires_through_the_kernel_exactly_once() -> None:
    env = Env()
    kernel = env.kernel()
    rooms = [Room("r1", "wrchat1", "zhang"), Room("r2", "wrchat2", "li"), Room("r3", "wrchat3", "zhang")]
    for room in rooms:
        env.enroll(kernel, room)
    [first] = env.bucket_ids()  # three touches, one bucket, one schedule
    env.clock.advance(minutes=30)
    report = kernel.fire("rooms", first)
    again = env.kernel().fire("rooms", first)  # the schedule's retry, in another process
    assert (report.sent, report.tasks) == (3, 2) and (again.sent, again.tasks) == (0, 0)
    assert sorted((c.chat_type, c.sender, c.recipients) for c in env.wecom.calls) == [
        ("group", "li", ("wrchat2",)),
        ("group", "zhang", ("wrchat1", "wrchat3")),
    ]
    tasks = env.store.list_tasks("rooms", userid=None, status="created", due_from=None, due_to=None, limit=10)
    assert sorted((t.userid, t.recipients, t.recipient_kind, t.customer_ids) for t in tasks) == [
        ("li", ("r2",), ROOM, ()),
        ("zhang", ("r1", "r3"), ROOM, ()),
    ]
    touches = env.store.touches_in("rooms", first, state=None)
    assert [(t.subject, t.state) for t in touches] == [(Subject(ROOM, r.room_id), SENT) for r in rooms]
    assert all(t.key.startswith(f"{ROOM}#{t.subject.id}#") for t in touches)


def test_the_next_step_and_completion_follow_and_a_gone_subject_is_skipped() -> None:
    env = Env()
    kernel = env.kernel()
    env.enroll(kernel, Room("r1", "wrchat1", "zhang"))
    env.enroll(kernel, Room("r2", "wrchat2", "zhang"))
    env.clock.advance(minutes=30)
    kernel.fire("rooms", env.bucket_ids()[0])
    del env.policy.rooms["r2"]  # the room was dissolved before its second touch
    [second] = [b for b in env.bucket_ids() if ".s2." in b]
    env.clock.advance(minutes=60)
    report = kernel.fire("rooms", second)
    assert (report.sent, report.skipped, report.reasons) == (1, 1, {"room_gone": 1})
    assert [c.recipients for c in env.wecom.calls] == [("wrchat1", "wrchat2"), ("wrchat1",)]
    done = env.store.subject_enrollments_in("rooms", [Subject(ROOM, "r1"), Subject(ROOM, "r2")], "pl_room")
    assert {s.id: e.status for s, e in done.items()} == {"r1": COMPLETED, "r2": ACTIVE}
    assert {t.state for t in env.store.touches_in("rooms", second, state=None)} == {SENT, SKIPPED}


def test_the_policy_s_quota_drops_a_touch_and_the_enrollment_still_completes() -> None:
    env = Env()
    steps = [step("s1", after_minutes=30), step("s2", after_minutes=60), step("s3", after_minutes=90)]
    env.plan = env.plans.add(plan(steps, plan_id="pl_room"))
    kernel = env.kernel()
    env.enroll(kernel, Room("r1", "wrchat1", "zhang"))
    reports = []
    for step_id in ("s1", "s2", "s3"):
        env.clock.advance(minutes=30)
        [bucket] = [b for b in env.bucket_ids() if f".{step_id}." in b]
        reports.append(kernel.fire("rooms", bucket))
    assert [(r.sent, r.dropped, r.reasons) for r in reports] == [(1, 0, None), (1, 0, None), (0, 1, {"room_quota": 1})]
    assert len(env.wecom.calls) == 2
    [done] = env.store.subject_enrollments("rooms", Subject(ROOM, "r1"))
    assert done.status == COMPLETED


def test_concurrent_fires_of_one_bucket_hand_each_subject_to_one_task(monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env()
    # The fire lease keeps twins apart; here it lapses for all of them (a fire slower than its lease), so the
    # claims' conditional writes are what must hold.
    monkeypatch.setattr(env.store, "take_lease", lambda *a, **k: True)
    rooms = [Room(f"r{n}", f"wrchat{n}", "zhang") for n in range(40)]
    for room in rooms:
        env.enroll(env.kernel(), room)
    [first] = env.bucket_ids()
    env.clock.advance(minutes=30)
    kernels = [env.kernel() for _ in range(4)]
    env.policy.gate = threading.Barrier(len(kernels))  # all four read the same scheduled touches, then race
    threads = [threading.Thread(target=k.fire, args=("rooms", first)) for k in kernels]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    delivered = [chat for c in env.wecom.calls for chat in c.recipients]
    assert sorted(delivered) == sorted(r.chat_id for r in rooms)  # each room once, whoever won it
    assert {c.chat_type for c in env.wecom.calls} == {"group"}
    assert {t.state for t in env.store.touches_in("rooms", first, state=None)} == {SENT}


def test_a_group_task_whose_process_died_after_the_wecom_call_is_adopted_by_its_chats_not_sent_twice() -> None:
    env = Env()
    rooms = [Room("r1", "wrchat1", "zhang"), Room("r2", "wrchat2", "zhang")]
    for room in rooms:
        env.enroll(env.kernel(), room)
    [first] = env.bucket_ids()
    env.clock.advance(minutes=30)
    deliver = env.policy.deliver

    def died(*args: Any, **kwargs: Any) -> MsgTemplateResult:
        deliver(*args, **kwargs)
        raise RuntimeError("died after the WeCom call")

    env.policy.deliver = died  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        env.kernel().fire("rooms", first)
    env.policy.deliver = deliver  # type: ignore[method-assign]
    env.clock.advance(minutes=3)
    assert env.kernel().reconcile("rooms") == 1
    [call] = env.wecom.calls  # adopted by its chat ids: no second group task
    [task] = env.store.list_tasks("rooms", userid=None, status="created", due_from=None, due_to=None, limit=5)
    assert task.msgid == call.msgid and task.recipients == ("r1", "r2") and call.chat_type == "group"
