"""Group tasks after a transient error or a lost answer (issue 9 §1, §2 for group subjects), on the fake store and the
WeCom world playing group mass messages: a 45009 leaves the owner's group task ``retrying`` until WeCom's block is
over and it is delivered once; a group task whose answer was lost is adopted by its chat ids (WeCom's send results
carry ``chat_id`` for a group task), never by the same owner's other group task of the same text.

The stack is the crash-point test's group world (seven groups of zhang and li in one bucket, two chats a task).
"""

from __future__ import annotations

import pytest

from chalicelib.domain.sop import RETRYING, SENT
from chalicelib.services.sop.delivery import UNREACHABLE
from tests.unit.test_sop_crash_points import ADD, OWNERS, World, _check, _world


def _chats(world: World, owner: str) -> list[str]:
    """The owner's chats in the order the fire puts them into tasks (by touch key: by chat id)."""
    return sorted(chat for chat, who in zip(world.subjects, OWNERS, strict=True) if who == owner)


def _open(world: World) -> list[str]:
    every = world.store.list_tasks(world.tenant_id, userid=None, status=None, due_from=None, due_to=None, limit=99)
    return [t.task_id for t in every if t.status in ("claimed", RETRYING)]


def _group_tasks(world: World) -> list[set[str]]:
    """The chats of each group task WeCom holds with the plan's text."""
    tasks = world.wecom.corp(world.corp_id).tasks.values()
    return [{r.external_userid for r in t.recipients} for t in tasks if t.text == world.text and t.chat_type == "group"]


@pytest.mark.parametrize("times", [1, 5])
def test_a_45009_on_a_group_task_leaves_it_retrying_and_it_is_delivered_once_after_the_block(
    monkeypatch: pytest.MonkeyPatch, times: int
) -> None:
    world = _world(monkeypatch, "groups")
    world.wecom.inject(ADD, 45009, times)
    engine = world.engine()
    report = engine.fire(world.tenant_id, world.bucket_id)
    assert report.failed == 0 and report.retrying > 0 and report.sent + report.retrying == len(OWNERS)
    retrying = [world.store.get_task(world.tenant_id, t) for t in _open(world)]
    assert retrying and all(t is not None and t.status == RETRYING for t in retrying)
    first = retrying[0]
    assert first is not None and first.reason == "wecom_45009" and first.recipient_kind == "group"
    # Its touches stay attached to it (sent, claimed by the retrying task), in no WeCom task yet.
    claimed = [
        t for t in world.store.touches_in(world.tenant_id, world.bucket_id, state=None) if t.task_id == first.task_id
    ]
    assert {t.state for t in claimed} == {SENT} and {t.subject.id for t in claimed} == set(first.recipients)
    assert not [chats for chats in _group_tasks(world) if chats & set(first.recipients)]
    world.clock.advance(seconds=30)  # within WeCom's 60 s block: nothing is tried
    engine.backstop(world.tenant_id)
    assert len(world.wecom.calls(ADD)) == 4  # the fire's four calls: none retried within the block
    # Then the backstop every 5 minutes; 45009 again means WeCom's 60-minute block is waited out.
    took = 0
    while _open(world) and took < 200:
        world.clock.advance(minutes=5)
        took += 5
        engine.backstop(world.tenant_id)
    assert not _open(world) and took <= (5 if times == 1 else 70), took
    _check(world, f"45009 ×{times}")  # each chat in exactly one WeCom group task of its owner
    calls = len(world.wecom.calls(ADD))
    world.clock.advance(minutes=5)
    engine.backstop(world.tenant_id)
    assert len(world.wecom.calls(ADD)) == calls  # delivered once: nothing is sent again


def test_a_group_tasks_delayed_schedule_retries_it_once_its_block_is_over(monkeypatch: pytest.MonkeyPatch) -> None:
    world = _world(monkeypatch, "groups")
    world.wecom.inject(ADD, 45009, 1)
    engine = world.engine()
    assert engine.fire(world.tenant_id, world.bucket_id).retrying == 2
    [schedule] = [s for s in world.scheduler.schedules.values() if "task_id" in s["payload"]]
    task_id = schedule["payload"]["task_id"]
    assert engine.retry_task(world.tenant_id, task_id)["outcome"] is None  # too early: WeCom still blocks us
    world.clock.advance(seconds=61)
    assert engine.retry_task(world.tenant_id, task_id) == {"task_id": task_id, "outcome": "created", "touches": 2}
    assert engine.retry_task(world.tenant_id, task_id)["outcome"] is None  # the schedule again: no second task
    _check(world, "the delayed retry")


def test_a_lost_group_task_is_adopted_by_its_chat_ids_not_by_the_owners_other_task_of_the_same_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = _world(monkeypatch, "groups")
    zhang = _chats(world, "zhang")
    # Siyu has not heard yet that zhang's first group was dismissed: WeCom leaves it out (fail_list).
    world.wecom.group_change(world.corp_id, "dismiss", chat_id=zhang[0], now=world.clock.epoch())
    world.lose = {2}  # li's task, then zhang's first: WeCom creates it, the answer is lost
    report = world.engine().fire(world.tenant_id, world.bucket_id)
    assert (report.sent, report.retrying, report.tasks) == (5, 2, 4)
    [lost_id] = _open(world)
    lost = world.store.get_task(world.tenant_id, lost_id)
    assert lost is not None and lost.reason == UNREACHABLE and set(lost.recipients) == set(zhang[:2])
    # WeCom holds zhang's lost task (the chat it could reach) and zhang's two others, all of the same text.
    assert sorted(map(sorted, _group_tasks(world))) == sorted(
        [sorted(_chats(world, "li")), [zhang[1]], zhang[2:4], zhang[4:]]
    )
    wecom_task = next(
        t for t in world.wecom.corp(world.corp_id).tasks.values() if t.recipients[0].external_userid == zhang[1]
    )
    world.lose = set()
    world.clock.advance(minutes=1)
    world.engine().backstop(world.tenant_id)
    adopted = world.store.get_task(world.tenant_id, lost_id)
    assert adopted is not None and adopted.status == "created" and adopted.msgid == wecom_task.msgid
    assert adopted.results == {"fail_list": 1} and set(adopted.recipients) == set(zhang[:2])
    assert len(world.wecom.calls(ADD)) == 4  # adopted, not sent again
    assert all(len([c for c in _group_tasks(world) if chat in c]) <= 1 for chat in world.subjects)
