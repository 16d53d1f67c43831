"""change_external_chat kept true: incremental changes on the held version, duplicates that do nothing, gaps and
out-of-order deliveries answered by groupchat/get, re-reads that wait for the repair queue when the budget is spent,
members' history written once and told once, staff kept apart, customers linked.

WeCom is the world in process (devstack/wecom_world/groups.py): each change is made there and delivered as the
callback it sends, and the re-reads are groupchat/get through the real client."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.wecom.callback_xml import build_event_xml, parse_event
from chalicelib.domain.contact_events import event_from_fields
from chalicelib.domain.group_events import UNKNOWN_SCENE, group_event_from_fields
from chalicelib.domain.group_members import EXTERNAL_MEMBER, LEAVE, STAFF_MEMBER
from chalicelib.domain.groups import DISMISSED
from chalicelib.domain.signals import GROUP_JOINED, GROUP_LEFT
from chalicelib.errors import InvalidError
from chalicelib.services.groups.members import member_key
from chalicelib.services.identities import credentials
from tests.unit.conftest import CORP
from tests.unit.groups_g2 import CHAT, GroupEnv, make_group_env

EVENTS = Path(__file__).resolve().parents[1] / "events" / "wecom"
GET = "externalcontact/groupchat/get"
A, B, C = "wmAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1", "wmBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2", "wmCCCCCCCCCCCCCCCCCCCCCCCCCCCCC3"


def test_mem_change_list_parses_in_both_forms() -> None:
    items = build_event_xml({"Event": "change_external_chat", "ChatId": CHAT, "MemChangeList": [A, B]})
    assert b"<Item>" in items
    comma = f"<xml><ChatId>{CHAT}</ChatId><MemChangeList><![CDATA[{A},{B}]]></MemChangeList></xml>".encode()
    for xml in (items, comma):
        fields = parse_event(xml)
        assert fields["MemChangeList"] == [A, B]
        assert group_event_from_fields(fields).members == (A, B)


@pytest.mark.parametrize(
    "name", ["change_external_chat_update_add_member", "change_external_chat_update_add_member_comma"]
)
def test_the_sample_deliveries_in_both_forms_are_one_event(name: str) -> None:
    ev = group_event_from_fields(parse_event((EVENTS / f"{name}.xml").read_bytes()))
    assert ev.membership and ev.complete and ev.join_scene == 3 and ev.mem_change_cnt == 2
    assert ev.members == ("wmAJ2GCAAAXtWyujaWJHDDGi0mAAAA", "wmAJ2GCAAAXtWyujaWJHDDGi0mBBBB")
    assert ev.current_version == "71217227bbd112ecfe3a49c482195cb4" and ev.last_version


def test_an_event_without_a_chat_or_with_a_bad_number_is_invalid() -> None:
    with pytest.raises(InvalidError):
        group_event_from_fields({"Event": "change_external_chat", "ChangeType": "create"})
    with pytest.raises(InvalidError):
        group_event_from_fields({"ChatId": CHAT, "ChangeType": "update", "JoinScene": "three"})


def world_env(store: Any | None = None) -> GroupEnv:
    """A group created in the WeCom world, its create callback delivered (the env's ``chat``)."""
    env = make_group_env(store, world_groups=True)
    created = env.world.group_change(CORP, "create", owner="zhang", name="XX教育·考研数学·3期·01")
    env.chat = created["ChatId"]
    assert env.deliver(created).outcome == "refetched"
    env.heard.clear()
    return env


@pytest.fixture
def env() -> GroupEnv:
    return world_env()


def join(env: GroupEnv, person: str, *, staff: bool = False, config_id: str = "", invitor: str = "") -> dict[str, Any]:
    """``person`` joins the env's group (invited, or through the join way ``config_id``); the add_member callback."""
    userid, external_userid = (person, "") if staff else ("", person)
    chat_id = "" if config_id else env.chat
    events = env.world.group_join(
        CORP, config_id=config_id, chat_id=chat_id, userid=userid, external_userid=external_userid, invitor=invitor
    )
    return events[-1]


def leave(env: GroupEnv, person: str, *, removed: bool = False) -> dict[str, Any]:
    return env.world.group_leave(CORP, env.chat, external_userid=person, removed=removed)


def truth(env: GroupEnv) -> dict[str, Any]:
    return next(g for g in env.world.groups(CORP) if g["chat_id"] == env.chat)


def gets(env: GroupEnv) -> int:
    return len(env.world.calls(GET))


def test_create_reads_the_group_and_its_first_members(env: GroupEnv) -> None:
    state = env.state()
    group = truth(env)
    assert state.name == group["name"] and state.owner == "zhang" and state.member_count == 1
    assert state.member_version == group["member_version"] and state.synced_at > 0
    owner = env.member("zhang")
    assert owner is not None and owner.type == STAFF_MEMBER and owner.in_group


def test_a_join_on_the_held_version_applies_once_and_tells_once(env: GroupEnv) -> None:
    config_id = env.svc.wecom.add_join_way(
        credentials(env.tenant), chat_ids=[env.chat], state="ch_poster", room_base_name="XX", room_base_id=1
    )
    fields = join(env, A, config_id=config_id, invitor="zhang")  # scanned the group QR
    assert env.deliver(fields, seconds=0).outcome == "applied"  # no time for the detail read: still applied
    member = env.member(A)
    assert member is not None and member.in_group and member.join_scene == 3 and member.type == EXTERNAL_MEMBER
    assert env.state().member_count == 2 and env.state().member_version == fields["CurMemVer"]
    assert [(s.type, s.kind, s.member) for s in env.heard] == [(GROUP_JOINED, "3", A)]
    ref = env.heard[0].ref
    assert env.deliver(fields).outcome == "duplicate"
    assert len(env.heard) == 1 and env.state().member_count == 2
    env.drain()  # the detail read the callback left to the repair queue: the join way and inviter
    member = env.member(A)
    assert member is not None and member.state == "ch_poster" and member.invitor == "zhang" and member.join_scene == 3
    assert len(env.heard) == 1 and ref and env.chat in ref
    assert len(env.store.member_changes("unit", env.chat, member_key(env.tenant, A))) == 1


def test_a_leave_closes_the_record_and_keeps_the_history(env: GroupEnv) -> None:
    env.deliver(join(env, A))
    env.deliver(join(env, B))
    assert env.deliver(leave(env, A, removed=True)).outcome == "applied"
    member = env.member(A)
    assert member is not None and not member.in_group and member.quit_scene == 1 and member.left_time > 0
    assert env.in_group() == {"zhang", B} and env.state().member_count == 2
    history = env.store.member_changes("unit", env.chat, member_key(env.tenant, A))
    assert [c.kind for c in history] == ["join", LEAVE]
    assert [s.type for s in env.heard][-1] == GROUP_LEFT and env.heard[-1].kind == "1"


def test_a_gap_re_reads_the_group(env: GroupEnv) -> None:
    join(env, A)  # this delivery is lost
    before = gets(env)
    assert env.deliver(join(env, B)).outcome == "refetched"
    assert gets(env) == before + 1
    assert env.in_group() == {"zhang", A, B} and env.state().member_count == 3
    missed = env.member(A)
    assert missed is not None and missed.join_scene == UNKNOWN_SCENE  # found by the read: scene unknown


def test_out_of_order_deliveries_end_where_in_order_ones_do(env: GroupEnv) -> None:
    first = join(env, A)
    second = join(env, B)
    third = leave(env, A)
    for fields in (third, first, second, third, first):
        assert env.deliver(fields).outcome in ("refetched", "duplicate", "applied")
    assert env.in_group() == {"zhang", B} and env.state().member_count == 2
    assert env.state().member_version == truth(env)["member_version"]


def test_a_duplicate_of_a_version_applied_lately_costs_no_read(env: GroupEnv) -> None:
    first = join(env, A)
    env.deliver(first, seconds=0)
    env.deliver(leave(env, A), seconds=0)
    before = gets(env)
    assert env.deliver(first).outcome == "duplicate" and gets(env) == before


def test_a_short_member_list_is_a_gap(env: GroupEnv) -> None:
    join(env, A)  # lost
    fields = join(env, B)
    fields["MemChangeList"] = []  # MemChangeCnt says 1
    assert env.deliver(fields).outcome == "refetched" and env.in_group() == {"zhang", A, B}


def test_a_re_read_without_time_or_without_wecom_waits_in_the_repair_queue(env: GroupEnv) -> None:
    join(env, A)  # lost
    assert env.deliver(join(env, B), seconds=0.1).outcome == "deferred"
    env.world.inject(GET, -1, times=4)  # WeCom busy through the client's 3 retries
    renamed = env.world.group_change(CORP, "change_name", chat_id=env.chat, name="新名字")
    result = env.deliver(renamed)
    assert result.outcome == "deferred" and result.reason == "wecom_busy"
    assert env.in_group() == {"zhang"}
    env.drain()
    assert env.in_group() == {"zhang", A, B} and env.state().name == "新名字" and not env.queue.dead_letters


@pytest.mark.parametrize(
    "detail, values",
    [("change_owner", {"owner": "li"}), ("change_name", {"name": "改名"}), ("change_notice", {"notice": "群公告"})],
)
def test_owner_name_and_notice_changes_are_read_from_wecom(env: GroupEnv, detail: str, values: dict[str, str]) -> None:
    env.deliver(join(env, "li", staff=True))  # a new owner must be staff in the group
    fields = env.world.group_change(
        CORP,
        detail,
        chat_id=env.chat,
        owner=values.get("owner", ""),
        name=values.get("name"),
        notice=values.get("notice"),
    )
    assert env.deliver(fields).outcome == "refetched"
    for name, value in values.items():
        assert getattr(env.state(), name) == value


def test_a_dismissed_group_stays_dismissed(env: GroupEnv) -> None:
    late = join(env, A)
    assert env.deliver(env.world.group_change(CORP, "dismiss", chat_id=env.chat)).outcome == "applied"
    assert env.state().status == DISMISSED
    assert env.deliver(late).outcome == "ignored" and env.state().status == DISMISSED


def test_staff_are_kept_apart_from_customers(env: GroupEnv) -> None:
    env.deliver(join(env, "zhang2", staff=True), seconds=0)  # staff the tenant never registered
    env.deliver(join(env, A), seconds=0)
    guessed = env.member("zhang2")
    assert guessed is not None and guessed.type == EXTERNAL_MEMBER  # the callback does not say who is staff
    env.drain()  # groupchat/get does
    staff, customer = env.member("zhang2"), env.member(A)
    assert staff is not None and staff.type == STAFF_MEMBER and staff.customer_id == ""
    assert customer is not None and customer.type == EXTERNAL_MEMBER


def test_a_member_who_is_a_customer_links_now_or_at_the_next_read(env: GroupEnv) -> None:
    known = env.world.event(env.tenant.corp_id, "add_external_contact", now=env.clock.epoch(), userid="zhang",
                            external_userid=C, State="")  # fmt: skip
    customer_id = env.svc.intake.handle(env.tenant, event_from_fields(known)).customer_id
    env.deliver(join(env, C), seconds=0)
    env.deliver(join(env, A), seconds=0)
    member = env.member(C)
    assert member is not None and member.customer_id == customer_id
    history = env.store.member_changes("unit", env.chat, member_key(env.tenant, C))
    assert history[0].customer_id == customer_id
    later = env.member(A)
    assert later is not None and later.customer_id == ""  # no customer yet
    added = env.world.event(env.tenant.corp_id, "add_external_contact", now=env.clock.epoch(), userid="zhang",
                            external_userid=A, State="")  # fmt: skip
    cid_a = env.svc.intake.handle(env.tenant, event_from_fields(added)).customer_id
    env.drain()  # the next read of the group (here the join's detail read; else the daily sync) links them
    later = env.member(A)
    assert later is not None and later.customer_id == cid_a


def test_records_that_contradict_the_version_chain_are_settled_by_a_read(env: GroupEnv) -> None:
    env.deliver(join(env, A), seconds=0)
    member = env.member(A)
    assert member is not None
    env.store.put_members("unit", env.chat, [replace(member, in_group=False)])  # as if a leave had been seen
    assert env.deliver(leave(env, A)).outcome == "refetched"
    assert env.in_group() == {"zhang"} and env.state().member_count == 1


def test_concurrent_deliveries_of_joins_tell_each_once(env: GroupEnv) -> None:
    first, second = join(env, A), join(env, B)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda n: env.deliver(first if n % 2 else second).outcome, range(8)))
    assert "applied" in outcomes or "refetched" in outcomes
    assert sorted(str(s.member) for s in env.heard) == [A, B]  # each join told once, however many raced
    assert env.state().member_count == 3 and env.in_group() == {"zhang", A, B}
