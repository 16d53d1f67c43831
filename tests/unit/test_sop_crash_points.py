"""Crash at every step (issue 9 §2): a fire over the fake store and the WeCom world dies right after each storage
write and each WeCom call in turn, one run per point, then the stack restarts and the backstop (with reconciliation)
runs until quiet. Every touch must end in exactly one WeCom task (as the world stores them) or ``failed`` with a
reason, and no customer may be in two WeCom tasks for one touch.

The points are enumerated, not listed: the store is wrapped so that every call that changed its state counts as a
write, the transport so that every WeCom request counts as a call; a clean run counts them, then run ``i`` dies after
the ``i``-th. The recipient limit is lowered so one executor's touches make several tasks of the same sender and text,
the case where the old time-window reconciliation adopted the recovery fire's own task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import pytest

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.sop import FAILED, SENT
from chalicelib.errors import WeComTransportError
from chalicelib.services.sop import SopEngine
from chalicelib.services.sop.customer_policy import CustomerPolicy
from devstack.jobs import describe_fire
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import SeqIds
from tests.fakes.store import FakeStore
from tests.unit.test_sop_engine import CORP, Env, plan, step

OWNERS = ["zhang", "zhang", "li", "zhang", "zhang", "li", "zhang"]  # zhang: 5 touches in 3 tasks of 2; li: 1 task
TEXT = "s1 的内容"


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
    env: Env
    fuse: Fuse
    ids: SeqIds
    bucket_id: str
    faults: bool
    lose: set[int]

    def engine(self) -> SopEngine:
        """A process: a new engine (and WeCom client: no cached token) over the same store, world and clock."""
        fused = cast(Any, FusedStore(self.env.store, self.fuse))
        wecom = WeComClient(FusedTransport(self.env.world, self.fuse, self.lose), sleep=lambda s: None)
        return SopEngine(fused, self.env.plans, self.env.scheduler, wecom, self.env.clock, self.ids)


def _world(monkeypatch: pytest.MonkeyPatch, faults: bool = False) -> World:
    """Seven touches due now. ``faults``: WeCom refuses the first task (45033) and the answer to the second is lost
    (WeCom created it): the fire leaves two tasks retrying, which the backstop a minute later settles."""
    monkeypatch.setattr(CustomerPolicy, "recipient_limit", 2)
    env = Env(FakeStore())
    if faults:
        env.world.inject("externalcontact/add_msg_template", 45033, 1)
    env.plans.add(plan([step("s1", after_minutes=30)]))
    for n, owner in enumerate(OWNERS):
        env.engine.enroll(env.tenant, env.customer(n, owner).customer_id, "pl_new7")
    [bucket_id] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()]
    env.clock.advance(minutes=30)
    return World(env, Fuse(), SeqIds(), bucket_id, faults, {2} if faults else set())


def _fire(world: World, at: int | None) -> bool:
    """The scheduled fire (with faults: and the backstop a minute later, which retries and looks up what the fire
    left retrying), dying after operation ``at``; True if it died."""
    world.fuse.at, world.fuse.count, world.fuse.armed = at, 0, True
    try:
        engine = world.engine()
        engine.fire("sop", world.bucket_id)
        if world.faults:
            world.env.clock.advance(minutes=1)
            engine.backstop("sop")
    except Died:
        return True
    finally:
        world.fuse.armed = False
        world.lose = set()  # the processes after it meet a WeCom that answers
    return False


def _recover(world: World, *, first: float, refire: bool, period: float, runs: int) -> None:
    """Restart after ``first`` seconds (``refire``: the schedule still there fires again at once, as the pump
    does after a restart), then run the backstop every ``period`` seconds."""
    world.env.clock.advance(seconds=first)
    engine = world.engine()
    if refire:
        engine.fire("sop", world.bucket_id)
    for _ in range(runs):
        engine.backstop("sop")
        world.env.clock.advance(seconds=period)


def _check(world: World, point: str) -> None:
    env = world.env
    wecom_tasks = [t for t in env.world.corp(CORP).tasks.values() if t.text == TEXT]
    for n in range(len(OWNERS)):
        ext = f"wmsop{n:027d}"
        carried = [t for t in wecom_tasks if ext in {r.external_userid for r in t.recipients}]
        [touch] = [t for t in env.store.touches_in("sop", world.bucket_id, state=None) if t.customer_id == f"c{n:05d}"]
        where = f"after {point}: c{n:05d} is {touch.state} in {len(carried)} WeCom task(s)"
        assert len(carried) <= 1, where  # never doubled
        counted = [row["m"] for (_, cid, _), row in env.store._sop()["caps"].items() if cid == touch.customer_id]
        assert counted == [1], f"{where}, counted {counted} against the monthly limit"  # judged again, counted once
        if touch.state == FAILED:
            assert touch.reason and not carried, where
            continue
        assert touch.state == SENT and len(carried) == 1, where  # never lost
        task = env.store.get_task("sop", touch.task_id or "")
        assert task is not None and task.status == "created" and task.msgid == carried[0].msgid, where
        assert touch.customer_id in task.recipients, where
    unsettled = [
        t.task_id for t in env.store.list_tasks("sop", userid=None, status=None, due_from=None, due_to=None, limit=99)
    ]
    statuses = {env.store.get_task("sop", tid).status for tid in unsettled}  # type: ignore[union-attr]
    assert statuses <= {"created", "empty", FAILED}, f"after {point}: {statuses}"


def _points(monkeypatch: pytest.MonkeyPatch, faults: bool) -> list[str]:
    world = _world(monkeypatch, faults)
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
def test_a_fire_that_dies_after_any_write_or_wecom_call_loses_and_doubles_nothing(
    monkeypatch: pytest.MonkeyPatch, restart: str, faults: bool
) -> None:
    points = _points(monkeypatch, faults)
    # Every kind of point is there: claims, task records, msgid claims, leases and WeCom's calls (with faults: the
    # retry and the lookup of a lost answer too).
    kinds = set(points)
    assert {"store.move_touch", "store.create_task", "store.save_task", "store.claim_msgid"} <= kinds
    assert {"store.take_lease", "wecom.add_msg_template", "wecom.gettoken"} <= kinds
    if faults:
        assert {"wecom.get_groupmsg_list_v2", "wecom.get_groupmsg_send_result", "store.release_lease"} <= kinds
    for at in range(1, len(points) + 1):
        with monkeypatch.context() as patch:
            world = _world(patch, faults)
            assert _fire(world, at), f"the fire did not reach point {at} ({points[at - 1]})"
            RESTARTS[restart](world)
            _check(world, f"point {at} ({points[at - 1]}), {restart} restart")


def test_a_fire_that_died_holding_its_bucket_keeps_twins_out_until_its_lease_lapses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(monkeypatch)
    assert _fire(world, 1)  # died right after taking the lease
    twin = world.engine().fire("sop", world.bucket_id)  # the schedule fires again at once
    assert (twin.leased, twin.sent, twin.tasks) == (False, 0, 0)
    assert "another fire holds it" in describe_fire(world.bucket_id, asdict(twin))
    world.env.clock.advance(minutes=4)
    assert world.engine().backstop("sop")[0].leased is False  # still within the 5 minutes
    world.env.clock.advance(minutes=1)
    [report] = world.engine().backstop("sop")
    assert report.leased and report.sent == len(OWNERS)
    _check(world, "the lease lapsed")
