"""Groups over HTTP: setup under its rev, filters and a staff token's scope, the naming template and its report,
group content, and group live codes: rotation end to end against the sandbox (people joining through the code's QR
until its group is full), and the exact join-way calls through a recording fake (FakeJoinWays)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.domain.groups import DISMISSED, GroupState
from chalicelib.domain.signals import GROUP_JOINED, Signal
from chalicelib.services.groups.members import member_key
from chalicelib.services.identities import credentials
from tests.fakes.wecom_groups_g5 import FakeJoinWays
from tests.functional.conftest import TENANT, Api
from tests.functional.group_sandbox import GroupSandbox, group_sandbox, outcomes

GROUPS = f"/t/{TENANT}/groups"
NAMING = f"/t/{TENANT}/settings/group-naming"
CONTENT = f"/t/{TENANT}/group-content"
CODES = f"/t/{TENANT}/group-codes"
SEEDED = {
    "wr1": ("XX教育·考研数学冲刺·3期·01", "zhang"),
    "wr2": ("XX教育·考研数学冲刺·3期·2", "zhang"),  # WeCom's auto-created room: unpadded, still matches
    "wr3": ("考研数学3期交流群", "li"),
    "wr4": ("XX教育·考研英语·三期·04", "li"),
    "wr5": ("XX教育·考研英语·4期·05", "li"),
}


def _seed(tenant_id: str = TENANT, members: int = 100) -> None:
    store = bootstrap.services().store
    for chat_id, (name, owner) in SEEDED.items():
        state = GroupState(name=name, owner=owner, admins=("wang",), member_count=members, created_at=1796090400)
        assert store.save_group_state(tenant_id, chat_id, state, expected_rev=0)


def _setup(api: Api, token: str, chat_id: str, rev: int, **fields: Any) -> Any:
    return api.call("PUT", f"{GROUPS}/{chat_id}/setup", {"rev": rev, **fields}, token)


def test_setup_is_replaced_under_its_rev_and_filters_list_it(api: Api) -> None:
    admin = api.create_tenant()
    ops, viewer = api.token(TENANT, "ops"), api.token(TENANT, "viewer")
    _seed()
    study = {"type": "study", "cohort": "3期", "cohort_start": "2026-12-14", "number": "01", "tags": ["数学"]}
    resp = _setup(api, ops, "wr1", 0, **study, kols=["wm_kol"], campaign="考研冲刺")
    assert resp.status_code == 200, resp.body
    setup = resp.json["setup"]
    assert setup == {**study, "type_name": "学习", "kols": ["wm_kol"], "campaign": "考研冲刺", "rev": 1}
    assert resp.json["name"] == SEEDED["wr1"][0] and resp.json["owner"] == "zhang" and resp.json["admins"] == ["wang"]
    assert resp.json["created_at"] == "2026-12-01T10:00:00+08:00"  # WeCom's create_time, in the tenant's zone
    stale = _setup(api, admin, "wr1", 0, type="sales")
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_rev"
    assert stale.json["error"]["details"] == {"rev": 1}
    assert _setup(api, ops, "wr2", 0, type="sales", cohort="3期", tags=["数学", "冲刺"]).status_code == 200
    assert _setup(api, viewer, "wr3", 0, type="sales").status_code == 403
    got = api.call("GET", f"{GROUPS}/wr1", None, viewer)
    assert got.status_code == 200 and got.json["setup"]["rev"] == 1 and got.json["member_count"] == 100

    def ids(query: str) -> list[str]:
        resp = api.call("GET", f"{GROUPS}?{query}", None, viewer)
        assert resp.status_code == 200, resp.body
        return [g["chat_id"] for g in resp.json["items"]]

    assert ids("limit=10") == ["wr1", "wr2", "wr3", "wr4", "wr5"]
    assert ids("type=study") == ["wr1"]
    assert ids("cohort=3期") == ["wr1", "wr2"]
    assert ids("tag=冲刺") == ["wr2"]
    assert ids("status=active&type=sales") == ["wr2"]
    assert ids("status=dismissed") == []
    first = api.call("GET", f"{GROUPS}?cohort=3期&limit=1", None, viewer).json
    assert [g["chat_id"] for g in first["items"]] == ["wr1"] and first["next_cursor"]
    rest = api.call("GET", f"{GROUPS}?cohort=3期&limit=1&cursor={first['next_cursor']}", None, viewer).json
    assert [g["chat_id"] for g in rest["items"]] == ["wr2"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "study"},  # no rev
        {"rev": 0, "type": "lecture"},
        {"rev": 0, "cohort_start": "2026-02-30"},
        {"rev": 0, "cohort_start": "14/12/2026"},
        {"rev": 0, "number": "二"},
        {"rev": 0, "kols": [f"wm{n}" for n in range(51)]},
        {"rev": 0, "tags": ["a", "a"]},
        {"rev": -1},
        {"rev": 0, "owner": "li"},  # WeCom's: read-only here
    ],
)
def test_a_bad_setup_is_a_400_and_stores_nothing(api: Api, body: dict[str, Any]) -> None:
    ops = api.create_tenant()
    _seed()
    resp = api.call("PUT", f"{GROUPS}/wr1/setup", body, ops)
    assert resp.status_code == 400, resp.body
    assert resp.json["error"]["code"] == "invalid_request"
    assert api.call("GET", f"{GROUPS}/wr1", None, ops).json["setup"]["rev"] == 0


def test_unknown_groups_and_bad_filters(api: Api) -> None:
    admin = api.create_tenant()
    _seed()
    assert api.call("GET", f"{GROUPS}/wr404", None, admin).status_code == 404
    assert _setup(api, admin, "wr404", 0, type="study").status_code == 404
    for query in ("type=lecture", "status=gone", "limit=0", "colour=red"):
        assert api.call("GET", f"{GROUPS}?{query}", None, admin).status_code == 400, query


def test_a_staff_token_sees_only_the_groups_it_owns_or_administers(api: Api) -> None:
    admin = api.create_tenant()
    for userid in ("zhang", "wang"):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": userid}, admin).status_code == 201
    _seed()
    store = bootstrap.services().store
    assert store.save_group_state(TENANT, "wr9", GroupState(name="x", owner="li"), expected_rev=0)
    zhang, wang = api.token(TENANT, "staff", "zhang"), api.token(TENANT, "staff", "wang")
    assert [g["chat_id"] for g in api.call("GET", GROUPS, None, zhang).json["items"]] == ["wr1", "wr2"]
    assert len(api.call("GET", GROUPS, None, wang).json["items"]) == 5  # the admin of every seeded group
    assert api.call("GET", f"{GROUPS}/wr3", None, zhang).status_code == 404
    assert api.call("GET", f"{GROUPS}/wr1", None, zhang).status_code == 200
    assert _setup(api, zhang, "wr1", 0, type="study").status_code == 403


def test_naming_template_renders_names_and_reports_groups_that_break_it(api: Api) -> None:
    ops = api.create_tenant()
    _seed()
    store = bootstrap.services().store
    dismissed = GroupState(name="乱起的名字", status=DISMISSED)
    assert store.save_group_state(TENANT, "wr6", dismissed, expected_rev=0)
    assert api.call("GET", NAMING, None, ops).json["institution"] == ""
    none_yet = api.call("GET", f"{GROUPS}/naming-report", None, ops)
    assert none_yet.status_code == 409 and none_yet.json["error"]["code"] == "no_naming_template"
    for bad in ({"institution": "XX教育", "separator": "a"}, {"institution": ""}, {"separator": "·"}):
        assert api.call("PUT", NAMING, bad, ops).status_code == 400, bad
    put = api.call("PUT", NAMING, {"institution": "XX教育"}, ops)
    assert put.status_code == 200, put.body
    assert put.json == {
        "institution": "XX教育",
        "separator": "·",
        "cohort_suffix": "期",
        "number_width": 2,
        "example": "XX教育·考研数学冲刺·3期·02",
    }
    named = api.call("GET", f"{NAMING}?positioning=考研英语&cohort=4&number=7", None, ops)
    assert named.status_code == 200 and named.json["name"] == "XX教育·考研英语·4期·07"
    assert api.call("GET", f"{NAMING}?positioning=考研·英语&cohort=4&number=7", None, ops).status_code == 400
    _setup(api, ops, "wr5", 0, cohort="5期", number="05")
    report = api.call("GET", f"{GROUPS}/naming-report", None, ops)
    assert report.status_code == 200, report.body
    rows = {r["chat_id"]: r for r in report.json["items"]}
    assert sorted(rows) == ["wr3", "wr4", "wr5"]  # wr6 is dismissed: no longer judged
    assert rows["wr3"]["name"] == "考研数学3期交流群" and "the template has 4" in rows["wr3"]["problems"][0]
    assert rows["wr4"]["problems"] == ["cohort '三期' is not a number followed by '期'"]
    assert rows["wr5"]["problems"] == ["cohort in the name is '4期', the setup says '5期'"]
    first = api.call("GET", f"{GROUPS}/naming-report?limit=2", None, ops).json
    rest = api.call("GET", f"{GROUPS}/naming-report?limit=2&cursor={first['next_cursor']}", None, ops).json
    assert [r["chat_id"] for r in first["items"] + rest["items"]] == ["wr3", "wr4", "wr5"]


def test_group_content_crud_under_its_rev(api: Api) -> None:
    ops = api.create_tenant()
    viewer = api.token(TENANT, "viewer")
    _seed()
    rules: dict[str, Any] = {
        "kind": "rules",
        "title": "学习群群规",
        "message": {"text": "1. 禁止广告\n2. 每日打卡"},
        "notes": "开营发",
    }
    created = api.call("POST", CONTENT, rules, ops)
    assert created.status_code == 201, created.body
    body = created.json
    assert (body["kind_name"], body["chat_id"], body["rev"]) == ("群规", None, 1)
    own = api.call("POST", CONTENT, {**rules, "kind": "announcement", "title": "wr1 公告", "chat_id": "wr1"}, ops)
    other = api.call("POST", CONTENT, {**rules, "kind": "faq", "title": "wr2 FAQ", "chat_id": "wr2"}, ops)
    assert own.status_code == other.status_code == 201
    cid = body["content_id"]
    assert api.call("GET", f"{CONTENT}/{cid}", None, viewer).json["message"]["text"] == rules["message"]["text"]

    def titles(query: str) -> list[str]:
        return [c["title"] for c in api.call("GET", f"{CONTENT}?{query}", None, viewer).json["items"]]

    assert sorted(titles("kind=rules")) == ["学习群群规"]
    assert sorted(titles("chat_id=wr1")) == ["wr1 公告", "学习群群规"]  # its own and the tenant-wide pieces
    patched = api.call("PATCH", f"{CONTENT}/{cid}", {"rev": 1, "title": "新群规"}, ops)
    assert patched.status_code == 200 and patched.json["rev"] == 2 and patched.json["title"] == "新群规"
    stale = api.call("PATCH", f"{CONTENT}/{cid}", {"rev": 1, "title": "旧"}, ops)
    assert stale.status_code == 409 and stale.json["error"]["details"] == {"rev": 2}
    assert api.call("PATCH", f"{CONTENT}/{cid}", {"rev": 2, "title": "x"}, viewer).status_code == 403
    bad = [
        {**rules, "kind": "poster"},
        {**rules, "message": {"text": "长" * 1400}},  # over WeCom's 4000 bytes
        {**rules, "chat_id": "wr404"},
        {"kind": "rules", "title": "no message"},
    ]
    for payload in bad:
        assert api.call("POST", CONTENT, payload, ops).status_code == 400
    assert api.call("PATCH", f"{CONTENT}/{cid}", {"rev": 2}, ops).status_code == 400  # nothing to change
    assert api.call("DELETE", f"{CONTENT}/{cid}", None, ops).status_code == 204
    assert api.call("GET", f"{CONTENT}/{cid}", None, viewer).status_code == 404
    assert api.call("DELETE", f"{CONTENT}/{cid}", None, ops).status_code == 404
    assert len(api.call("GET", CONTENT, None, viewer).json["items"]) == 2


@pytest.fixture
def join_ways(api: Api, monkeypatch: pytest.MonkeyPatch) -> FakeJoinWays:
    """WeCom's join ways, recorded: each call kept in order with its arguments, a push that fails on demand."""
    fake = FakeJoinWays()
    monkeypatch.setattr(bootstrap.services().group_codes, "wecom", fake)
    return fake


def test_a_group_code_is_created_rotates_as_its_groups_fill_and_is_deleted(api: Api, join_ways: FakeJoinWays) -> None:
    ops = api.create_tenant()
    viewer = api.token(TENANT, "viewer")
    _seed()
    body = {"name": "考研数学3期海报", "positioning": "考研数学冲刺", "cohort": "3", "chat_ids": ["wr1", "wr2"]}
    assert api.call("POST", CODES, body, ops).status_code == 409  # no naming template yet
    api.call("PUT", NAMING, {"institution": "XX教育"}, ops)
    created = api.call("POST", CODES, {**body, "queue": ["wr4"], "rotate_at": 480}, ops)
    assert created.status_code == 201, created.body
    code = created.json
    assert code["qr_code"] and code["state"] == code["code_id"] and len(code["state"]) <= 30
    assert (code["room_base_name"], code["room_base_id"]) == ("XX教育·考研数学冲刺·3期·", 3)
    [add] = join_ways.named("add_join_way")
    assert (add["scene"], add["chat_ids"], add["auto_create_room"]) == (2, ["wr1", "wr2"], True)
    assert api.call("GET", f"{CODES}/{code['code_id']}", None, viewer).json == code
    assert [c["code_id"] for c in api.call("GET", CODES, None, viewer).json["items"]] == [code["code_id"]]

    svc = bootstrap.services()
    tenant = svc.tenants.get(TENANT)
    group = svc.store.get_group(TENANT, "wr1")
    assert svc.store.save_group_state(
        TENANT, "wr1", GroupState(name=group.state.name, member_count=480), expected_rev=group.state.rev
    )
    svc.signals.publish(tenant, "wr1", Signal(GROUP_JOINED, api.clock.now(), kind="3", chat_id="wr1", ref="j1"))
    svc.signals.publish(tenant, "wr1", Signal(GROUP_JOINED, api.clock.now(), kind="3", chat_id="wr1", ref="j1"))
    after = api.call("GET", f"{CODES}/{code['code_id']}", None, viewer).json
    assert (after["chat_ids"], after["retired"], after["queue"], after["rotations"]) == (["wr4", "wr2"], ["wr1"], [], 1)
    assert after["in_sync"] and [u["chat_ids"] for u in join_ways.named("update_join_way")] == [["wr4", "wr2"]]

    assert api.call("DELETE", f"{CODES}/{code['code_id']}", None, viewer).status_code == 403
    assert api.call("DELETE", f"{CODES}/{code['code_id']}", None, ops).status_code == 204
    assert join_ways.named("del_join_way") == [{"config_id": code["config_id"]}]
    assert api.call("GET", f"{CODES}/{code['code_id']}", None, viewer).status_code == 404
    again = api.call("POST", CODES, {**body, "chat_ids": ["wr1"]}, ops)  # its groups are free again
    assert again.status_code == 201, again.body


def test_bad_group_codes_are_a_4xx_and_reach_neither_wecom_nor_the_store(api: Api, join_ways: FakeJoinWays) -> None:
    ops = api.create_tenant()
    _seed()
    api.call("PUT", NAMING, {"institution": "XX教育"}, ops)
    body = {"name": "海报", "positioning": "考研数学冲刺", "cohort": "3", "chat_ids": ["wr1"]}
    bad = [
        ({**body, "chat_ids": ["wr1", "wr2", "wr3", "wr4", "wr5", "wr6"]}, 400),  # WeCom takes 5
        ({**body, "chat_ids": []}, 400),
        ({**body, "chat_ids": ["wr404"]}, 400),
        ({**body, "chat_ids": ["wr1"], "queue": ["wr1"]}, 400),
        ({**body, "rotate_at": 501}, 400),
        ({**body, "cohort": "三"}, 400),
        ({**body, "positioning": "考研·数学"}, 400),
        ({**body, "channel_id": "ch_404"}, 400),
        ({k: v for k, v in body.items() if k != "positioning"}, 400),
    ]
    for payload, status in bad:
        resp = api.call("POST", CODES, payload, ops)
        assert resp.status_code == status, (payload, resp.body)
    assert join_ways.calls == [] and api.call("GET", CODES, None, ops).json["items"] == []
    assert api.call("POST", CODES, body, ops).status_code == 201
    taken = api.call("POST", CODES, {**body, "chat_ids": ["wr2", "wr1"]}, ops)
    assert taken.status_code == 409 and taken.json["error"]["code"] == "group_on_code"
    assert api.call("GET", f"{CODES}/gc_404", None, ops).status_code == 404
    assert api.call("DELETE", f"{CODES}/gc_404", None, ops).status_code == 404


def test_a_codes_waiting_groups_and_threshold_change_under_its_rev(api: Api, join_ways: FakeJoinWays) -> None:
    ops = api.create_tenant()
    _seed()
    api.call("PUT", NAMING, {"institution": "XX教育"}, ops)
    body = {"name": "海报", "positioning": "考研数学冲刺", "cohort": "3", "chat_ids": ["wr1"], "queue": ["wr2"]}
    code = api.call("POST", CODES, body, ops).json
    path = f"{CODES}/{code['code_id']}"
    patched = api.call("PATCH", path, {"rev": 1, "queue": ["wr3", "wr4"], "rotate_at": 300}, ops)
    assert patched.status_code == 200, patched.body
    assert (patched.json["queue"], patched.json["rotate_at"], patched.json["rev"]) == (["wr3", "wr4"], 300, 2)
    stale = api.call("PATCH", path, {"rev": 1, "rotate_at": 200}, ops)
    assert stale.status_code == 409 and stale.json["error"]["details"] == {"rev": 2}
    other = api.call("POST", CODES, {**body, "chat_ids": ["wr2"], "queue": []}, ops)  # wr2 was freed
    assert other.status_code == 201, other.body
    taken = api.call("PATCH", path, {"rev": 2, "queue": ["wr2"]}, ops)
    assert taken.status_code == 409 and taken.json["error"]["code"] == "group_on_code"
    for bad in ({"rev": 2}, {"rev": 2, "rotate_at": 1}, {"rev": 2, "queue": ["wr404"]}, {"rev": 2, "queue": ["wr1"]}):
        assert api.call("PATCH", path, bad, ops).status_code == 400, bad
    assert api.call("GET", path, None, ops).json["rev"] == 2
    assert join_ways.named("update_join_way") == []  # the join way holds only chat_ids: nothing to tell WeCom


@pytest.fixture
def wecom(api: Api, monkeypatch: pytest.MonkeyPatch) -> GroupSandbox:
    return group_sandbox(api, monkeypatch)


def test_a_group_code_rotates_once_as_people_join_through_the_sandbox(api: Api, wecom: GroupSandbox) -> None:
    """WeCom played by the sandbox: groups of 4 (the owner and 3 parents), people joining through the code's QR
    (``/sandbox/group-join`` with its config_id, each join's signed callback delivered to the app)."""
    ops = api.create_tenant()
    wecom.register(chat_member_limit=4)
    api.call("PUT", NAMING, {"institution": "XX教育"}, ops)
    names = [f"XX教育·考研数学冲刺·3期·0{n}" for n in (1, 2)]
    chats = [wecom.change(change="create", owner="zhang", name=name)["chat_id"] for name in names]
    body = {"name": "海报", "positioning": "考研数学冲刺", "cohort": "3", "chat_ids": chats[:1], "queue": chats[1:]}
    created = api.call("POST", CODES, {**body, "rotate_at": 4}, ops)
    assert created.status_code == 201, created.body
    code = created.json
    path = f"{CODES}/{code['code_id']}"
    world = api.sandbox.world
    creds = bootstrap.services().tenants.get(TENANT)
    way = bootstrap.services().wecom.get_join_way(credentials(creds), code["config_id"])
    assert (way.chat_ids, way.state, way.qr_code) == (tuple(chats[:1]), code["state"], code["qr_code"])

    parents = [f"wmPoster{n:024d}" for n in range(6)]
    for parent in parents[:2]:
        assert wecom.join(config_id=code["config_id"], external_userid=parent)["chat_id"] == chats[0]
    assert api.call("GET", path, None, ops).json["rotations"] == 0
    filling = wecom.join(config_id=code["config_id"], external_userid=parents[2])  # the owner and 3: full
    assert filling["chat_id"] == chats[0]
    api.callback(TENANT, filling["callbacks"][0]["fields"])  # WeCom delivers the filling join twice

    after = api.call("GET", path, None, ops).json
    assert (after["chat_ids"], after["queue"], after["retired"], after["rotations"]) == (chats[1:], [], chats[:1], 1)
    assert after["in_sync"]
    way = bootstrap.services().wecom.get_join_way(credentials(creds), code["config_id"])
    assert way.chat_ids == tuple(chats[1:])  # WeCom's join way moved on to the waiting group
    for parent in parents[3:5]:  # the poster keeps working: the next parents land in the next group
        assert wecom.join(config_id=code["config_id"], external_userid=parent)["chat_id"] == chats[1]
    updates = world.calls("externalcontact/groupchat/update_join_way")
    assert [u.payload["chat_id_list"] for u in updates] == [chats[1:]]  # rotated once
    assert api.call("GET", path, None, ops).json["rotations"] == 1
    joined = bootstrap.services().store.get_group(TENANT, chats[1])
    assert joined.state.member_count == 3
    attribution = bootstrap.services().group_codes.attribution(TENANT, code["state"])
    assert attribution is not None and attribution.code_id == code["code_id"]


def test_a_full_code_with_nothing_waiting_lets_wecom_open_the_next_room(api: Api, wecom: GroupSandbox) -> None:
    """Its one group full and no queue: the code keeps it (marked full), and WeCom's auto_create_room opens a room
    named by the template, whose create callback brings it into Siyu; the poster keeps working."""
    ops = api.create_tenant()
    wecom.register(chat_member_limit=3)
    api.call("PUT", NAMING, {"institution": "XX教育"}, ops)
    chat = wecom.change(change="create", owner="zhang", name="XX教育·考研数学冲刺·3期·01")["chat_id"]
    body = {"name": "海报", "positioning": "考研数学冲刺", "cohort": "3", "chat_ids": [chat], "rotate_at": 3}
    code = api.call("POST", CODES, body, ops).json
    parents = [f"wmRoom{n:026d}" for n in range(4)]
    for parent in parents[:2]:
        assert wecom.join(config_id=code["config_id"], external_userid=parent)["chat_id"] == chat
    full = api.call("GET", f"{CODES}/{code['code_id']}", None, ops).json
    assert (full["chat_ids"], full["full"], full["queue"]) == ([chat], [chat], [])
    opened = wecom.join(config_id=code["config_id"], external_userid=parents[2])
    room = opened["created_chat_id"]
    assert room and opened["chat_id"] == room
    # WeCom sends the room's create, then the join; the create's read (groupchat/get) already finds the parent in it
    assert outcomes(opened) == ["refetched", "duplicate"]
    group = bootstrap.services().store.get_group(TENANT, room)
    assert group.state.name == f"{code['room_base_name']}{code['room_base_id']}" and group.state.member_count == 2
    svc = bootstrap.services()
    key = member_key(svc.tenants.get(TENANT), parents[2])
    member = svc.store.get_members(TENANT, room, [key])[key]
    assert member.in_group and member.state == code["state"]  # the join counts toward the code in the new room too
    report = api.call("GET", f"{GROUPS}/naming-report", None, ops).json
    assert room not in [r["chat_id"] for r in report["items"]]  # WeCom's unpadded room number fits the template
    second = wecom.join(config_id=code["config_id"], external_userid=parents[3])
    assert second["chat_id"] == room and second["created_chat_id"] is None
