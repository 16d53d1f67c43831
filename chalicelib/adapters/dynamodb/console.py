"""The console's sign-in records (issue 13 §1); see docs/data-model.md, "Console sign-in".

Key: ``T#<tid>`` / ``CONSOLE#<kind>#<sha256 of the secret>`` (``ConsoleItem``); the record in ``doc``;
``expires_at`` (TTL) at its expiry. The service judges expiry by its clock: TTL deletion lags by up to days.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.translate import translate


class ConsoleItem(SiyuItem, discriminator="console"):
    """A session, a sign-in link or an OAuth state: the hash of its secret in ``sk``, the record in ``doc``, TTL."""


class ConsoleRepository(DynamoBase):
    def put_console_record(
        self, tenant_id: str, kind: str, secret_hash: str, doc: dict[str, Any], expires_at: int
    ) -> None:
        item = ConsoleItem(
            pk=k.tenant_pk(tenant_id),
            sk=k.console_sk(kind, secret_hash),
            doc=json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )
        with translate("this console record already exists"):
            item.save(condition=SiyuItem.pk.does_not_exist())

    def get_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> dict[str, Any] | None:
        item = self.get(ConsoleItem, k.tenant_pk(tenant_id), k.console_sk(kind, secret_hash), consistent=True)
        return json.loads(item.doc) if item is not None and item.doc else None

    def take_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> dict[str, Any] | None:
        """Read, then delete on condition it still exists: the delete that wins is the one use."""
        doc = self.get_console_record(tenant_id, kind, secret_hash)
        if doc is None:
            return None
        try:
            ConsoleItem(pk=k.tenant_pk(tenant_id), sk=k.console_sk(kind, secret_hash)).delete(
                condition=SiyuItem.pk.exists()
            )
        except DeleteError as exc:
            if getattr(exc, "cause_response_code", "") == "ConditionalCheckFailedException":
                return None
            with translate():
                raise
        return doc

    def delete_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> None:
        with translate():
            ConsoleItem(pk=k.tenant_pk(tenant_id), sk=k.console_sk(kind, secret_hash)).delete()
