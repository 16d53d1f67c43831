"""Tenants and their API tokens; see docs/data-model.md.

Keys: a tenant is ``T#<tid>`` / ``TENANT`` (listed through gsi1 ``TENANTS``), a token ``T#<tid>`` / ``TOKEN#<sha256>``.
A token's last use is a top-level number ``last_used`` (unix seconds), so recording it is a conditional update
that a busy token's concurrent requests cannot repeat within the resolution (domain/tenants.py).

With a secret store (deployed: SSM, adapters/secrets.py) a tenant's credentials are one SecureString per tenant and
its item names the version it goes with (``secrets_version``): the secret is written first, then the item, so a
crash between them leaves an unreferenced version and never an item without its secret, and a create that loses to
a concurrent one leaves the winner's item pointing at the winner's version. Items written before the migration
carry their credentials inline and are read as they are until ``migrate_secrets`` moves them (docs/deploy.md).
"""

from __future__ import annotations

import json

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SiyuItem, TenantItem, TokenItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.tenants import Tenant, TokenRecord, tenant_secret_name
from chalicelib.errors import UpstreamError
from chalicelib.ports import Page, SecretStore


class TenantRepository(DynamoBase):
    secrets: SecretStore | None = None  # None: credentials stay in the item (offline stages: settings.secrets)

    def _item(self, tenant: Tenant) -> TenantItem:
        if self.secrets is None:
            return m.tenant_to_item(tenant)
        version = self.secrets.put(tenant_secret_name(tenant.tenant_id), json.dumps(tenant.secret_fields()))
        return m.tenant_to_item(tenant, secrets_version=version)

    def _tenant(self, item: TenantItem) -> Tenant:
        tenant, version = m.tenant_from_item(item)
        if version is None:
            return tenant
        if self.secrets is None:
            raise UpstreamError(f"tenant {tenant.tenant_id}'s credentials are in SSM, and no secret store is set")
        raw = self.secrets.get(tenant_secret_name(tenant.tenant_id), version)
        if raw is None:
            raise UpstreamError(f"tenant {tenant.tenant_id}'s credentials (version {version}) are missing from SSM")
        return tenant.with_secrets(json.loads(raw))

    def create_tenant(self, tenant: Tenant) -> None:
        item = self._item(tenant)
        with translate(f"tenant {tenant.tenant_id} already exists"):
            item.save(condition=SiyuItem.pk.does_not_exist())

    def get_tenant(self, tenant_id: str, *, consistent: bool = False) -> Tenant | None:
        """``consistent`` when a write a moment ago must show (a re-read after a rotated secret)."""
        item = self.get(TenantItem, k.tenant_pk(tenant_id), k.TENANT_SK, consistent=consistent)
        return self._tenant(item) if item else None

    def put_tenant(self, tenant: Tenant) -> None:
        item = self._item(tenant)
        with translate(f"tenant {tenant.tenant_id} does not exist"):
            item.save(condition=SiyuItem.pk.exists())

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page:
        raws, nxt = self.query_page(TenantItem, k.TENANTS_GSI_PK, cursor=cursor, limit=limit, index=True)
        return Page([self._tenant(TenantItem.from_raw_data(r)) for r in raws], nxt)

    def migrate_secrets(self, tenant_id: str) -> bool:
        """Move a tenant's inline credentials into the secret store; False when there is nothing to move. The item
        is replaced only if it is still the one read, so a change made meanwhile is never overwritten (run again)."""
        if self.secrets is None:
            raise UpstreamError("no secret store is set (SIYU_SECRETS=table): nothing to migrate to")
        item = self.get(TenantItem, k.tenant_pk(tenant_id), k.TENANT_SK, consistent=True)
        if item is None:
            return False
        tenant, version = m.tenant_from_item(item)
        if version is not None:
            return False
        with translate(f"tenant {tenant_id} changed during its migration: run it again"):
            self._item(tenant).save(condition=SiyuItem.doc == item.doc)
        return True

    def put_token(self, record: TokenRecord) -> None:
        with translate():
            m.token_to_item(record).save()

    def get_token(self, tenant_id: str, token_hash: str) -> TokenRecord | None:
        """Strongly consistent (1 RCU, not 0.5): a token revoked a moment ago must answer 401 at once."""
        item = self.get(TokenItem, k.tenant_pk(tenant_id), k.token_sk(token_hash), consistent=True)
        return m.token_from_item(item) if item else None

    def list_tokens(self, tenant_id: str) -> list[TokenRecord]:
        items, _ = self.query(TokenItem, k.tenant_pk(tenant_id), TokenItem.sk.startswith(k.TOKEN_PREFIX))
        return [m.token_from_item(i) for i in items]

    def delete_token(self, tenant_id: str, token_hash: str) -> None:
        with translate():
            TokenItem(pk=k.tenant_pk(tenant_id), sk=k.token_sk(token_hash)).delete()

    def record_token_use(self, tenant_id: str, token_hash: str, *, at: int, if_before: int) -> bool:
        """Set the token's ``last_used`` to ``at`` unless it is already ``if_before`` or later (or the token is
        gone: a revoked token is never re-created). True if this call wrote it; concurrent callers write once."""
        item = TokenItem(pk=k.tenant_pk(tenant_id), sk=k.token_sk(token_hash))
        condition = SiyuItem.pk.exists() & (TokenItem.last_used.does_not_exist() | (TokenItem.last_used < if_before))
        return self.conditional(lambda: item.update(actions=[TokenItem.last_used.set(at)], condition=condition))
