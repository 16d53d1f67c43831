"""WeComClient's acquisition-link calls (获客助手) against the WeCom world in process: create, read, list (paged),
update, delete; the customers a link brought with their state (the URL's customer_channel); the quota each new add
spends, and a spent quota that stops the link; the documented limits checked before a call is spent."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.ports import WeComCredentials
from devstack.wecom_world import WeComWorld, WorldError, WorldTransport
from devstack.wecom_world.acquisition import QuotaExhaustedError

CORP = "wwacqclient00001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s1")
NOW = 1_796_000_000.0


@pytest.fixture
def world() -> WeComWorld:
    return WeComWorld(clock=lambda: NOW)


@pytest.fixture
def client(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None, monotonic=lambda: 0.0)


def test_a_link_is_created_read_updated_and_deleted(world: WeComWorld, client: WeComClient) -> None:
    link = client.create_link(CREDS, link_name="抖音12月·abc", userids=["zhang", "li"])
    assert link.link_id and link.url == f"{world.public_url}/ca/{link.link_id}"
    assert (link.link_name, link.userids) == ("抖音12月·abc", ("zhang", "li"))
    call = world.calls("externalcontact/customer_acquisition/create_link")[-1]
    assert call.payload == {"link_name": "抖音12月·abc", "range": {"user_list": ["zhang", "li"]}, "skip_verify": True}

    client.update_link(CREDS, link_id=link.link_id, link_name="抖音1月·abc", userids=["wang"])
    got = client.get_link(CREDS, link.link_id)
    assert (got.link_name, got.userids, got.url) == ("抖音1月·abc", ("wang",), link.url)

    client.delete_link(CREDS, link_id=link.link_id)
    with pytest.raises(errors.WeComInvalidArgumentError):
        client.get_link(CREDS, link.link_id)
    assert client.list_links(CREDS) == ([], "")


def test_list_link_pages_by_cursor(client: WeComClient) -> None:
    made = [client.create_link(CREDS, link_name=f"链接{i}", userids=["zhang"]).link_id for i in range(5)]
    first, cursor = client.list_links(CREDS, limit=2)
    assert first == made[:2] and cursor
    rest: list[str] = []
    while cursor:
        page, cursor = client.list_links(CREDS, cursor=cursor, limit=2)
        rest.extend(page)
    assert first + rest == made


def test_an_add_through_the_link_reports_its_customer_channel_and_spends_quota(
    world: WeComWorld, client: WeComClient
) -> None:
    world.set_link_quota(CORP, balance=2, total=10)
    link = client.create_link(CREDS, link_name="官网", userids=["zhang", "li"])
    first = world.open_link(CORP, f"{link.url}?customer_channel=ch_site", name="小王")
    second = world.open_link(CORP, f"{link.url}?customer_channel=ch_site")
    assert (first["State"], first["UserID"], second["UserID"]) == ("ch_site", "zhang", "li")  # round-robin range
    assert first["WelcomeCode"] and first["ChangeType"] == "add_external_contact"
    customers, cursor = client.link_customers(CREDS, link_id=link.link_id)
    assert [(c.external_userid, c.userid, c.state) for c in customers] == [
        (first["ExternalUserID"], "zhang", "ch_site"),
        (second["ExternalUserID"], "li", "ch_site"),
    ]
    assert cursor == ""
    quota = client.acquisition_quota(CREDS)
    assert (quota.total, quota.balance, quota.batches) == (10, 0, ())
    with pytest.raises(QuotaExhaustedError):
        world.open_link(CORP, f"{link.url}?customer_channel=ch_site")
    assert len(client.link_customers(CREDS, link_id=link.link_id)[0]) == 2  # the refused open added no one


def test_a_deleted_link_adds_no_one_and_a_long_channel_is_cut_to_64_bytes(
    world: WeComWorld, client: WeComClient
) -> None:
    link = client.create_link(CREDS, link_name="知乎", userids=["zhang"])
    fields = world.open_link(CORP, f"{link.url}?customer_channel={'x' * 70}")
    assert fields["State"] == "x" * 64
    client.delete_link(CREDS, link_id=link.link_id)
    with pytest.raises(WorldError):
        world.open_link(CORP, f"{link.url}?customer_channel=ch_x")


def test_the_quota_lists_its_batch(world: WeComWorld, client: WeComClient) -> None:
    quota = client.acquisition_quota(CREDS)
    assert quota.balance == quota.total == 1000
    assert [b.balance for b in quota.batches] == [1000] and quota.batches[0].expire_date > NOW


@pytest.mark.parametrize(
    ("name", "userids"),
    [
        ("", ["zhang"]),
        ("x" * 31, ["zhang"]),
        ("ok", []),
        ("ok", ["zhang", "zhang"]),
        ("ok", [f"u{i}" for i in range(501)]),
    ],
)
def test_documented_limits_are_checked_before_a_call(
    world: WeComWorld, client: WeComClient, name: str, userids: list[str]
) -> None:
    with pytest.raises(errors.InvalidError):
        client.create_link(CREDS, link_name=name, userids=userids)
    assert world.calls("externalcontact/customer_acquisition/create_link") == []


def test_limits_of_the_list_calls(world: WeComWorld, client: WeComClient) -> None:
    with pytest.raises(errors.InvalidError):
        client.list_links(CREDS, limit=101)
    with pytest.raises(errors.InvalidError):
        client.link_customers(CREDS, link_id="x", limit=1001)
    with pytest.raises(errors.InvalidError):
        client.delete_link(CREDS, link_id="")
    assert world.calls() == []


def test_the_world_refuses_an_unknown_link_and_a_bad_cursor(client: WeComClient) -> None:
    with pytest.raises(errors.WeComInvalidArgumentError):
        client.update_link(CREDS, link_id="nope", link_name="x", userids=["zhang"])
    with pytest.raises(errors.WeComInvalidArgumentError):
        client.list_links(CREDS, cursor="not-a-cursor")


def test_a_snapshot_keeps_links_and_quota(world: WeComWorld, client: WeComClient) -> None:
    world.set_link_quota(CORP, balance=7, total=9)
    link = client.create_link(CREDS, link_name="快照", userids=["zhang"])
    world.open_link(CORP, f"{link.url}?customer_channel=ch_a")
    restored = WeComWorld(clock=lambda: NOW)
    restored.restore(world.snapshot())
    assert restored.links(CORP) == world.links(CORP)
    fields = restored.open_link(CORP, f"{link.url}?customer_channel=ch_b")
    assert fields["State"] == "ch_b" and restored.corp(CORP).link_quota_balance == 5
