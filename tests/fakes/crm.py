"""The in-memory CRM import store (adapters/dynamodb/crm.py): imports, and orders under their phone's digest."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.domain.crm_import import CrmOrder
from chalicelib.domain.facts import Alias


class FakeCrmStoreMixin:
    lock: Any
    aliases: dict[tuple[str, str, str], Alias]

    def _crm(self) -> dict[str, Any]:
        store: dict[str, Any] = self.__dict__.setdefault("_crm_store", {"imports": {}, "orders": {}})
        return store

    def begin_crm_import(self, tenant_id: str, record: dict[str, Any]) -> bool:
        with self.lock:
            imports = self._crm()["imports"]
            current = imports.get((tenant_id, record["import_id"]))
            if current is not None and current["status"] == "complete":
                return False
            imports[(tenant_id, record["import_id"])] = copy.deepcopy(record)
            return True

    def save_crm_import(self, tenant_id: str, record: dict[str, Any]) -> None:
        with self.lock:
            self._crm()["imports"][(tenant_id, record["import_id"])] = copy.deepcopy(record)

    def get_crm_import(self, tenant_id: str, import_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._crm()["imports"].get((tenant_id, import_id))
            return copy.deepcopy(found) if found is not None else None

    def list_crm_imports(self, tenant_id: str, *, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            records = [copy.deepcopy(r) for (t, _), r in self._crm()["imports"].items() if t == tenant_id]
        return sorted(records, key=lambda r: (r.get("created_at", ""), r.get("import_id", "")), reverse=True)[:limit]

    def put_crm_orders(self, tenant_id: str, orders: list[CrmOrder]) -> None:
        with self.lock:
            stored = self._crm()["orders"]
            for o in orders:
                stored.setdefault((tenant_id, o.phone_digest), {})[(o.order_key, o.import_id)] = o

    def crm_orders_of(self, tenant_id: str, phone_digest: str) -> list[CrmOrder]:
        with self.lock:
            found = self._crm()["orders"].get((tenant_id, phone_digest), {})
            return [found[key] for key in sorted(found)]

    def phone_owners(self, tenant_id: str, phone_digests: list[str]) -> dict[str, str]:
        with self.lock:
            owners = {d: self.aliases.get((tenant_id, "phone", d)) for d in phone_digests}
        return {d: a.customer_id for d, a in owners.items() if a is not None and a.customer_id}

    def erase_crm_orders(self, tenant_id: str, phone_digests: list[str]) -> int:
        with self.lock:
            stored = self._crm()["orders"]
            return sum(len(stored.pop((tenant_id, d), {})) for d in phone_digests)
