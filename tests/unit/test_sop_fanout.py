"""A fire that fans out (issue 8 §7), on fakes: a bucket over the shard bound splits by executor into shards of at
most the bound, every touch is sent once, a shard or a coordinator that runs twice changes nothing, a lost shard is
fired by the backstop, and shards run concurrently."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.shards import MAX_EVENT_BYTES, LambdaShards, ThreadedShards, shard_event
from chalicelib.domain.shards import Shard, plan_shards, shard_of, shard_payload
from chalicelib.domain.sop import SENT, Subject, Touch
from chalicelib.errors import InvalidError
from chalicelib.jobs import sop as sop_jobs
from chalicelib.services.sop import SopEngine
from chalicelib.services.sop.fanout import DEFAULT_SHARD_SIZE, SETTLE, FanOut
from chalicelib.settings import ENV_FIRE_SHARD_SIZE, Settings
from tests.fakes import SeqIds
from tests.fakes.shards import HeldShards, InlineShards
from tests.fakes.store import FakeStore
from tests.unit.test_sop_engine import Env, plan, step

BOUND = 5
OWNERS = ["zhang"] * 9 + ["li"] * 7 + ["wang"] * 4 + ["zhao"] * 3  # 23 customers, two owners over the bound


@pytest.fixture
def new_store() -> Callable[[], Any]:
    """The store the engine runs on (tests/integration/test_sop_fanout_dynamodb.py: DynamoDB Local)."""
    return FakeStore


def fanned(dispatcher: Any, new_store: Callable[[], Any], *, bound: int = BOUND, steps: int = 1) -> Env:
    """An engine whose fires fan out above ``bound`` through ``dispatcher``, with one customer per owner entry
    enrolled into a plan whose first step is due 30 minutes later."""
    env = Env(new_store())
    env.engine = SopEngine(
        env.store, env.plans, env.scheduler, env.wecom, env.clock, SeqIds(), fanout=FanOut(dispatcher, bound=bound)
    )
    if hasattr(dispatcher, "target"):
        dispatcher.target = env.engine.fire_shard
    steps_ = [step("s1", after_minutes=30), step("s2", after_minutes=90)][:steps]
    env.plans.add(plan(steps_))
    for n, owner in enumerate(OWNERS):
        assert env.engine.enroll(env.tenant, env.customer(n, owner).customer_id, "pl_new7") is not None
    env.clock.advance(minutes=30)
    return env


def first_bucket(env: Env) -> str:
    [bucket_id] = [
        s["payload"]["bucket_id"] for s in env.scheduler.schedules.values() if ".s1." in s["payload"]["bucket_id"]
    ]
    return str(bucket_id)


def recipients(env: Env) -> list[str]:
    return [u for c in env.add_calls() for u in c.payload["external_userid"]]


def everyone(env: Env) -> list[str]:
    return sorted(f"wmsop{n:027d}" for n in range(len(OWNERS)))


def quota_counts(env: Env) -> set[int]:
    """How many touches each customer's quota counted this month, on the fake or on DynamoDB (the quota item's
    ``m``)."""
    if hasattr(env.store, "_sop"):
        return {row.get("m", 0) for (t, _, _), row in env.store._sop()["caps"].items() if t == "sop"}
    from chalicelib.adapters.dynamodb.keys import customer_pk

    store: Any = env.store
    counts: set[int] = set()
    for n in range(len(OWNERS)):
        items = store.client.query(
            TableName=store.table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": customer_pk("sop", f"c{n:05d}")}},
            ConsistentRead=True,
        )["Items"]
        counts |= {int(i["m"]["N"]) for i in items if "m" in i}
    return counts


def test_a_bucket_over_the_bound_splits_by_executor_and_sends_each_touch_once(new_store: Callable[[], Any]) -> None:
    shards = InlineShards()
    env = fanned(shards, new_store)
    bucket_id = first_bucket(env)
    report = env.engine.fire("sop", bucket_id)
    assert report.shards == len(shards.dispatched) == 5 and report.sent == 0  # the coordinator fired none itself
    assert all(len(s.touches) <= BOUND for _, _, s in shards.dispatched)
    for _, _, shard in shards.dispatched:  # a shard holds whole executor groups, or a piece of one of BOUND
        by_owner = Counter(t.executor for t in shard.touches)
        assert all(
            OWNERS.count(str(o)) <= BOUND or n == BOUND or n == OWNERS.count(str(o)) % BOUND
            for o, n in by_owner.items()
        )
    assert sorted(recipients(env)) == everyone(env)  # every customer exactly once
    calls = Counter(c.payload["sender"] for c in env.add_calls())
    assert calls == {"zhang": 2, "li": 2, "wang": 1, "zhao": 1}  # one task per executor per shard
    assert sum(r.tasks for r in shards.reports) == 6
    assert {t.state for t in env.store.touches_in("sop", bucket_id, state=None)} == {SENT}
    # The coordinator left the bucket open; the backstop finds nothing scheduled and drains it.
    env.clock.advance(minutes=5)
    [drained] = env.engine.backstop("sop")
    assert (drained.sent, drained.shards) == (0, 0) and env.engine.backstop("sop") == []


def test_a_bucket_within_the_bound_fires_inline_without_dispatch(new_store: Callable[[], Any]) -> None:
    shards = InlineShards()
    env = fanned(shards, new_store, bound=len(OWNERS))
    report = env.engine.fire("sop", first_bucket(env))
    assert shards.dispatched == [] and report.shards == 0 and report.sent == len(OWNERS)
    assert env.engine.backstop("sop") == []  # drained by the fire itself, as before


def test_a_shard_delivered_twice_and_a_coordinator_run_twice_change_nothing(new_store: Callable[[], Any]) -> None:
    held = HeldShards()
    env = fanned(held, new_store, steps=2)  # the enrollments stay active after the first step: a twin could still send
    bucket_id = first_bucket(env)
    env.engine.fire("sop", bucket_id)
    env.engine.fire("sop", bucket_id)  # the Scheduler's retry: the same shards, dispatched again
    assert len(held.dispatched) == 10
    first = held.run(env.engine.fire_shard)  # each shard runs twice (its twin comes second)
    assert sum(r.sent for r in first) == len(OWNERS)
    again = held.run(env.engine.fire_shard)  # and every one once more, late
    assert sum(r.sent + r.skipped + r.dropped + r.tasks for r in again) == 0
    assert sorted(recipients(env)) == everyone(env)
    assert quota_counts(env) == {1}  # a twin never took a customer's quota a second time
    stored = env.store.list_tasks("sop", userid=None, status=None, due_from=None, due_to=None, limit=50)
    assert Counter(t.status for t in stored) == {"created": 6}  # no empty task from a twin either
    assert env.engine.fire("sop", bucket_id).shards == 0  # a late coordinator finds nothing left, and drains
    assert env.engine.backstop("sop") == []


def test_a_lost_shard_is_fired_by_the_backstop(new_store: Callable[[], Any]) -> None:
    held = HeldShards()
    env = fanned(held, new_store)
    bucket_id = first_bucket(env)
    env.engine.fire("sop", bucket_id)
    lost = held.dispatched[0][2]
    held.run(env.engine.fire_shard, lose=frozenset({lost.index}))
    assert len(recipients(env)) == len(OWNERS) - len(lost.touches)
    env.clock.advance(minutes=5)
    [late] = env.engine.backstop("sop")  # what the lost shard held fits one shard: fired inline, and drained
    assert late.sent == len(lost.touches) and late.shards == 0
    assert sorted(recipients(env)) == everyone(env)
    assert env.engine.backstop("sop") == []


def test_shards_run_concurrently_in_threads_and_carry_hints_to_the_next_step(new_store: Callable[[], Any]) -> None:
    threads = ThreadedShards(workers=4)
    env = fanned(threads, new_store, steps=2)
    bucket_id = first_bucket(env)
    assert env.engine.fire("sop", bucket_id).shards == 5
    reports = threads.wait(timeout=30)
    assert len(reports) == 5 and all(r is not None for r in reports)
    assert sorted(recipients(env)) == everyone(env)
    assert Counter(c.payload["sender"] for c in env.add_calls()) == {"zhang": 2, "li": 2, "wang": 1, "zhao": 1}
    [following] = [
        s["payload"]["bucket_id"] for s in env.scheduler.schedules.values() if ".s2." in s["payload"]["bucket_id"]
    ]
    implied = env.store.touches_in("sop", following)
    owner_of = {f"c{n:05d}": o for n, o in enumerate(OWNERS)}
    assert len(implied) == len(OWNERS) and all(t.executor == owner_of[t.subject.id] for t in implied)


def test_enrollment_gives_the_first_touch_its_executor_hint(new_store: Callable[[], Any]) -> None:
    env = fanned(HeldShards(), new_store)
    touches = env.store.touches_in("sop", first_bucket(env))
    assert sorted(str(t.executor) for t in touches) == sorted(OWNERS)


def touch(n: int, executor: str | None) -> Touch:
    return Touch("b", Subject.customer(f"c{n}"), f"en{n}", "s1", 0, "2026-12-01T09:30:00+08:00", executor=executor)


def test_the_planner_keeps_every_touch_once_within_the_bound() -> None:
    touches = [touch(n, f"u{n % 7}" if n % 3 else None) for n in range(100)]
    shards = plan_shards(touches, 12)
    assert all(len(s.touches) <= 12 for s in shards)
    assert sorted(t.key for s in shards for t in s.touches) == sorted(t.key for t in touches)
    for owner in {t.executor for t in touches if t.executor}:  # 9-10 touches each: never split
        assert sum(1 for s in shards if any(t.executor == owner for t in s.touches)) == 1
    assert [s.index for s in shards] == list(range(len(shards)))
    with pytest.raises(ValueError):
        plan_shards(touches, 0)


def test_a_full_shard_fits_an_asynchronous_invocation() -> None:
    # Longest ids seen: WeCom userids up to 64 characters, 32-character customer and enrollment ids.
    rows = [
        Touch(
            "pl_x.1.s1.202612010130",
            Subject.customer(f"cu_{n:029d}"),
            f"en_{n:029d}",
            "step_welcome_01",
            3,
            "2026-12-01T09:30:00+08:00",
            executor="u" * 64,
        )
        for n in range(DEFAULT_SHARD_SIZE)
    ]
    body = shard_event("t_tenant_000001", "pl_x.1.s1.202612010130", Shard(0, tuple(rows)))
    assert len(body) < MAX_EVENT_BYTES // 2  # about 100 KB even so
    decoded = json.loads(body)
    assert shard_of(decoded["bucket_id"], decoded["shard"]).touches == tuple(rows)
    with pytest.raises(ValueError):
        shard_of("b", {"index": 0, "touches": [["customer", "c1"]]})


class StubLambda:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"StatusCode": 202}


def test_deployed_shards_are_asynchronous_invocations_of_the_fire_function() -> None:
    stub = StubLambda()
    arn = "arn:aws:lambda:cn-north-1:123456789012:function:siyu-prod-fire"
    shard = Shard(2, (touch(1, "zhang"), touch(2, None)))
    LambdaShards(stub, function=arn).dispatch("t1", "b", shard)
    [call] = stub.calls
    assert call["FunctionName"] == arn and call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == shard_payload("t1", "b", shard)


def test_the_fire_entry_point_fires_one_shard_from_its_event(new_store: Callable[[], Any]) -> None:
    """What an asynchronous invocation delivers (the dispatcher's payload) reaches ``fire`` as that one shard."""
    held = HeldShards()
    env = fanned(held, new_store)
    bucket_id = first_bucket(env)
    env.engine.fire("sop", bucket_id)
    shard = held.dispatched[0][2]
    event = json.loads(shard_event("sop", bucket_id, shard))
    bootstrap.override(cast(bootstrap.Services, SimpleNamespace(sop=env.engine)))
    try:
        out = sop_jobs.fire(event)
        with pytest.raises(InvalidError):
            sop_jobs.fire({**event, "shard": {"index": 0, "touches": [["customer", "c1"]]}})
    finally:
        bootstrap.override(None)
    executors = {t.executor for t in shard.touches}
    assert (out["sent"], out["shards"], out["tasks"]) == (len(shard.touches), 0, len(executors))
    assert len(recipients(env)) == len(shard.touches)  # only that shard's customers


def test_the_stage_picks_the_dispatcher_and_the_environment_the_bound() -> None:
    """Deployed, shards are asynchronous invocations of the fire function; locally (the pump), threads bound to the
    engine's fire. The bound is SIYU_FIRE_SHARD_SIZE."""
    assert Settings.from_env({ENV_FIRE_SHARD_SIZE: "50"}).fire_shard_size == 50
    assert Settings.from_env({}).fire_shard_size == DEFAULT_SHARD_SIZE
    deployed = bootstrap._build_real(Settings(stage="dev", fire_shard_size=300)).sop.kernel.fanout
    assert isinstance(deployed.dispatcher, LambdaShards) and deployed.bound == 300
    assert deployed.dispatcher.function == Settings(stage="dev").fire_target_arn
    local = bootstrap._build_real(Settings()).sop
    assert isinstance(local.kernel.fanout.dispatcher, ThreadedShards)
    assert local.kernel.fanout.dispatcher.target == local.fire_shard


def test_the_backstop_leaves_a_large_bucket_to_its_own_shards_for_a_while(new_store: Callable[[], Any]) -> None:
    """A backstop run right after a large bucket fanned out dispatches nothing (its shards may be running); once
    SETTLE has passed it fans out whatever is still scheduled."""
    held = HeldShards()
    env = fanned(held, new_store)
    bucket_id = first_bucket(env)
    assert env.engine.fire("sop", bucket_id).shards == 5
    [early] = env.engine.backstop("sop")  # the shards have not run yet
    assert (early.shards, early.sent) == (0, 0) and len(held.dispatched) == 5
    env.clock.advance(seconds=int(SETTLE.total_seconds()))
    [late] = env.engine.backstop("sop")  # none ran (all lost): the backstop fans the bucket out again
    assert late.shards == 5 and len(held.dispatched) == 10
    held.run(env.engine.fire_shard)
    assert sorted(recipients(env)) == everyone(env)


def test_an_owner_changed_since_queuing_gets_the_touch_in_their_own_task(new_store: Callable[[], Any]) -> None:
    """The hint only partitions: a customer handed from zhang to zhao after enrolling is sent by zhao, from the shard
    their hint put them in (so zhao may have two tasks in this bucket), and still exactly once."""
    shards = InlineShards()
    env = fanned(shards, new_store)
    moved = env.store.get_customer("sop", "c00000")  # zhang's, hinted "zhang"
    assert moved is not None and moved.owner_userid == "zhang"
    env.change(moved, owner_userid="zhao")
    env.engine.fire("sop", first_bucket(env))
    assert sorted(recipients(env)) == everyone(env)
    [call] = [c for c in env.add_calls() if moved.external_userid in c.payload["external_userid"]]
    assert call.payload["sender"] == "zhao"
    assert Counter(c.payload["sender"] for c in env.add_calls()) == {"zhang": 2, "li": 2, "wang": 1, "zhao": 2}


def test_process_shards_give_each_shard_its_deployed_event_in_a_prepared_worker_process() -> None:
    from chalicelib.adapters.shards import ProcessShards
    from tests.fakes import shard_targets

    touches = tuple(
        Touch(
            bucket_id="b1",
            subject=Subject("customer", f"c{i}"),
            enrollment_id=f"e{i}",
            step_id="s1",
            occurrence=0,
            due_at="2026-12-07T12:00:00Z",
            executor="staff1",
        )
        for i in range(3)
    )
    shards = ProcessShards(shard_targets.echo, workers=2, prepare=shard_targets.prepare)
    try:
        workers = shards.warm()
        shards.dispatch("t1", "b1", Shard(0, touches[:2]))
        shards.dispatch("t1", "b1", Shard(1, touches[2:]))
        results = shards.wait()
    finally:
        shards.close()
    assert len(workers) == 2 and os.getpid() not in workers
    assert {r["pid"] for r in results} <= set(workers) and all(r["prepared"] for r in results)
    events = [r["event"] for r in results]
    assert events == [
        json.loads(shard_event("t1", "b1", Shard(i, part))) for i, part in enumerate([touches[:2], touches[2:]])
    ]
    assert [shard_of("b1", e["shard"]).touches for e in events] == [touches[:2], touches[2:]]


def test_a_process_shard_that_raises_is_left_to_the_backstop() -> None:
    from chalicelib.adapters.shards import ProcessShards
    from tests.fakes import shard_targets

    touch = Touch(
        bucket_id="b1",
        subject=Subject("customer", "c1"),
        enrollment_id="e1",
        step_id="s1",
        occurrence=0,
        due_at="2026-12-07T12:00:00Z",
        executor=None,
    )
    shards = ProcessShards(shard_targets.boom, workers=1)
    try:
        shards.dispatch("t1", "b1", Shard(0, (touch,)))
        assert shards.wait() == [None]
    finally:
        shards.close()
