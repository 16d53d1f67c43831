"""The CRM import's storage (keys/crm.py): imports, and orders under their phone's digest.

An order item carries the import that wrote it; readers keep only those of complete imports (services/crm_import.py),
so an import that died halfway is invisible, and running it again (the same file) completes it.
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.crm_import import CrmOrder

COMPLETE = "complete"


class CrmImportItem(SiyuItem, discriminator="crm_import"):
    """One import's record (counts and state, no personal data); ``status`` guards a complete one."""

    status = UnicodeAttribute(null=True)


class CrmOrderItem(SiyuItem, discriminator="crm_order"):
    """One order of one import, in its phone's partition; ``doc`` holds the order."""


class CrmRepository(DynamoBase):
    def begin_crm_import(self, tenant_id: str, record: dict[str, Any]) -> bool:
        """Write an import's record unless a complete one is there (False): a repeat never reopens it."""
        item = CrmImportItem(
            pk=k.crm_imports_pk(tenant_id),
            sk=k.crm_import_sk(record["import_id"]),
            status=record["status"],
            doc=json.dumps(record),
        )
        cond = SiyuItem.pk.does_not_exist() | (CrmImportItem.status != COMPLETE)
        return self.conditional(lambda: item.save(condition=cond))

    def save_crm_import(self, tenant_id: str, record: dict[str, Any]) -> None:
        """Save an import's record as it now stands (its completion makes its orders visible at once)."""
        item = CrmImportItem(
            pk=k.crm_imports_pk(tenant_id),
            sk=k.crm_import_sk(record["import_id"]),
            status=record["status"],
            doc=json.dumps(record),
        )
        with translate():
            item.save()

    def get_crm_import(self, tenant_id: str, import_id: str) -> dict[str, Any] | None:
        item = self.get(CrmImportItem, k.crm_imports_pk(tenant_id), k.crm_import_sk(import_id), consistent=True)
        return _doc(item) if item else None

    def list_crm_imports(self, tenant_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The tenant's imports, newest first (a small partition: read whole, sorted by creation)."""
        raws = self.query_raw(k.crm_imports_pk(tenant_id))
        records = [json.loads(r.get("doc", {}).get("S") or "{}") for r in raws]
        return sorted(records, key=lambda r: (r.get("created_at", ""), r.get("import_id", "")), reverse=True)[:limit]

    def put_crm_orders(self, tenant_id: str, orders: list[CrmOrder]) -> None:
        """Write orders (BatchWriteItem of 25; PynamoDB retries the unprocessed): each put is idempotent."""
        with translate(), CrmOrderItem.batch_write() as batch:
            for o in orders:
                batch.save(
                    CrmOrderItem(
                        pk=k.crm_pk(tenant_id, o.phone_digest),
                        sk=k.crm_order_sk(o.order_key, o.import_id),
                        doc=json.dumps(_order_doc(o)),
                    )
                )

    def crm_orders_of(self, tenant_id: str, phone_digest: str) -> list[CrmOrder]:
        """Every order item under a phone, of any import (complete or not), in key order."""
        raws = self.query_raw(k.crm_pk(tenant_id, phone_digest), SiyuItem.sk.startswith(k.CRM_ORDER_PREFIX))
        return [_order(phone_digest, json.loads(r.get("doc", {}).get("S") or "{}")) for r in raws]

    def phone_owners(self, tenant_id: str, phone_digests: list[str]) -> dict[str, str]:
        """phone digest -> the customer whose phone alias it is (BatchGetItem; tombstones and unknowns absent)."""
        keys = [(k.alias_pk(tenant_id, "phone", d), k.ALIAS_SK) for d in phone_digests]
        found = self.batch_get(keys)
        owners: dict[str, str] = {}
        for d, key in zip(phone_digests, keys, strict=True):
            cid = found.get(key, {}).get("customer_id", {}).get("S")
            if cid:
                owners[d] = cid
        return owners

    def erase_crm_orders(self, tenant_id: str, phone_digests: list[str]) -> int:
        """Delete every order under these phones (a customer's erasure); how many were deleted."""
        deleted = 0
        for digest in phone_digests:
            pk, start = k.crm_pk(tenant_id, digest), None
            while True:
                raws, start = self.walk(pk, keys_only=True, start=start)
                self.batch_delete([(r["pk"]["S"], r["sk"]["S"]) for r in raws])
                deleted += len(raws)
                if not start:
                    break
        return deleted


def _doc(item: SiyuItem) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(item.doc or "{}")
    return doc


def _order_doc(o: CrmOrder) -> dict[str, Any]:
    return {
        "key": o.order_key,
        "ref": o.customer_ref,
        "product": o.product,
        "amount": o.amount,
        "date": o.date,
        "kind": o.kind,
        "import_id": o.import_id,
    }


def _order(phone_digest: str, doc: dict[str, Any]) -> CrmOrder:
    return CrmOrder(
        phone_digest=phone_digest,
        order_key=doc["key"],
        customer_ref=doc["ref"],
        product=doc["product"],
        amount=doc["amount"],
        date=doc["date"],
        kind=doc.get("kind", "full"),
        import_id=doc["import_id"],
    )
