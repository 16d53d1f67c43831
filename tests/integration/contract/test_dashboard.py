"""The dashboard links' contract, on DynamoDB Local and on the fake: a link is found by its hash within its tenant
only, expired or not (the service judges expiry by its clock), and is never overwritten."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.dashboard import DashboardLinkRepository as R
from chalicelib.domain.dashboard import DashboardLink
from chalicelib.errors import ConflictError
from tests.integration.contract.registry import covers

LINK = DashboardLink("acme", "a" * 64, "dl_1", "2026-12-01T10:00:05+08:00", 1_764_640_805, "tk_1")


@covers(R.put_dashboard_link, R.get_dashboard_link)
def test_a_link_is_found_by_its_hash_in_its_tenant_only(store: Any) -> None:
    assert store.get_dashboard_link("acme", LINK.link_hash) is None
    store.put_dashboard_link(LINK)
    assert store.get_dashboard_link("acme", LINK.link_hash) == LINK
    assert store.get_dashboard_link("beta", LINK.link_hash) is None  # tenants never meet
    assert store.get_dashboard_link("acme", "b" * 64) is None
    other = replace(LINK, tenant_id="beta", link_id="dl_2")
    store.put_dashboard_link(other)  # the same hash in another tenant is another link
    assert store.get_dashboard_link("beta", LINK.link_hash) == other
    assert store.get_dashboard_link("acme", LINK.link_hash) == LINK


@covers(R.put_dashboard_link)
def test_a_link_is_never_overwritten(store: Any) -> None:
    store.put_dashboard_link(LINK)
    with pytest.raises(ConflictError):
        store.put_dashboard_link(replace(LINK, expires_at=LINK.expires_at + 86400, link_id="dl_9"))
    assert store.get_dashboard_link("acme", LINK.link_hash) == LINK


@covers(R.get_dashboard_link)
def test_an_expired_link_is_still_read_back_as_stored(store: Any) -> None:
    old = replace(LINK, link_hash="c" * 64, expires_at=1_000_000_000)  # long past: TTL lags, the clock decides
    store.put_dashboard_link(old)
    assert store.get_dashboard_link("acme", old.link_hash) == old


def test_dynamodb_deletes_the_item_by_ttl_at_the_links_expiry(ddb_settings: Any, dynamodb_client: Any) -> None:
    from chalicelib.adapters.dynamodb.models import configure
    from chalicelib.adapters.dynamodb.store import DynamoStore

    DynamoStore(configure(ddb_settings), ddb_settings.table_name).put_dashboard_link(LINK)
    key = {"pk": {"S": "T#acme"}, "sk": {"S": f"DASHLINK#{LINK.link_hash}"}}
    item = dynamodb_client.get_item(TableName=ddb_settings.table_name, Key=key)["Item"]
    assert item["expires_at"] == {"N": str(LINK.expires_at)}  # the table's TTL attribute, in unix seconds
    assert item["kind"] == {"S": "dashboard_link"}


@covers(R.list_dashboard_links, R.delete_dashboard_link)
def test_links_are_listed_per_tenant_and_deleted_once(store: Any) -> None:
    second = replace(LINK, link_hash="d" * 64, link_id="dl_2")
    store.put_dashboard_link(LINK)
    store.put_dashboard_link(second)
    store.put_dashboard_link(replace(LINK, tenant_id="beta", link_id="dl_b"))
    assert store.list_dashboard_links("acme") == [LINK, second]  # in hash order
    assert store.list_dashboard_links("nobody") == []
    store.delete_dashboard_link("acme", LINK.link_hash)
    store.delete_dashboard_link("acme", LINK.link_hash)  # again: nothing to do, no error
    assert store.get_dashboard_link("acme", LINK.link_hash) is None
    assert store.list_dashboard_links("acme") == [second]
    assert [link.link_id for link in store.list_dashboard_links("beta")] == ["dl_b"]
