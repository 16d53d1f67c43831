"""WeComClient's customer-group calls (groupchat/list and get, the join ways) against the WeCom world in process
(WorldTransport): the mapping onto the port's data, paging by cursor, the documented limits checked before a call
is spent, and WeCom's answers for what only the world can judge (chats of another corp, dismissed groups)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.group_ports import EXTERNAL_MEMBER, JOIN_INVITED, JOIN_QR, STAFF_MEMBER, GroupChatMember
from chalicelib.ports import Message, WeComCredentials
from devstack.wecom_world import SEND_NOT_FRIEND, SEND_OK, WeComWorld, WorldTransport

CORP = "wwgroupclient001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s1")
OTHER = WeComCredentials(tenant_id="t2", corp_id="wwgroupclient002", secret="s2")
T0 = 1_780_000_000


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> WeComWorld:
    return WeComWorld(clock=clock, max_chat_members=4)


@pytest.fixture
def client(world: WeComWorld, clock: Clock) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=clock)


def seed(
    world: WeComWorld, name: str = "考研数学冲刺·3期·01", owner: str = "zhang", members: tuple[str, ...] = ()
) -> str:
    return str(world.seed_group(CORP, owner=owner, name=name, members=members)["chat_id"])


def join_way(client: WeComClient, chat_ids: list[str], **extra: Any) -> str:
    fields: dict[str, Any] = {"state": "gc_math3", "room_base_name": "考研数学冲刺·3期·", "room_base_id": 2, **extra}
    return client.add_join_way(CREDS, chat_ids=chat_ids, **fields)


# --- groupchat/list and groupchat/get ------------------------------------------------------------------------------


def test_list_pages_by_cursor_through_every_live_group(client: WeComClient, world: WeComWorld) -> None:
    made = [seed(world, name=f"群{i}") for i in range(7)]
    world.group_change(CORP, "dismiss", chat_id=made[3])
    seen: list[tuple[str, int]] = []
    cursor, pages = "", 0
    while True:
        page = client.list_group_chats(CREDS, cursor=cursor, limit=2)
        seen.extend(page.chats)
        pages += 1
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == [(c, 0) for c in made if c != made[3]]  # oldest first, the dismissed one gone
    assert pages == 3
    assert world.calls("externalcontact/groupchat/list")[0].payload == {"status_filter": 0, "limit": 2}


def test_paging_is_stable_while_groups_come_and_go(client: WeComClient, world: WeComWorld) -> None:
    made = [seed(world, name=f"群{i}") for i in range(4)]
    first = client.list_group_chats(CREDS, limit=2)
    world.group_change(CORP, "dismiss", chat_id=made[0])  # an offset cursor would now skip made[2]
    newer = seed(world, name="新群")
    second = client.list_group_chats(CREDS, cursor=first.next_cursor, limit=2)
    third = client.list_group_chats(CREDS, cursor=second.next_cursor, limit=2)
    assert [c for c, _ in first.chats + second.chats + third.chats] == [*made, newer]
    assert third.next_cursor == ""


def test_list_filters_by_owner(client: WeComClient, world: WeComWorld) -> None:
    mine, theirs = seed(world, owner="zhang"), seed(world, owner="li")
    assert client.list_group_chats(CREDS, owners=["li"]).chats == ((theirs, 0),)
    assert [c for c, _ in client.list_group_chats(CREDS, owners=["zhang", "li"]).chats] == [mine, theirs]
    assert world.calls("externalcontact/groupchat/list")[0].payload["owner_filter"] == {"userid_list": ["li"]}


def test_get_maps_members_admins_and_version(client: WeComClient, world: WeComWorld, clock: Clock) -> None:
    world.register_contact(CORP, "wmParent0001", name="王妈妈", unionid="oUnion1")
    chat_id = str(
        world.seed_group(CORP, owner="zhang", name="考研群", members=["wmParent0001"], notice="群规", admins=["zhang"])[
            "chat_id"
        ]
    )
    config_id = join_way(client, [chat_id])
    clock.now += 60
    [event] = world.group_join(CORP, config_id=config_id, external_userid="wmParent0002")
    detail = client.get_group_chat(CREDS, chat_id)
    assert (detail.chat_id, detail.name, detail.owner, detail.notice) == (chat_id, "考研群", "zhang", "群规")
    assert detail.create_time == T0 and detail.admins == ("zhang",)
    assert detail.member_version == event["CurMemVer"]  # groupchat/get agrees with the callback
    owner, parent, joined = detail.members
    assert owner == GroupChatMember("zhang", STAFF_MEMBER, T0, JOIN_INVITED, name="zhang")
    assert parent == GroupChatMember(
        "wmParent0001", EXTERNAL_MEMBER, T0, JOIN_INVITED, invitor="zhang", unionid="oUnion1", name="王妈妈"
    )
    assert (joined.join_scene, joined.state, joined.join_time, joined.invitor) == (JOIN_QR, "gc_math3", T0 + 60, "")
    assert world.calls("externalcontact/groupchat/get")[0].payload == {"chat_id": chat_id, "need_name": 1}


def test_dismissed_and_foreign_groups_are_not_found(client: WeComClient, world: WeComWorld) -> None:
    chat_id = seed(world)
    with pytest.raises(errors.WeComInvalidArgumentError) as foreign:
        client.get_group_chat(OTHER, chat_id)  # tenants never meet
    world.group_change(CORP, "dismiss", chat_id=chat_id)
    with pytest.raises(errors.WeComInvalidArgumentError) as dismissed:
        client.get_group_chat(CREDS, chat_id)
    assert foreign.value.errcode == dismissed.value.errcode == 40050  # chatid不存在


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 0}, {"limit": 1001}, {"status_filter": 4}, {"owners": []}, {"owners": [f"u{i}" for i in range(101)]}],
)
def test_list_limits_are_checked_before_any_call(client: WeComClient, world: WeComWorld, kwargs: Any) -> None:
    with pytest.raises(errors.InvalidError):
        client.list_group_chats(CREDS, **kwargs)
    with pytest.raises(errors.InvalidError):
        client.get_group_chat(CREDS, "")
    assert world.calls() == []


def test_list_limit_is_inclusive_and_a_bad_cursor_is_refused(client: WeComClient, world: WeComWorld) -> None:
    seed(world)
    assert len(client.list_group_chats(CREDS, limit=1000).chats) == 1
    with pytest.raises(errors.WeComInvalidArgumentError) as bad:
        client.list_group_chats(CREDS, cursor="not-a-cursor")
    assert bad.value.errcode == 50100


# --- join ways ------------------------------------------------------------------------------------------------------


def test_join_way_lifecycle(client: WeComClient, world: WeComWorld) -> None:
    first, second = seed(world), seed(world, name="考研数学冲刺·3期·02")
    config_id = join_way(client, [first], remark="海报A")
    way = client.get_join_way(CREDS, config_id)
    assert way.chat_ids == (first,) and way.scene == 2 and way.auto_create_room
    assert (way.state, way.room_base_name, way.room_base_id, way.remark) == (
        "gc_math3",
        "考研数学冲刺·3期·",
        2,
        "海报A",
    )
    assert way.qr_code.startswith("http://sandbox/qr/") and config_id in way.qr_code
    client.update_join_way(
        CREDS,
        config_id=config_id,
        chat_ids=[second, first],
        state="gc_math3b",
        room_base_name="冲刺群",
        room_base_id=7,
        auto_create_room=False,
    )
    way = client.get_join_way(CREDS, config_id)
    assert (way.chat_ids, way.state, way.room_base_name, way.room_base_id) == (
        (second, first),
        "gc_math3b",
        "冲刺群",
        7,
    )
    assert not way.auto_create_room and way.remark == ""  # update replaces the whole configuration
    add = world.calls("externalcontact/groupchat/add_join_way")[0].payload
    assert add == {
        "scene": 2,
        "remark": "海报A",
        "auto_create_room": 1,
        "room_base_name": "考研数学冲刺·3期·",
        "room_base_id": 2,
        "chat_id_list": [first],
        "state": "gc_math3",
    }
    client.del_join_way(CREDS, config_id)
    with pytest.raises(errors.WeComInvalidArgumentError) as gone:
        client.get_join_way(CREDS, config_id)
    assert gone.value.errcode == 41044


@pytest.mark.parametrize(
    "kwargs",
    [
        {"chat_ids": []},
        {"chat_ids": [f"wrchat{i}" for i in range(6)]},
        {"chat_ids": ["wrchat1", "wrchat1"]},
        {"state": "s" * 31},
        {"room_base_name": "群" * 41},
        {"remark": "r" * 31},
        {"scene": 3},
        {"room_base_id": -1},
    ],
)
def test_join_way_limits_are_checked_before_any_call(client: WeComClient, world: WeComWorld, kwargs: Any) -> None:
    fields: dict[str, Any] = {"chat_ids": ["wrchat1"], "state": "gc", "room_base_name": "群", "room_base_id": 1}
    fields.update(kwargs)
    with pytest.raises(errors.InvalidError):
        client.add_join_way(CREDS, **fields)
    with pytest.raises(errors.InvalidError):
        client.update_join_way(CREDS, config_id="cfg", **fields)
    assert world.calls() == []


def test_join_way_limits_are_inclusive(client: WeComClient, world: WeComWorld) -> None:
    chats = [seed(world, name=f"群{i}") for i in range(5)]
    config_id = client.add_join_way(
        CREDS, chat_ids=chats, state="s" * 30, room_base_name="群" * 40, room_base_id=0, remark="r" * 30
    )
    assert client.get_join_way(CREDS, config_id).chat_ids == tuple(chats)


def test_join_way_chats_must_be_live_groups_of_the_corp(client: WeComClient, world: WeComWorld) -> None:
    chat_id = seed(world)
    with pytest.raises(errors.WeComInvalidArgumentError) as foreign:
        client.add_join_way(OTHER, chat_ids=[chat_id], state="x", room_base_name="群", room_base_id=1)
    world.group_change(CORP, "dismiss", chat_id=chat_id)
    with pytest.raises(errors.WeComInvalidArgumentError) as dismissed:
        join_way(client, [chat_id])
    assert foreign.value.errcode == dismissed.value.errcode == 40050


def test_join_ways_share_the_contact_way_quota(clock: Clock) -> None:
    world = WeComWorld(clock=clock, max_contact_ways=2)
    client = WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=clock)
    chat_id = seed(world)
    client.add_contact_way(CREDS, users=["zhang"], state="ch1")
    join_way(client, [chat_id])
    for make in (
        lambda: join_way(client, [chat_id]),
        lambda: client.add_contact_way(CREDS, users=["zhang"], state="c"),
    ):
        with pytest.raises(errors.WeComInvalidArgumentError) as full:
            make()
        assert full.value.errcode == 41045


# --- group mass messages ---------------------------------------------------------------------------------------------


def test_group_mass_message_reaches_only_the_senders_live_groups(client: WeComClient, world: WeComWorld) -> None:
    mine, also_mine, theirs = seed(world), seed(world, name="二群"), seed(world, owner="li")
    result = client.add_msg_template(
        CREDS, sender="zhang", chat_type="group", chat_ids=[mine, also_mine, theirs, "wrUnknown"], message=Message("早")
    )
    assert result.fail_list == (theirs, "wrUnknown")  # not the sender's, not the corp's
    world.group_change(CORP, "dismiss", chat_id=also_mine)  # gone before the owner confirms
    assert world.confirm_task(result.msgid, "zhang") == {"sent": 1, "not_friend": 1, "limit_hit": 0}
    [task] = client.get_groupmsg_task(CREDS, msgid=result.msgid)["task_list"]
    assert (task["userid"], task["status"]) == ("zhang", 2)
    rows = client.get_groupmsg_send_result(CREDS, msgid=result.msgid, userid="zhang")["send_list"]
    assert [(r["chat_id"], r["status"]) for r in rows] == [(mine, SEND_OK), (also_mine, SEND_NOT_FRIEND)]
    listed = client.get_groupmsg_list(CREDS, start_time=T0 - 10, end_time=T0 + 10, chat_type="group")
    assert [m["msgid"] for m in listed["group_msg_list"]] == [result.msgid]
    assert client.get_groupmsg_list(CREDS, start_time=T0 - 10, end_time=T0 + 10)["group_msg_list"] == []


def test_group_mass_message_to_nobody_reachable_is_rejected(client: WeComClient, world: WeComWorld) -> None:
    theirs = seed(world, owner="li")
    with pytest.raises(errors.WeComInvalidArgumentError) as none:
        client.add_msg_template(CREDS, sender="zhang", chat_type="group", chat_ids=[theirs], message=Message("早"))
    assert none.value.errcode == 41048
    with pytest.raises(errors.InvalidError):  # over 2,000 chats: refused before the call
        client.add_msg_template(
            CREDS, sender="zhang", chat_type="group", chat_ids=[f"wr{i}" for i in range(2001)], message=Message("早")
        )
    assert len(world.calls("externalcontact/add_msg_template")) == 1


def test_the_world_refuses_more_than_2000_chats(world: WeComWorld) -> None:
    token = world.handle("gettoken", {"corpid": CORP, "corpsecret": "s1"}, None)["access_token"]
    body = {"chat_type": "group", "sender": "zhang", "chat_id_list": ["wrx"] * 2001, "text": {"content": "早"}}
    answer = world.handle("externalcontact/add_msg_template", {"access_token": token}, body)
    assert answer["errcode"] == 40058
