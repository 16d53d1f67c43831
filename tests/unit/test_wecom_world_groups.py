"""The WeCom world's group rules: join ways fill their groups in order and create rooms at the member limit,
member versions chain from one callback to the next and agree with groupchat/get, leaves and owner changes, and
the snapshot keeps groups and join ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.ports import WeComCredentials
from devstack.sandbox import SandboxServer
from devstack.wecom_world import SnapshotError, WeComWorld, WorldError, WorldTransport

CORP = "wwgroupworld0001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s1")
T0 = 1_780_000_000.0


@pytest.fixture
def world() -> WeComWorld:
    return WeComWorld(clock=lambda: T0, max_chat_members=3)


@pytest.fixture
def client(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None)


def parent(i: int) -> str:
    return f"wmParent{i:06d}"


def make_way(world: WeComWorld, client: WeComClient, owners: tuple[str, ...] = ("zhang",), **extra: Any) -> str:
    chats = [str(world.seed_group(CORP, owner=o, name=f"群{i}")["chat_id"]) for i, o in enumerate(owners)]
    fields: dict[str, Any] = {"state": "gc_camp", "room_base_name": "考研冲刺·3期·", "room_base_id": 5, **extra}
    return client.add_join_way(CREDS, chat_ids=chats, **fields)


def test_a_way_fills_its_groups_in_order_then_creates_rooms(world: WeComWorld, client: WeComClient) -> None:
    config_id = make_way(world, client, owners=("zhang", "li"))
    first, second = client.get_join_way(CREDS, config_id).chat_ids
    placed = []
    for i in range(4):  # each group holds its owner and 2 more at a limit of 3
        [event] = world.group_join(CORP, config_id=config_id, external_userid=parent(i))
        placed.append(event["ChatId"])
    assert placed == [first, first, second, second]

    created, joined = world.group_join(CORP, config_id=config_id, external_userid=parent(4))
    assert created["ChangeType"] == "create" and "UpdateDetail" not in created
    room = created["ChatId"]
    assert (joined["ChatId"], joined["UpdateDetail"], joined["JoinScene"]) == (room, "add_member", 3)
    detail = client.get_group_chat(CREDS, room)
    assert (detail.name, detail.owner) == ("考研冲刺·3期·5", "li")  # base name + id; the owner of the way's last group
    assert [(m.userid, m.join_scene, m.state) for m in detail.members] == [("li", 1, ""), (parent(4), 3, "gc_camp")]
    way = client.get_join_way(CREDS, config_id)
    assert way.room_base_id == 6 and way.chat_ids == (first, second)  # the list stays as configured (92229)

    [next_join] = world.group_join(CORP, config_id=config_id, external_userid=parent(5))
    assert next_join["ChatId"] == room  # the created room is filled before another is made
    second_room, _ = world.group_join(CORP, config_id=config_id, external_userid=parent(6))
    assert client.get_group_chat(CREDS, second_room["ChatId"]).name == "考研冲刺·3期·6"


def test_a_way_skips_dismissed_groups_and_follows_an_update(world: WeComWorld, client: WeComClient) -> None:
    config_id = make_way(world, client, owners=("zhang", "li"))
    first, second = client.get_join_way(CREDS, config_id).chat_ids
    world.group_change(CORP, "dismiss", chat_id=first)
    [event] = world.group_join(CORP, config_id=config_id, external_userid=parent(1))
    assert event["ChatId"] == second
    third = str(world.seed_group(CORP, owner="wang", name="新群")["chat_id"])
    client.update_join_way(
        CREDS, config_id=config_id, chat_ids=[third], state="gc_camp", room_base_name="x", room_base_id=1
    )
    [event] = world.group_join(CORP, config_id=config_id, external_userid=parent(2))
    assert event["ChatId"] == third


def test_without_auto_create_room_a_full_way_refuses(world: WeComWorld, client: WeComClient) -> None:
    config_id = make_way(world, client, auto_create_room=False)
    for i in range(2):
        world.group_join(CORP, config_id=config_id, external_userid=parent(i))
    with pytest.raises(WorldError, match="full"):
        world.group_join(CORP, config_id=config_id, external_userid=parent(9))


def test_the_corp_member_limit_overrides_the_worlds(world: WeComWorld, client: WeComClient) -> None:
    world.register_corp(CORP, chat_member_limit=5)
    config_id = make_way(world, client)
    rooms = {world.group_join(CORP, config_id=config_id, external_userid=parent(i))[-1]["ChatId"] for i in range(4)}
    assert len(rooms) == 1


def test_member_versions_chain_and_agree_with_groupchat_get(world: WeComWorld, client: WeComClient) -> None:
    chat_id = str(world.seed_group(CORP, owner="zhang", name="群")["chat_id"])
    version = client.get_group_chat(CREDS, chat_id).member_version
    events = [
        *world.group_join(CORP, chat_id=chat_id, external_userid=parent(1)),
        world.group_leave(CORP, chat_id, external_userid=parent(1)),
        *world.group_join(CORP, chat_id=chat_id, userid="li", invitor="zhang"),
        world.group_leave(CORP, chat_id, userid="li", removed=True),
    ]
    for event in events:
        assert event["LastMemVer"] == version != event["CurMemVer"]
        version = event["CurMemVer"]
    assert client.get_group_chat(CREDS, chat_id).member_version == version
    assert [e.get("JoinScene", e.get("QuitScene")) for e in events] == [0, 0, 0, 1]  # invited; left; invited; removed
    assert [e["MemChangeList"] for e in events] == [[parent(1)], [parent(1)], ["li"], ["li"]]
    assert all(e["MemChangeCnt"] == 1 and e["Event"] == "change_external_chat" for e in events)
    # name, owner and notice changes leave the member version alone
    world.group_change(CORP, "change_name", chat_id=chat_id, name="新名")
    assert client.get_group_chat(CREDS, chat_id).member_version == version


def test_direct_joins_are_invitations(world: WeComWorld, client: WeComClient) -> None:
    chat_id = str(world.seed_group(CORP, owner="zhang", name="群")["chat_id"])
    world.group_join(CORP, chat_id=chat_id, external_userid=parent(1))
    world.group_join(CORP, chat_id=chat_id, external_userid=parent(2), invitor="li")
    members = client.get_group_chat(CREDS, chat_id).members
    assert [(m.join_scene, m.invitor) for m in members[1:]] == [(1, "zhang"), (1, "li")]


def test_membership_rules(world: WeComWorld) -> None:
    chat_id = str(world.seed_group(CORP, owner="zhang", name="群", members=[parent(1)])["chat_id"])
    with pytest.raises(WorldError, match="already a member"):
        world.group_join(CORP, chat_id=chat_id, external_userid=parent(1))
    with pytest.raises(WorldError, match="not a member"):
        world.group_leave(CORP, chat_id, external_userid=parent(2))
    with pytest.raises(WorldError, match="owner"):
        world.group_leave(CORP, chat_id, userid="zhang")
    with pytest.raises(WorldError, match="exactly one"):
        world.group_join(CORP, chat_id=chat_id, external_userid=parent(3), userid="li")
    with pytest.raises(WorldError, match="external_userid"):
        world.group_join(CORP, chat_id=chat_id, external_userid="not-an-external-id")
    world.group_join(CORP, chat_id=chat_id, external_userid=parent(3))
    with pytest.raises(WorldError, match="full"):
        world.group_join(CORP, chat_id=chat_id, external_userid=parent(4))
    with pytest.raises(WorldError, match="at most 3"):
        world.seed_group(CORP, owner="zhang", name="大群", members=[parent(i) for i in range(3)])


def test_owner_changes(world: WeComWorld, client: WeComClient) -> None:
    created = world.group_change(CORP, "create", owner="zhang", name="新群")
    chat_id = created["ChatId"]
    assert created["ChangeType"] == "create"
    with pytest.raises(WorldError, match="staff member of the group"):
        world.group_change(CORP, "change_owner", chat_id=chat_id, owner="li")
    world.group_join(CORP, chat_id=chat_id, userid="li")
    events = [
        world.group_change(CORP, "change_owner", chat_id=chat_id, owner="li"),
        world.group_change(CORP, "change_name", chat_id=chat_id, name="考研冲刺·3期·01"),
        world.group_change(CORP, "change_notice", chat_id=chat_id, notice="群规：每天打卡"),
    ]
    assert [(e["ChangeType"], e["UpdateDetail"]) for e in events] == [
        ("update", "change_owner"),
        ("update", "change_name"),
        ("update", "change_notice"),
    ]
    detail = client.get_group_chat(CREDS, chat_id)
    assert (detail.owner, detail.name, detail.notice) == ("li", "考研冲刺·3期·01", "群规：每天打卡")
    assert world.group_change(CORP, "dismiss", chat_id=chat_id)["ChangeType"] == "dismiss"
    with pytest.raises(WorldError, match="dismissed"):
        world.group_change(CORP, "change_name", chat_id=chat_id, name="x")
    with pytest.raises(WorldError, match="change must be one of"):
        world.group_change(CORP, "explode", chat_id=chat_id)
    assert [g["dismissed"] for g in world.groups(CORP)] == [True]


def test_snapshot_keeps_groups_and_join_ways(world: WeComWorld, client: WeComClient) -> None:
    config_id = make_way(world, client)
    for i in range(3):  # the third join creates a room
        world.group_join(CORP, config_id=config_id, external_userid=parent(i))
    data = world.snapshot()
    assert json.loads(data)["version"] == 1  # new fields with defaults need no new version
    restored = WeComWorld(clock=lambda: T0, max_chat_members=3)
    restored.restore(data)
    assert restored.groups(CORP) == world.groups(CORP)
    again = WeComClient(WorldTransport(restored), sleep=lambda s: None)
    assert again.get_join_way(CREDS, config_id) == client.get_join_way(CREDS, config_id)
    [event] = restored.group_join(CORP, config_id=config_id, external_userid=parent(7))
    assert event["ChatId"] == world.groups(CORP)[-1]["chat_id"]  # the created room is still the way's


def test_snapshot_with_a_join_way_naming_an_unknown_group_is_refused(world: WeComWorld, client: WeComClient) -> None:
    config_id = make_way(world, client)
    doc = json.loads(world.snapshot())
    doc["corps"][CORP]["join_ways"][config_id]["chat_ids"] = ["wrNoSuchChat"]
    with pytest.raises(SnapshotError, match="join way"):
        WeComWorld().restore(json.dumps(doc).encode())


def test_groups_survive_a_sandbox_restart(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    first = SandboxServer(api_base="http://127.0.0.1:9", state_path=path).start()
    chat_id = first.world.seed_group(CORP, owner="zhang", name="群")["chat_id"]
    first.stop()  # saves what changed in process
    second = SandboxServer(api_base="http://127.0.0.1:9", state_path=path).start()
    try:
        assert [g["chat_id"] for g in second.world.groups(CORP)] == [chat_id]
    finally:
        second.stop()
