"""Groups through the real routes, WeCom played by the sandbox: its group routes make each change in the WeCom world
and deliver the signed change_external_chat to the callback URL (both MemChangeList forms reach the same place), a
redelivery changes nothing, a malformed one is refused with a 4xx, and the group sync is started and followed
through /t/{t}/groups/sync against the world's groupchat/list and groupchat/get."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.bootstrap import services
from chalicelib.services.groups.members import member_key
from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.group_sandbox import GroupSandbox, group_sandbox, outcomes

A, B = "wmFuncA000000000000000000000000A", "wmFuncB000000000000000000000000B"


@pytest.fixture
def wecom(api: Api, monkeypatch: pytest.MonkeyPatch) -> GroupSandbox:
    return group_sandbox(api, monkeypatch)


def _member(userid: str, chat_id: str) -> Any:
    svc = services()
    tenant = svc.tenants.get(TENANT)
    key = member_key(tenant, userid)
    return svc.store.get_members(TENANT, chat_id, [key]).get(key)


def _world_group(api: Api, chat_id: str) -> dict[str, Any]:
    return next(g for g in api.sandbox.world.groups(CORP) if g["chat_id"] == chat_id)


def test_group_callbacks_through_the_callback_url(api: Api, wecom: GroupSandbox) -> None:
    api.create_tenant()
    wecom.register()
    created = wecom.change(change="create", owner="zhang", name="XX教育·考研数学·3期·01")
    chat = created["chat_id"]
    assert outcomes(created) == ["refetched"]
    joined = wecom.join(chat_id=chat, external_userid=A, invitor="zhang")  # <Item> children
    assert outcomes(joined) == ["applied"]
    again = api.callback(TENANT, joined["callbacks"][0]["fields"])  # WeCom delivers it once more
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    comma = wecom.join(chat_id=chat, external_userid=B, mem_change_list="text")  # the older, comma-separated form
    assert comma["callbacks"][0]["fields"]["MemChangeList"] == B and outcomes(comma) == ["applied"]
    for userid in (A, B):
        member = _member(userid, chat)
        assert member is not None and member.in_group and member.invitor == "zhang"
    group = services().store.get_group(TENANT, chat)
    assert group.state.member_count == 3 and group.state.member_version == _world_group(api, chat)["member_version"]

    left = wecom.leave(chat_id=chat, external_userid=A, removed=True)
    assert outcomes(left) == ["applied"]
    gone = _member(A, chat)
    assert gone is not None and not gone.in_group and gone.quit_scene == 1
    renamed = wecom.change(change="change_name", chat_id=chat, name="XX教育·考研数学·3期·02")
    assert outcomes(renamed) == ["refetched"]
    group = services().store.get_group(TENANT, chat)
    truth = _world_group(api, chat)
    assert (
        (group.state.name, group.state.member_count)
        == (truth["name"], truth["member_count"])
        == (
            "XX教育·考研数学·3期·02",
            2,
        )
    )
    assert group.state.member_version == truth["member_version"]


def test_a_group_callback_without_a_chat_is_refused_and_stores_nothing(api: Api) -> None:
    api.create_tenant()
    fields = api.sandbox.world.group_change(CORP, "create", owner="zhang", name="XX教育·考研数学·3期·01")
    fields.pop("ChatId")
    resp = api.callback(TENANT, fields)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_request"
    assert services().store.list_groups(TENANT, cursor=None, limit=10).items == []


def test_the_group_sync_is_started_and_followed(api: Api, wecom: GroupSandbox) -> None:
    token = api.create_tenant()
    wecom.register()
    for n in range(3):  # groups that existed before the tenant connected: no callback
        wecom.seed(owner="zhang", name=f"XX教育·考研数学·3期·{n:02d}", members=[A])
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
