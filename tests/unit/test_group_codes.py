"""Group live codes: creation through add_join_way, rotation at the threshold, and rotation effectively once under
concurrent joins (threads against the fake store and a fake WeCom: exactly one update_join_way)."""

from __future__ import annotations

import threading
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.domain.group_codes import PUSH_GRACE_SECONDS, GroupCode, needs_rotation, rotated
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.domain.groups import DISMISSED, GroupState
from chalicelib.domain.signals import GROUP_JOINED, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, UpstreamError
from chalicelib.services.group_codes import GroupCodeService
from chalicelib.services.signals import SignalBus
from tests.fakes import FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.fakes.wecom_groups_g5 import FakeJoinWays

TID = "rooms"
TENANT = Tenant(TID, "群运营", "wwroom", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "")
BODY: dict[str, Any] = {
    "name": "考研数学冲刺3期",
    "positioning": "考研数学冲刺",
    "cohort": "3",
    "chat_ids": ["wr1", "wr2"],
}


class Env:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.wecom = FakeJoinWays()
        self.clock = FixedClock()
        self.svc = GroupCodeService(self.store, self.wecom, self.clock, SeqIds())
        self.store.put_group_naming(TID, NamingTemplate(institution="XX教育"))
        for n in range(1, 8):
            self.group(f"wr{n}", f"XX教育·考研数学冲刺·3期·{n:02d}", members=100)

    def group(self, chat_id: str, name: str = "", *, members: int, status: str = "active") -> None:
        current = self.store.get_group(TID, chat_id)
        rev = current.state.rev if current else 0
        state = GroupState(name=name or (current.state.name if current else ""), member_count=members, status=status)
        assert self.store.save_group_state(TID, chat_id, state, expected_rev=rev)

    def join(self, chat_id: str, members: int) -> None:
        """A member joined: the group's state says so, then GROUP_JOINED is heard."""
        self.group(chat_id, members=members)
        self.svc.on_signal(TENANT, chat_id, Signal(GROUP_JOINED, self.clock.now(), chat_id=chat_id, member="wm1"))

    def code(self, code_id: str) -> GroupCode:
        code = self.store.get_group_code(TID, code_id)
        assert code is not None
        return code


@pytest.fixture
def env() -> Env:
    return Env()


def test_creating_a_code_makes_a_scene_2_join_way_named_by_the_template(env: Env) -> None:
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3"], "rotate_at": 480})
    [add] = env.wecom.named("add_join_way")
    assert add == {
        "chat_ids": ["wr1", "wr2"],
        "state": code.code_id,
        "room_base_name": "XX教育·考研数学冲刺·3期·",
        "room_base_id": 4,  # after the highest number among its groups (wr3: 03)
        "auto_create_room": True,
        "scene": 2,
        "remark": "考研数学冲刺3期",
    }
    assert len(code.state) <= 30 and code.qr_code.endswith(f"{code.config_id}.png") and code.cohort == "3期"
    assert env.code(code.code_id) == code
    assert env.store.group_code_of_chat(TID, "wr3") == code.code_id
    assert env.svc.attribution(TID, code.state) is not None
    assert env.svc.attribution(TID, code.state).channel_id is None  # type: ignore[union-attr]  # counts toward itself
    assert env.svc.attribution(TID, "ch_someone_else") is None


def test_a_code_counts_toward_its_channel(env: Env) -> None:
    from chalicelib.domain.channels import Channel

    env.store.create_channel(TID, Channel(channel_id="ch_poster", name="海报", source="offline_poster"))
    code = env.svc.create(TENANT, {**BODY, "channel_id": "ch_poster"})
    attribution = env.svc.attribution(TID, code.state)
    assert attribution is not None and (attribution.code_id, attribution.channel_id) == (code.code_id, "ch_poster")
    with pytest.raises(InvalidError, match="channel ch_nope does not exist"):
        env.svc.create(TENANT, {**BODY, "chat_ids": ["wr5"], "channel_id": "ch_nope"})


def test_bad_codes_are_refused_before_wecom_is_called(env: Env) -> None:
    env.group("wr6", members=10, status=DISMISSED)
    with pytest.raises(InvalidError, match="wr6, wr9"):
        env.svc.create(TENANT, {**BODY, "chat_ids": ["wr1", "wr6"], "queue": ["wr9"]})
    with pytest.raises(InvalidError, match="rotate_at"):
        env.svc.create(TENANT, {**BODY, "rotate_at": 501})
    with pytest.raises(InvalidError, match="positioning"):
        env.svc.create(TENANT, {**BODY, "positioning": "考研·数学"})
    env.svc.create(TENANT, BODY)
    with pytest.raises(ConflictError, match="wr2"):
        env.svc.create(TENANT, {**BODY, "chat_ids": ["wr2", "wr3"]})
    assert (
        len(env.wecom.named("add_join_way")) == 1
        and len(env.store.list_group_codes(TID, cursor=None, limit=9).items) == 1
    )
    env.store.put_group_naming(TID, NamingTemplate())
    with pytest.raises(ConflictError, match="naming template"):
        env.svc.create(TENANT, {**BODY, "chat_ids": ["wr4"]})


def test_a_join_way_is_removed_again_when_the_code_cannot_be_stored(env: Env, monkeypatch: Any) -> None:
    def refuse(tenant_id: str, code: GroupCode) -> None:
        raise ConflictError("taken meanwhile")

    monkeypatch.setattr(env.store, "create_group_code", refuse)
    with pytest.raises(ConflictError):
        env.svc.create(TENANT, BODY)
    assert [name for name, _ in env.wecom.calls] == ["add_join_way", "get_join_way", "del_join_way"]
    assert env.wecom.ways == {}


def test_a_group_at_the_threshold_is_swapped_for_the_next_waiting_one(env: Env) -> None:
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3", "wr4"], "rotate_at": 480})
    env.join("wr1", 479)
    assert env.wecom.named("update_join_way") == [] and env.code(code.code_id).rotations == 0
    env.join("wr1", 480)
    [update] = env.wecom.named("update_join_way")
    assert update["chat_ids"] == ["wr3", "wr2"] and update["config_id"] == code.config_id
    assert (update["state"], update["scene"], update["auto_create_room"]) == (code.state, 2, True)
    after = env.code(code.code_id)
    assert (after.chat_ids, after.queue, after.retired, after.rotations) == (("wr3", "wr2"), ("wr4",), ("wr1",), 1)
    assert after.pending_since == 0  # pushed: in sync with WeCom
    assert env.wecom.ways[code.config_id].chat_ids == ("wr3", "wr2")
    env.join("wr1", 481)  # a late join into the retired group changes nothing
    env.join("wr5", 499)  # nor does a join into a group on no code
    assert len(env.wecom.named("update_join_way")) == 1


def test_without_a_waiting_group_the_full_one_is_dropped_and_the_last_one_stays(env: Env) -> None:
    code = env.svc.create(TENANT, BODY)  # rotate_at: the member limit, 500
    env.join("wr2", 500)
    assert env.wecom.named("update_join_way")[-1]["chat_ids"] == ["wr1"]
    env.join("wr1", 500)  # the last group stays on the code; WeCom's auto_create_room opens the next room
    after = env.code(code.code_id)
    assert (after.chat_ids, after.full, after.retired) == (("wr1",), ("wr1",), ("wr2",))
    assert len(env.wecom.named("update_join_way")) == 2
    env.join("wr1", 500)  # already marked full: no further change
    assert len(env.wecom.named("update_join_way")) == 2 and env.code(code.code_id).rotations == 2


def test_a_failed_push_is_pushed_again_by_a_later_join_after_the_grace(env: Env) -> None:
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3"], "rotate_at": 100})
    env.wecom.fail_updates = 1
    with pytest.raises(UpstreamError):
        env.join("wr1", 100)
    stuck = env.code(code.code_id)
    assert stuck.chat_ids == ("wr3", "wr2") and stuck.pending_since > 0
    env.join("wr2", 50)  # too soon: whoever rotated may still be pushing
    assert len(env.wecom.named("update_join_way")) == 1
    env.clock.advance(seconds=PUSH_GRACE_SECONDS)
    env.join("wr2", 51)
    assert [u["chat_ids"] for u in env.wecom.named("update_join_way")] == [["wr3", "wr2"], ["wr3", "wr2"]]
    assert env.code(code.code_id).pending_since == 0 and env.code(code.code_id).rotations == 1
    env.clock.advance(seconds=PUSH_GRACE_SECONDS)
    env.join("wr2", 52)
    assert len(env.wecom.named("update_join_way")) == 2  # in sync: nothing to push


def test_rotation_through_the_signal_bus(env: Env) -> None:
    bus = SignalBus()
    others: Any = SimpleNamespace(on_signal=lambda *args: None)
    wiring.subscribe(bus, sop=others, silence=others, triggers=others, group_codes=env.svc)
    assert bus.subscribers(GROUP_JOINED) == ["group_codes.rotation"]
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3"], "rotate_at": 200})
    env.group("wr2", members=200)
    bus.publish(TENANT, "wr2", Signal(GROUP_JOINED, env.clock.now(), kind="3", chat_id="wr2", member="wm9", ref="r1"))
    assert env.code(code.code_id).chat_ids == ("wr1", "wr3")


def test_two_joins_that_both_see_the_threshold_make_one_change(env: Env) -> None:
    """Both joins read the code before either writes (a barrier holds them there): one write wins and pushes; the
    loser re-reads, finds the group already dropped, and leaves WeCom alone."""
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3", "wr4"], "rotate_at": 300})
    env.group("wr1", members=300)
    barrier = threading.Barrier(2, timeout=5)
    save = env.store.save_group_code
    held: set[int] = set()

    def racing_save(tenant_id: str, changed: GroupCode, *, expected_rev: int) -> bool:
        me = threading.get_ident()
        if me not in held:  # each thread's first write waits until both have read the code
            held.add(me)
            barrier.wait()
        return save(tenant_id, changed, expected_rev=expected_rev)

    env.store.save_group_code = racing_save  # type: ignore[method-assign,assignment]
    results: list[bool] = []
    errors: list[BaseException] = []

    def join() -> None:
        try:
            results.append(env.svc.rotate_if_full(TENANT, code.code_id, "wr1", 300))
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=join) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(results) == [False, True]
    [update] = env.wecom.named("update_join_way")
    assert update["chat_ids"] == ["wr3", "wr2"]
    after = env.code(code.code_id)
    assert (after.rotations, after.queue, after.retired) == (1, ("wr4",), ("wr1",))


def test_many_concurrent_joins_into_a_full_group_rotate_it_once(env: Env) -> None:
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3"], "rotate_at": 400})
    env.group("wr2", members=400)
    start = threading.Barrier(12, timeout=5)

    def join() -> None:
        start.wait()
        env.svc.on_signal(TENANT, "wr2", Signal(GROUP_JOINED, env.clock.now(), chat_id="wr2"))

    threads = [threading.Thread(target=join) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [u["chat_ids"] for u in env.wecom.named("update_join_way")] == [["wr1", "wr3"]]
    assert env.code(code.code_id).rotations == 1


def test_rotation_keeps_the_order_and_marks_the_change_pending() -> None:
    code = GroupCode("gc_1", "n", "XX·", 1, chat_ids=("a", "b", "c"), queue=("d",), rotate_at=10)
    assert not needs_rotation(code, "b", 9) and needs_rotation(code, "b", 10) and not needs_rotation(code, "z", 99)
    after = rotated(code, "b", now=1000, updated_at="t")
    assert (after.chat_ids, after.queue, after.retired, after.pending_since) == (("a", "d", "c"), (), ("b",), 1000)
    assert set(after.chats) == set(code.chats)  # the links never change on rotation
    last = rotated(replace(code, chat_ids=("a",), queue=()), "a", now=1, updated_at="t")
    assert (last.chat_ids, last.full) == (("a",), ("a",)) and not needs_rotation(last, "a", 500)


def test_groups_queued_later_take_the_next_full_groups_place(env: Env) -> None:
    code = env.svc.create(TENANT, {**BODY, "chat_ids": ["wr1"], "rotate_at": 200})
    updated = env.svc.update(TENANT, code.code_id, {"rev": 1, "queue": ["wr6", "wr7"]})
    assert updated.rev == 2 and env.store.group_code_of_chat(TID, "wr6") == code.code_id
    env.join("wr1", 200)
    assert env.wecom.named("update_join_way")[-1]["chat_ids"] == ["wr6"]
    assert env.code(code.code_id).rev == 4  # the rotation, then the push marked in sync
    with pytest.raises(InvalidError, match="already full"):
        env.svc.update(TENANT, code.code_id, {"rev": 4, "queue": ["wr1"]})
    with pytest.raises(ConflictError, match="rev 4, not 2"):
        env.svc.update(TENANT, code.code_id, {"rev": 2, "rotate_at": 300})
    env.svc.update(TENANT, code.code_id, {"rev": 4, "queue": []})
    assert env.store.group_code_of_chat(TID, "wr7") is None  # no longer waiting: free for another code
    assert env.store.group_code_of_chat(TID, "wr1") == code.code_id  # retired groups stay linked


def test_an_edit_pushes_a_chat_list_wecom_has_not_taken_yet(env: Env) -> None:
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3"], "rotate_at": 100})
    env.wecom.fail_updates = 1
    with pytest.raises(UpstreamError):
        env.join("wr1", 100)
    stuck = env.code(code.code_id)
    assert stuck.pending_since > 0
    edited = env.svc.update(TENANT, code.code_id, {"rev": stuck.rev, "rotate_at": 100})
    assert [u["chat_ids"] for u in env.wecom.named("update_join_way")] == [["wr3", "wr2"], ["wr3", "wr2"]]
    assert edited.pending_since == 0 and env.code(code.code_id) == edited
    env.svc.update(TENANT, code.code_id, {"rev": edited.rev, "rotate_at": 120})
    assert len(env.wecom.named("update_join_way")) == 2  # in sync: an edit does not reach WeCom


def test_a_rotation_keeps_the_room_number_wecom_counted_up(env: Env) -> None:
    """WeCom counts the way's room_base_id up as auto_create_room opens rooms; the rotation's push (which takes the
    whole configuration) keeps WeCom's count, or the next room would repeat a name."""
    code = env.svc.create(TENANT, {**BODY, "queue": ["wr3"], "rotate_at": 480})
    opened = env.wecom.ways[code.config_id]
    env.wecom.ways[code.config_id] = replace(opened, room_base_id=code.room_base_id + 2)  # two rooms opened
    env.join("wr1", 480)
    [update] = env.wecom.named("update_join_way")
    assert update["room_base_id"] == code.room_base_id + 2
