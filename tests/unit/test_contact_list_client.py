"""The client's bulk read of existing contacts against the WeCom world: get_follow_user_list and batch/get_by_user
(fields as page 92994 names them, WeCom's limits, an opaque cursor that neither repeats nor skips a contact when the
listing changes between two pages), and the world's errcodes for what WeCom refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.errors import InvalidError, WeComInvalidArgumentError, WeComRateLimitError
from chalicelib.ports import WeComCredentials
from devstack.sandbox import SandboxServer
from devstack.wecom_world import WeComWorld, WorldTransport
from devstack.wecom_world.state import WorldError

CORP = "wwcontactlist001"
CREDS = WeComCredentials("t", CORP, "s")
BATCH = "externalcontact/batch/get_by_user"


@pytest.fixture
def world() -> WeComWorld:
    return WeComWorld(clock=lambda: 1_800_000_000.0)


@pytest.fixture
def client(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None)


def _raw(world: WeComWorld, api: str, payload: dict[str, Any]) -> dict[str, Any]:
    token = world.handle("gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    return world.handle(api, {"access_token": token}, payload)


def test_follow_user_list_names_every_staff_member_with_contacts(world: WeComWorld, client: WeComClient) -> None:
    world.seed_contacts(CORP, "zhang", 2)
    world.seed_contacts(CORP, "li", 1)
    assert client.get_follow_user_list(CREDS) == ["li", "zhang"]
    assert world.calls("externalcontact/get_follow_user_list")[0].payload == {}


def test_batch_get_by_user_maps_each_relation_with_its_state_tags_phone_and_createtime(
    world: WeComWorld, client: WeComClient
) -> None:
    group = client.add_corp_tags(CREDS, group_name="年级", tag_names=["初三"])
    tag = group.tags["初三"]
    ids = world.seed_contacts(CORP, "zhang", 3, state="ch_abcd1234", tags=[tag], createtime=1_700_000_000, phones=True)
    page = client.batch_get_by_user(CREDS, userids=["zhang"])
    assert [c.external_userid for c in page.contacts] == ids and page.next_cursor == ""
    first = page.contacts[0]
    follow = first.follow_users[0]
    assert (follow.userid, follow.state, follow.createtime, follow.tag_ids) == (
        "zhang",
        "ch_abcd1234",
        1_700_000_000,
        (tag,),
    )
    assert len(follow.remark_mobiles) == 1 and follow.remark_mobiles[0].startswith("139")
    assert first.unionid and first.name
    body = world.calls(BATCH)[0].payload
    assert body == {"userid_list": ["zhang"], "limit": 100}
    raw = _raw(world, BATCH, {"userid_list": ["zhang"]})
    assert set(raw["external_contact_list"][0]["follow_info"]) >= {
        "userid",
        "remark",
        "description",
        "createtime",
        "tag_id",
        "remark_mobiles",
        "state",
        "add_way",
        "oper_userid",
    }


def test_pages_by_cursor_without_repeats_or_skips_when_the_listing_changes(
    world: WeComWorld, client: WeComClient
) -> None:
    ids = world.seed_contacts(CORP, "zhang", 250, createtime=1_700_000_000)
    first = client.batch_get_by_user(CREDS, userids=["zhang"], limit=100)
    world.event(CORP, "del_external_contact", userid="zhang", external_userid=ids[3])  # on a page already read
    later = world.seed_contacts(CORP, "zhang", 1)  # a new one: after the others
    seen = [c.external_userid for c in first.contacts]
    cursor = first.next_cursor
    while cursor:
        page = client.batch_get_by_user(CREDS, userids=["zhang"], cursor=cursor, limit=100)
        seen += [c.external_userid for c in page.contacts]
        cursor = page.next_cursor
    assert seen == ids + later
    again = client.batch_get_by_user(CREDS, userids=["zhang"], cursor=first.next_cursor, limit=100)
    assert [c.external_userid for c in again.contacts] == ids[100:200]  # a cursor is stable


def test_several_staff_come_in_the_order_asked(world: WeComWorld, client: WeComClient) -> None:
    zhang = world.seed_contacts(CORP, "zhang", 2, createtime=1_700_000_100)
    li = world.seed_contacts(CORP, "li", 2, createtime=1_700_000_000)
    page = client.batch_get_by_user(CREDS, userids=["zhang", "li"])
    assert [c.external_userid for c in page.contacts] == zhang + li


def test_wecom_limits_are_checked_before_a_call_and_played_by_the_world(world: WeComWorld, client: WeComClient) -> None:
    with pytest.raises(InvalidError):
        client.batch_get_by_user(CREDS, userids=[f"u{n}" for n in range(101)])
    with pytest.raises(InvalidError):
        client.batch_get_by_user(CREDS, userids=["zhang"], limit=101)
    with pytest.raises(InvalidError):
        client.batch_get_by_user(CREDS, userids=[])
    assert world.calls(BATCH) == []
    assert _raw(world, BATCH, {"userid_list": [f"u{n}" for n in range(101)]})["errcode"] == 40058
    assert _raw(world, BATCH, {"userid_list": ["zhang"], "limit": 101})["errcode"] == 40058
    assert _raw(world, BATCH, {"userid_list": []})["errcode"] == 41009
    assert _raw(world, BATCH, {"userid_list": ["zhang"], "cursor": "not-a-cursor"})["errcode"] == 50100
    with pytest.raises(WeComInvalidArgumentError):
        client.batch_get_by_user(CREDS, userids=["zhang"], cursor="%%%")


def test_rate_limits_are_raised_for_the_job_to_wait_never_retried_by_the_client(
    world: WeComWorld, client: WeComClient
) -> None:
    world.seed_contacts(CORP, "zhang", 1)
    world.inject(BATCH, 45009)
    with pytest.raises(WeComRateLimitError):
        client.batch_get_by_user(CREDS, userids=["zhang"])
    world.inject("externalcontact/get_follow_user_list", 45033)
    with pytest.raises(WeComRateLimitError):
        client.get_follow_user_list(CREDS)
    assert len(client.batch_get_by_user(CREDS, userids=["zhang"]).contacts) == 1


def test_seeding_refuses_unknown_tags(world: WeComWorld) -> None:
    with pytest.raises(WorldError):
        world.seed_contacts(CORP, "zhang", 1, tags=["etnope"])


def test_the_sandbox_seeds_pre_existing_contacts_over_http() -> None:
    server = SandboxServer(api_base="http://127.0.0.1:9").start()  # no callback is delivered by a seed
    try:
        http = urllib3.PoolManager()

        def post(body: dict[str, Any]) -> tuple[int, Any]:
            resp = http.request("POST", f"{server.base_url}/sandbox/contacts/seed", body=json.dumps(body).encode())
            return resp.status, json.loads(resp.data)

        status, answer = post({"corp_id": CORP, "userid": "zhang", "count": 3, "state": "ch_abcd1234"})
        assert status == 200 and len(answer["external_userids"]) == 3
        client = WeComClient(Urllib3Transport(server.base_url), sleep=lambda s: None)
        page = client.batch_get_by_user(CREDS, userids=["zhang"])
        assert [c.external_userid for c in page.contacts] == answer["external_userids"]
        assert {c.follow_users[0].state for c in page.contacts} == {"ch_abcd1234"}
        for bad in ({"corp_id": CORP, "userid": "zhang", "count": -1}, {"corp_id": CORP, "count": 1}):
            status, answer = post(bad)
            assert status == 400 and answer["error"]["message"]
        status, _ = post({"corp_id": CORP, "userid": "li", "count": 1, "tags": ["etnope"]})
        assert status == 400
        assert server.world.calls(BATCH)[0].payload["userid_list"] == ["zhang"]
    finally:
        server.stop()
