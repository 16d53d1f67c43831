"""Crash at every step (issue 9 §2): a fire over the fake store and the WeCom world dies right after each storage
write and each WeCom call in turn, one run per point, then the stack restarts and the backstop (with reconciliation)
runs until quiet. Every touch must end in exactly one WeCom task (as the world stores them) or ``failed`` with a
reason, and no customer may be in two WeCom tasks for one touch.

The same for group subjects: a group plan's fire (groups of two owners in one bucket, each owner's task a
``chat_type`` group task) — every group touch in exactly one WeCom group task of its owner or ``failed``, and no
chat in two WeCom tasks for one touch. The runs are parametrized over the subject kind (``SUBJECTS``).

The points are enumerated, not listed: the store is wrapped so that every call that changed its state counts as a
write, the transport so that every WeCom request counts as a call; a clean run counts them, then run ``i`` dies after
the ``i``-th. The recipient limit is lowered so one executor's touches make several tasks of the same sender and text,
the case where the old time-window reconciliation adopted the recovery fire's own task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import pytest

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.sop import FAILED, SENT
from chalicelib.errors import WeComTransportError
from chalicelib.services.sop import SopEngine
from chalicelib.services.sop.customer_policy import CustomerPolicy
from chalicelib.services.sop.group_policy import GroupPolicy
from devstack.jobs import describe_fire
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FakeScheduler, FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.unit.group_plan_env import TID, GroupEnv
from tests.unit.group_plan_env import step as group_step
from tests.unit.test_sop_engine import CORP, Env, plan, step

OWNERS = ["zhang", "zhang", "li", "zhang", "zhang", "li", "zhang"]  # zhang: 5 touches in 3 tasks of 2; li: 1 task
TEXT = "s1 的内容"
ADD = "externalcontact/add_msg_template"


class Died(BaseException):
    """The process died (not an Exception: nothing in the code under test may catch it)."""


class Fuse:
    """Counts the operations (store writes, WeCom calls) and dies after the ``at``-th one (None: never)."""

    def __init__(self) -> None:
        self.at: int | None = None
        self.count = 0
        self.armed = False
        self.points: list[str] = []

    def tick(self, what: str) -> None:
        if not self.armed:
            return
        self.count += 1
        self.points.append(what)
        if self.at is not None and self.count == self.at:
            self.armed = False
            raise Died(what)


def _state(store: FakeStore) -> str:
    return repr({k: v for k, v in vars(store).items() if k not in ("lock", "calls")})


class FusedStore:
    """The fake store, each call of which ticks the fuse if it changed the store (a write), after it ran."""

    def __init__(self, store: FakeStore, fuse: Fuse) -> None:
        self._store = store
        self._fuse = fuse

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            before = _state(self._store) if self._fuse.armed else ""
            result = target(*args, **kwargs)
            if self._fuse.armed and _state(self._store) != before:
                self._fuse.tick(f"store.{name}")
            return result

        return call


class FusedTransport(WorldTransport):
    """The world over the fuse; ``lose``: add_msg_template calls (by number, from 1) whose answer is lost after WeCom
    acted on them (a timeout)."""

    def __init__(self, world: WeComWorld, fuse: Fuse, lose: set[int]) -> None:
        super().__init__(world)
        self.fuse = fuse
        self.lose = lose
        self.adds = 0

    def request(
        self, method: str, path: str, *, query: dict[str, str], body: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]:
        answer = super().request(method, path, query=query, body=body, timeout=timeout)
        self.fuse.tick(f"wecom.{path.rsplit('/', 1)[-1]}")
        if path.endswith("add_msg_template"):
            self.adds += 1
            if self.adds in self.lose:
                raise WeComTransportError(f"WeCom {path} unreachable (TimeoutError)")
        return answer


@dataclass
class World:
    """One run's stack: what an engine runs over (store, plans, scheduler, clock, the WeCom world), the bucket to
    fire and its subjects (subject id → how WeCom names it: external_userid or chat_id)."""

    store: FakeStore
    plans: Any
    scheduler: FakeScheduler
    clock: FixedClock
    wecom: WeComWorld
    tenant_id: str
    corp_id: str
    chat_type: str
    text: str
    subjects: dict[str, str]
    bucket_id: str
    faults: bool = False
    lose: set[int] = field(default_factory=set)
    fuse: Fuse = field(default_factory=Fuse)
    ids: SeqIds = field(default_factory=SeqIds)

    def engine(self) -> SopEngine:
        """A process: a new engine (and WeCom client: no cached token) over the same store, world and clock."""
        fused = cast(Any, FusedStore(self.store, self.fuse))
        wecom = WeComClient(FusedTransport(self.wecom, self.fuse, self.lose), sleep=lambda s: None)
        return SopEngine(fused, self.plans, self.scheduler, wecom, self.clock, self.ids)

    def counted(self, subject_id: str) -> list[int]:
        """The subject's counts against its monthly receive limit (customers' caps rows, groups' quota rows)."""
        rows = {**self.store._sop()["caps"], **self.store._group_quotas()}
        return [row["m"] for (tid, sid, _), row in rows.items() if (tid, sid) == (self.tenant_id, subject_id)]


def _customers() -> World:
    """Seven customers of two owners, due now (step s1 half an hour after enrollment)."""
    env = Env(FakeStore())
    env.plans.add(plan([step("s1", after_minutes=30)]))
    subjects = {}
    for n, owner in enumerate(OWNERS):
        customer = env.customer(n, owner)
        env.engine.enroll(env.tenant, customer.customer_id, "pl_new7")
        subjects[customer.customer_id] = customer.external_userid
    [bucket_id] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()]
    env.clock.advance(minutes=30)
    return World(
        env.store, env.plans, env.scheduler, env.clock, env.world, "sop", CORP, "single", TEXT, subjects, bucket_id
    )


def _groups() -> World:
    """Seven groups (in WeCom and in Siyu) of two owners on a group plan's calendar: day -7 at 10:30, one bucket."""
    env = GroupEnv()
    world = WeComWorld(clock=env.clock.epoch)
    corp_id = env.tenant.corp_id
    world.register_corp(corp_id)
    subjects = {}
    for n, owner in enumerate(OWNERS):
        chat_id = str(world.seed_group(corp_id, owner=owner, name=f"考研数学·{n}")["chat_id"])
        env.group(chat_id, owner=owner)
        subjects[chat_id] = chat_id
    camp = env.plan([group_step("s1", -7, "10:30")])
    assert len(env.groups.enroll(env.tenant, camp.plan_id).enrolled) == len(OWNERS)
    [bucket_id] = env.bucket_ids()
    env.clock.advance(minutes=30)
    return World(
        env.store, env.plans, env.scheduler, env.clock, world, TID, corp_id, "group", "群通知 s1", subjects, bucket_id
    )


SUBJECTS: dict[str, Callable[[], World]] = {"customers": _customers, "groups": _groups}


def _world(monkeypatch: pytest.MonkeyPatch, kind: str = "customers", faults: bool = False) -> World:
    """The bucket's subjects due now. ``faults``: WeCom refuses the first task (45033) and the answer to the second
    is lost (WeCom created it): the fire leaves two tasks retrying, which the backstop a minute later settles."""
    monkeypatch.setattr(CustomerPolicy, "recipient_limit", 2)
    monkeypatch.setattr(GroupPolicy, "recipient_limit", 2)
    world = SUBJECTS[kind]()
    if faults:
        world.wecom.inject(ADD, 45033, 1)
        world.faults, world.lose = True, {2}
    return world


def _fire(world: World, at: int | None) -> bool:
    """The scheduled fire (with faults: and the backstop a minute later, which retries and looks up what the fire
    left retrying), dying after operation ``at``; True if it died."""
    world.fuse.at, world.fuse.count, world.fuse.armed = at, 0, True
    try:
        engine = world.engine()
        engine.fire(world.tenant_id, world.bucket_id)
        if world.faults:
            world.clock.advance(minutes=1)
            engine.backstop(world.tenant_id)
    except Died:
        return True
    finally:
        world.fuse.armed = False
        world.lose = set()  # the processes after it meet a WeCom that answers
    return False


def _recover(world: World, *, first: float, refire: bool, period: float, runs: int) -> None:
    """Restart after ``first`` seconds (``refire``: the schedule still there fires again at once, as the pump
    does after a restart), then run the backstop every ``period`` seconds."""
    world.clock.advance(seconds=first)
    engine = world.engine()
    if refire:
        engine.fire(world.tenant_id, world.bucket_id)
    for _ in range(runs):
        engine.backstop(world.tenant_id)
        world.clock.advance(seconds=period)


def _check(world: World, point: str) -> None:
    """Every touch (a customer's or a group's) in exactly one WeCom task of its kind, the one its Siyu task holds,
    or failed with a reason and in none; counted once against the subject's receive limit."""
    store, tid = world.store, world.tenant_id
    wecom_tasks = [t for t in world.wecom.corp(world.corp_id).tasks.values() if t.text == world.text]
    assert {t.chat_type for t in wecom_tasks} <= {world.chat_type}, point
    touches = store.touches_in(tid, world.bucket_id, state=None)
    for subject_id, address in world.subjects.items():
        carried = [t for t in wecom_tasks if address in {r.external_userid for r in t.recipients}]
        [touch] = [t for t in touches if t.subject.id == subject_id]
        where = f"after {point}: {subject_id} is {touch.state} in {len(carried)} WeCom task(s)"
        assert len(carried) <= 1, where  # never doubled
        counted = world.counted(subject_id)
        assert counted == [1], f"{where}, counted {counted} against the monthly limit"  # judged again, counted once
        if touch.state == FAILED:
            assert touch.reason and not carried, where
            continue
        assert touch.state == SENT and len(carried) == 1, where  # never lost
        task = store.get_task(tid, touch.task_id or "")
        assert task is not None and task.status == "created" and task.msgid == carried[0].msgid, where
        assert subject_id in task.recipients and carried[0].sender == task.userid, where
    unsettled = [
        t.task_id for t in store.list_tasks(tid, userid=None, status=None, due_from=None, due_to=None, limit=99)
    ]
    statuses = {store.get_task(tid, task_id).status for task_id in unsettled}  # type: ignore[union-attr]
    assert statuses <= {"created", "empty", FAILED}, f"after {point}: {statuses}"


def _points(monkeypatch: pytest.MonkeyPatch, kind: str, faults: bool) -> list[str]:
    world = _world(monkeypatch, kind, faults)
    assert not _fire(world, None)
    _check(world, "a clean run")
    return world.fuse.points


RESTARTS: dict[str, Callable[[World], None]] = {
    # Back within seconds: the schedule fires again at once, backstops every minute (before and after
    # RECONCILE_AFTER and the fire's lease).
    "quick": lambda w: _recover(w, first=10, refire=True, period=60, runs=20),
    # Back after three minutes: the claimed tasks are reconcilable at the first backstop run.
    "slow": lambda w: _recover(w, first=180, refire=False, period=300, runs=6),
}


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "retrying"])
@pytest.mark.parametrize("restart", sorted(RESTARTS))
@pytest.mark.parametrize("kind", sorted(SUBJECTS))
def test_a_fire_that_dies_after_any_write_or_wecom_call_loses_and_doubles_nothing(
    monkeypatch: pytest.MonkeyPatch, kind: str, restart: str, faults: bool
) -> None:
    points = _points(monkeypatch, kind, faults)
    # Every kind of point is there: claims, task records, msgid claims, leases and WeCom's calls (with faults: the
    # retry and the lookup of a lost answer too).
    kinds = set(points)
    assert {"store.move_touch", "store.create_task", "store.save_task", "store.claim_msgid"} <= kinds
    assert {"store.take_lease", "wecom.add_msg_template", "wecom.gettoken"} <= kinds
    if faults:
        assert {"wecom.get_groupmsg_list_v2", "wecom.get_groupmsg_send_result", "store.release_lease"} <= kinds
    for at in range(1, len(points) + 1):
        with monkeypatch.context() as patch:
            world = _world(patch, kind, faults)
            assert _fire(world, at), f"the fire did not reach point {at} ({points[at - 1]})"
            RESTARTS[restart](world)
            _check(world, f"point {at} ({points[at - 1]}), {restart} restart")


@pytest.mark.parametrize("kind", sorted(SUBJECTS))
def test_a_fire_that_died_holding_its_bucket_keeps_twins_out_until_its_lease_lapses(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    world = _world(monkeypatch, kind)
    assert _fire(world, 1)  # died right after taking the lease
    twin = world.engine().fire(world.tenant_id, world.bucket_id)  # the schedule fires again at once
    assert (twin.leased, twin.sent, twin.tasks) == (False, 0, 0)
    assert "another fire holds it" in describe_fire(world.bucket_id, asdict(twin))
    world.clock.advance(minutes=4)
    assert world.engine().backstop(world.tenant_id)[0].leased is False  # still within the 5 minutes
    world.clock.advance(minutes=1)
    [report] = world.engine().backstop(world.tenant_id)
    assert report.leased and report.sent == len(OWNERS)
    _check(world, "the lease lapsed")
