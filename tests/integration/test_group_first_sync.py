"""Issue 10 §9, "first sync of 300 groups through the sandbox", on DynamoDB Local with the WeCom world in process
(the real WeComClient over WorldTransport; the functional tier with moto took minutes for it).

A corp's 300 groups existed before Siyu was connected: members, some of them the tenant's customers, some staff, some
who came through a 「加入群聊」 code. The tenant's first sync (claimed when it was created) runs from the backstop
against the world's groupchat/list and groupchat/get; then every group and member in Siyu is the world's, a second
sync changes nothing, and drift the callbacks never told (a join, a leave, a dismissal) is reconciled by the next
day's sync."""

from __future__ import annotations

from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.domain.contact_events import event_from_fields
from chalicelib.domain.group_members import GroupMember
from chalicelib.domain.groups import GroupState
from chalicelib.jobs import sop as sop_jobs
from chalicelib.services.identities import credentials
from chalicelib.settings import Settings
from tests.unit.groups_g2 import GroupEnv, make_group_env

GROUPS = 300
CUSTOMERS = [f"wmCustomer{n:022d}" for n in range(10)]
STAFF = {"zhang", "li", "wang"}
PAGE = 1000


def _seed_world(env: GroupEnv) -> None:
    corp = env.tenant.corp_id
    for n in range(GROUPS):
        members = [f"wmG{n:04d}M{i}" for i in range(3)]
        if n % 3 == 0:
            members.append(CUSTOMERS[n % len(CUSTOMERS)])
        if n % 5 == 0:
            members.append("wang")  # staff: kept apart from customers
        name = f"XX教育·考研数学冲刺·{n // 50 + 1}期·{n:03d}"
        admins = ["wang"] if n % 5 == 0 else []
        env.world.seed_group(corp, owner="zhang" if n % 2 else "li", name=name, members=members, notice=f"群规 {n}",
                             admins=admins)  # fmt: skip
    # Parents who came through a group code: groupchat/get tells their join way's state and inviter.
    first = env.world.groups(corp)[1]["chat_id"]
    config_id = env.svc.wecom.add_join_way(
        credentials(env.tenant), chat_ids=[first], state="gc_poster", room_base_name="XX", room_base_id=1
    )
    for i in range(3):
        env.world.group_join(corp, config_id=config_id, external_userid=f"wmCode{i:04d}")


def _customers(env: GroupEnv) -> dict[str, str]:
    """The parents who added 张老师: customers of the tenant (through intake, as their callback makes them)."""
    found: dict[str, str] = {}
    for ext in CUSTOMERS:
        fields = env.world.event(env.tenant.corp_id, "add_external_contact", now=env.clock.epoch(), userid="zhang",
                                 external_userid=ext, State="")  # fmt: skip
        customer_id = env.svc.intake.handle(env.tenant, event_from_fields(fields)).customer_id
        assert customer_id
        found[ext] = customer_id
    return found


def _backstop(env: GroupEnv) -> dict[str, Any]:
    """Backstop runs until the tenant's running sync is done; the job."""
    bootstrap.override(env.svc)
    try:
        for _ in range(20):
            sop_jobs.backstop()
            job = env.store.current_group_sync(env.tenant.tenant_id)
            if job is not None and job["status"] == "done":
                return dict(job)
    finally:
        bootstrap.override(None)
    raise AssertionError("the group sync did not finish")


def _siyu(env: GroupEnv, chat_id: str) -> tuple[GroupState, dict[str, GroupMember]]:
    group = env.store.get_group("unit", chat_id)
    assert group is not None, chat_id
    page = env.store.list_members("unit", chat_id, cursor=None, limit=PAGE)
    assert not page.next_cursor
    return group.state, {m.userid: m for m in page.items if m.in_group}


def _assert_siyu_is_the_world(env: GroupEnv, customers: dict[str, str]) -> None:
    for truth in env.world.groups(env.tenant.corp_id):
        state, members = _siyu(env, truth["chat_id"])
        if truth["dismissed"]:
            assert state.status == "dismissed", truth["chat_id"]
            continue
        seen = (state.status, state.name, state.owner, state.notice, state.created_at, list(state.admins))
        assert seen == ("active", truth["name"], truth["owner"], truth["notice"], truth["create_time"], truth["admins"])
        assert (state.member_count, state.member_version) == (truth["member_count"], truth["member_version"])
        assert sorted(members) == sorted(m["userid"] for m in truth["members"])
        for m in truth["members"]:
            ours = members[m["userid"]]
            told = (ours.type, ours.state, ours.invitor, ours.fetched_scene, ours.join_time)
            assert told == (m["type"], m["state"], m["invitor"], m["join_scene"], m["join_time"]), m
            assert ours.is_staff == (m["userid"] in STAFF)
            assert ours.customer_id == customers.get(m["userid"], "")  # customers linked, nobody else


def _snapshot(env: GroupEnv) -> dict[str, Any]:
    groups = env.store.list_groups("unit", cursor=None, limit=PAGE)
    assert not groups.next_cursor
    return {g.chat_id: (g.state, _siyu(env, g.chat_id)[1]) for g in groups.items}


def test_a_first_sync_of_300_groups_through_the_sandbox_and_the_drift_after_it(ddb_settings: Settings) -> None:
    env = make_group_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name), world_groups=True)
    _seed_world(env)
    customers = _customers(env)
    gets = len(env.world.calls("externalcontact/groupchat/get"))

    job = _backstop(env)
    assert job["reason"] == "first"  # claimed when the tenant was created
    progress = (job["groups_seen"], job["changed"], job["errors"], job["dismissed"], job["pages"])
    assert progress == (GROUPS, GROUPS, 0, 0, 3)  # groupchat/list by cursor, 100 a page
    assert len(env.world.calls("externalcontact/groupchat/get")) - gets == GROUPS
    _assert_siyu_is_the_world(env, customers)
    members = sum(g["member_count"] for g in env.world.groups(env.tenant.corp_id))
    assert len(env.heard) == members  # each member found joined, told once

    before, told = _snapshot(env), len(env.heard)
    again = env.svc.group_sync.start(env.tenant)
    while again["status"] != "done":
        again = env.svc.group_sync.advance(env.tenant, again["job_id"], budget_seconds=60)
    assert (again["reason"], again["groups_seen"], again["changed"]) == ("manual", GROUPS, 0)
    assert _snapshot(env) == before and len(env.heard) == told  # re-running changes nothing

    corp = env.tenant.corp_id
    chats = [g["chat_id"] for g in env.world.groups(corp)]
    env.world.group_join(corp, chat_id=chats[10], external_userid="wmLateJoiner0001")  # callbacks never delivered
    env.world.group_leave(corp, chats[11], external_userid="wmG0011M0")
    env.world.group_change(corp, "dismiss", chat_id=chats[12])
    env.clock.advance(days=1, minutes=1)
    daily = _backstop(env)
    assert daily["reason"] == "periodic"
    assert (daily["groups_seen"], daily["changed"], daily["dismissed"]) == (GROUPS - 1, 3, 1)
    _assert_siyu_is_the_world(env, customers)
    assert sorted((s.type, s.kind, s.member) for s in env.heard[told:]) == [
        ("group_joined", "unknown", "wmLateJoiner0001"),
        ("group_left", "unknown", "wmG0011M0"),
    ]
