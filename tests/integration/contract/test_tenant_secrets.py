"""Tenant credentials kept in a secret store (SSM deployed), on DynamoDB Local and on the fake: a tenant written
with a secret store round-trips whole; one written before (credentials in the item) is migrated once; DynamoDB's
item then holds no credential, only the version it goes with."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.tenants import TenantRepository
from chalicelib.domain.tenants import SECRET_FIELDS, Tenant, tenant_secret_name
from chalicelib.errors import ConflictError, UpstreamError
from tests.fakes.secrets import FakeSecrets
from tests.integration.contract.registry import covers


def tenant(tid: str = "acme", secret: str = "corp-secret-1") -> Tenant:
    return Tenant(
        tid, "Acme 教育", "wwacme", "Asia/Shanghai", "tok", "k" * 43, secret, "salt", "2026-12-01T08:00:00+08:00",
        events_secret="events-secret-1",
    )  # fmt: skip


def use_secrets(store: Any, secrets: FakeSecrets) -> None:
    if hasattr(store, "repos"):
        store.repos.tenants.secrets = secrets
    else:
        store.secrets = secrets


def raw_doc(store: Any, tid: str) -> str:
    item = store.client.get_item(TableName=store.table, Key={"pk": {"S": f"T#{tid}"}, "sk": {"S": "TENANT"}})
    return str(item["Item"]["doc"]["S"])


@covers(TenantRepository.migrate_secrets)
def test_a_tenant_written_before_the_migration_moves_once(store: Any) -> None:
    store.create_tenant(tenant())  # no secret store yet: the credentials are in the item (the old layout)
    with pytest.raises(UpstreamError):
        store.migrate_secrets("acme")  # nowhere to migrate to
    secrets = FakeSecrets()
    use_secrets(store, secrets)
    assert store.get_tenant("acme") == tenant()  # read as it is before it moves
    assert store.migrate_secrets("acme") is True
    assert store.migrate_secrets("acme") is False  # run again: nothing to move
    assert store.migrate_secrets("nobody") is False
    assert store.get_tenant("acme", consistent=True) == tenant()
    store.create_tenant(tenant("beta"))  # written with the store: nothing to migrate
    assert store.migrate_secrets("beta") is False
    assert [t.tenant_id for t in store.list_tenants(cursor=None, limit=10).items] == ["acme", "beta"]


def test_dynamodb_keeps_no_credential_in_the_item(ddb_store_with_secrets: tuple[Any, FakeSecrets]) -> None:
    store, secrets = ddb_store_with_secrets
    store.create_tenant(tenant())
    doc = raw_doc(store, "acme")
    assert "corp-secret-1" not in doc and "events-secret-1" not in doc and "k" * 43 not in doc
    assert '"secrets_version":1' in doc
    assert store.get_tenant("acme") == tenant()
    store.put_tenant(tenant(secret="corp-secret-2"))  # a rotated secret is a new version
    assert '"secrets_version":2' in raw_doc(store, "acme")
    assert store.get_tenant("acme", consistent=True).wecom_secret == "corp-secret-2"
    assert set(secrets.versions) == {tenant_secret_name("acme")}
    assert len(SECRET_FIELDS) == 7


def test_a_create_that_loses_keeps_the_winners_credentials(ddb_store_with_secrets: tuple[Any, FakeSecrets]) -> None:
    store, _ = ddb_store_with_secrets
    store.create_tenant(tenant())
    with pytest.raises(ConflictError):
        store.create_tenant(tenant(secret="intruder"))  # its secret was written first, as version 2
    assert store.get_tenant("acme", consistent=True).wecom_secret == "corp-secret-1"  # the item still names v1


def test_a_missing_secret_is_a_clear_error(ddb_store_with_secrets: tuple[Any, FakeSecrets]) -> None:
    store, secrets = ddb_store_with_secrets
    store.create_tenant(tenant())
    secrets.versions.clear()
    with pytest.raises(UpstreamError, match="missing from SSM"):
        store.get_tenant("acme")
    store.repos.tenants.secrets = None
    with pytest.raises(UpstreamError, match="no secret store"):
        store.get_tenant("acme")


@pytest.fixture
def ddb_store_with_secrets(ddb_settings: Any) -> tuple[Any, FakeSecrets]:
    from chalicelib.adapters.dynamodb.models import configure
    from chalicelib.adapters.dynamodb.store import DynamoStore

    secrets = FakeSecrets()
    return DynamoStore(configure(ddb_settings), ddb_settings.table_name, secrets=secrets), secrets
