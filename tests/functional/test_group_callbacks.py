"""Groups through the real routes: change_external_chat posted encrypted and signed to the callback URL (both
MemChangeList forms reach the same place), a duplicate that changes nothing, a malformed one refused with a 4xx,
and the group sync started and followed through /t/{t}/groups/sync."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.bootstrap import services
from chalicelib.services.groups import member_key
from tests.fakes.wecom_groups_g2 import FakeGroupChats
from tests.functional.conftest import TENANT, Api

A, B = "wmFuncA000000000000000000000000A", "wmFuncB000000000000000000000000B"


@pytest.fixture
def chats(api: Api) -> FakeGroupChats:
    """WeCom's groups for these tests (the sandbox plays them once g1 is merged: then these go)."""
    svc = services()
    world = FakeGroupChats(now=lambda: int(api.clock.epoch()))
    svc.group_events.source = world
    svc.group_sync.source = world
    return world


def _member(userid: str, chat_id: str) -> Any:
    svc = services()
    tenant = svc.tenants.get(TENANT)
    key = member_key(tenant, userid)
    return svc.store.get_members(TENANT, chat_id, [key]).get(key)


def test_group_callbacks_through_the_callback_url(api: Api, chats: FakeGroupChats) -> None:
    api.create_tenant()
    resp = api.callback(TENANT, chats.create("wrF1", owner="zhang", name="XX教育·考研数学·3期·01"))
    assert resp.status_code == 200 and resp.json["outcome"] == "refetched"
    joined = chats.join("wrF1", [A], scene=3, state="ch_poster", invitor="zhang")  # <Item> children
    assert api.callback(TENANT, joined).json["outcome"] == "applied"
    assert api.callback(TENANT, joined).json["outcome"] == "duplicate"
    comma = chats.join("wrF1", [B])
    comma["MemChangeList"] = ",".join(comma["MemChangeList"])  # the older, comma-separated form
    assert api.callback(TENANT, comma).json["outcome"] == "applied"
    for userid in (A, B):
        member = _member(userid, "wrF1")
        assert member is not None and member.in_group
    group = services().store.get_group(TENANT, "wrF1")
    assert group.state.member_count == 3 and group.state.member_version == chats.groups["wrF1"].member_version


def test_a_group_callback_without_a_chat_is_refused_and_stores_nothing(api: Api, chats: FakeGroupChats) -> None:
    api.create_tenant()
    fields = chats.create("wrF2", owner="zhang")
    fields.pop("ChatId")
    resp = api.callback(TENANT, fields)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_request"
    assert services().store.list_groups(TENANT, cursor=None, limit=10).items == []


def test_the_group_sync_is_started_and_followed(api: Api, chats: FakeGroupChats) -> None:
    token = api.create_tenant()
    for n in range(3):
        chats.create(f"wrS{n}", owner="zhang")  # groups that existed before the tenant connected
    started = api.call("POST", f"/t/{TENANT}/groups/sync", None, token)
    assert started.status_code == 202, started.body
    job = started.json
    assert job["reason"] == "first" and job["status"] == "done" and job["groups_seen"] == 3 and job["pages"] == 1
    seen = api.call("GET", f"/t/{TENANT}/groups/sync/{job['job_id']}", None, token)
    assert seen.status_code == 200 and seen.json["changed"] == 3
    missing = api.call("GET", f"/t/{TENANT}/groups/sync/gs_nope", None, token)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    again = api.call("POST", f"/t/{TENANT}/groups/sync", None, token)
    assert again.status_code == 202 and again.json["job_id"] != job["job_id"] and again.json["changed"] == 0
