"""CRM import (撞单 against the institution's own records): past customers and orders from a CSV or XLSX file.

All or nothing, effectively once:
- the whole file is checked first; one bad row and nothing is written (every bad row is reported by its number);
- the orders are written under the import's id (the file's keyed digest) and count only once the import is marked
  complete, so a crash mid-write shows nothing, and uploading the same file again completes it;
- an order is keyed by the institution's customer id, product and date, so the same order in two files is one;
- an order reaches a customer as a business event (``crm:<order key>``): once, whether it comes at import time
  (a customer Siyu has already, by their phone alias) or with their first add (``CrmMatcher``, on the "added"
  signal). The event publishes the order and stage signals; the plans' purchase exit rules do the rest.

Phones are kept only as the tenant-keyed digest identity uses; names are not kept at all; nothing here logs a phone,
a name or a product.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any, Protocol

from chalicelib.domain.business_events import ORDER, BusinessEvent
from chalicelib.domain.crm_import import CrmOrder, CrmSheet, import_id_of, order_event_id, parse_sheet
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import iso_of
from chalicelib.domain.signals import Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError, PayloadTooLargeError, SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock
from chalicelib.services import sheets

MAX_BYTES = 5 * 1024 * 1024  # below Lambda's 6 MB request payload
MAX_ROWS = 20_000  # what one request writes and matches well within API Gateway's 29 s; split larger files
WRITE_CHUNK = 500
STAGED, COMPLETE = "staged", "complete"
SOURCE = "crm"
ORDER_HOUR = time(12, 0)  # an order's day becomes an instant at local noon: the day stays the day in any zone view


class CrmRowsError(InvalidError):
    """The file has bad rows (422): every one, by its row number, under ``rows``; nothing was imported."""

    status = 422
    code = "invalid_rows"

    def __init__(self, message: str, *, rows: list[dict[str, Any]], details: list[dict[str, Any]]) -> None:
        super().__init__(message, details=details)
        self.rows = rows

    def to_body(self) -> dict[str, Any]:
        return {**super().to_body(), "rows": self.rows}


class CrmRepo(Protocol):
    def begin_crm_import(self, tenant_id: str, record: dict[str, Any]) -> bool: ...
    def save_crm_import(self, tenant_id: str, record: dict[str, Any]) -> None: ...
    def get_crm_import(self, tenant_id: str, import_id: str) -> dict[str, Any] | None: ...
    def list_crm_imports(self, tenant_id: str, *, limit: int) -> list[dict[str, Any]]: ...
    def put_crm_orders(self, tenant_id: str, orders: list[CrmOrder]) -> None: ...
    def crm_orders_of(self, tenant_id: str, phone_digest: str) -> list[CrmOrder]: ...
    def phone_owners(self, tenant_id: str, phone_digests: list[str]) -> dict[str, str]: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...


class OrderEvents(Protocol):
    """Where an order becomes a customer's (services/business_events.EventService: once per event id)."""

    def apply(self, tenant: Tenant, ev: BusinessEvent) -> Any: ...


class CrmImportService:
    def __init__(self, repo: CrmRepo, clock: Clock, events: OrderEvents) -> None:
        self.repo = repo
        self.clock = clock
        self.events = events

    # --- the upload -------------------------------------------------------------------------------------------

    def check(self, tenant: Tenant, raw: bytes, content_type: str) -> CrmSheet:
        """The file read and checked whole: its orders, or CrmRowsError naming every bad row (400 for a file
        that cannot be read as a sheet of orders at all)."""
        if len(raw) > MAX_BYTES:
            raise PayloadTooLargeError(f"the file is over {MAX_BYTES // (1024 * 1024)} MB; split it")
        if not raw.strip():
            raise InvalidError("the file is empty")
        fmt = sheets.sheet_format(content_type, raw)
        too_many = f"the file has more than {MAX_ROWS} rows; split it"
        rows = sheets.read_table(raw, fmt, max_rows=MAX_ROWS + 1, too_many=too_many)
        today = self.clock.now().astimezone(tenant.zone).date()
        sheet = parse_sheet(rows, tenant, today)
        if sheet.rows > MAX_ROWS:
            raise PayloadTooLargeError(too_many)
        general = [e for e in sheet.errors if e["row"] is None or e["row"] == sheet.header_row]
        if general:
            raise InvalidError("; ".join(e["message"] for e in general) + "; nothing was imported", details=general)
        if sheet.errors:
            bad = sheet.by_row()
            raise CrmRowsError(
                f"{len(bad)} row(s) are invalid; nothing was imported", rows=bad, details=sorted_errors(sheet)
            )
        return sheet

    def upload(
        self, tenant: Tenant, raw: bytes, content_type: str, *, dry_run: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """Import the file (or with ``dry_run`` only check it and count): (the import's record, whether it is
        new). The same file again answers its import as it stands, finishing whatever a crash left undone."""
        sheet = self.check(tenant, raw, content_type)
        tid = tenant.tenant_id
        import_id = import_id_of(tenant, hashlib.sha256(raw).hexdigest())
        counts = {"rows": sheet.rows, "orders": len(sheet.orders), "customers": sheet.customers, "phones": sheet.phones}
        if dry_run:
            matched = len(self.repo.phone_owners(tid, sorted({o.phone_digest for o in sheet.orders})))
            return {"import_id": import_id, "dry_run": True, **counts, "matched": matched}, False
        existing = self.repo.get_crm_import(tid, import_id)
        if existing is not None and existing["status"] == COMPLETE:
            return self._finish(tenant, existing, sheet.orders), False
        now = iso_of(self.clock.now(), tenant.zone)
        record: dict[str, Any] = {"import_id": import_id, "status": STAGED, "created_at": now, **counts}
        if existing is not None:
            record["created_at"] = existing.get("created_at", now)
        if not self.repo.begin_crm_import(tid, record):  # a concurrent run of the same file completed it
            done = self.repo.get_crm_import(tid, import_id)
            if done is None:
                raise SiyuError("the import vanished while it was written")
            return self._finish(tenant, done, sheet.orders), False
        orders = [replace(o, import_id=import_id) for o in sheet.orders]
        for i in range(0, len(orders), WRITE_CHUNK):
            self.repo.put_crm_orders(tid, orders[i : i + WRITE_CHUNK])
        record.update(status=COMPLETE, completed_at=iso_of(self.clock.now(), tenant.zone))
        self.repo.save_crm_import(tid, record)  # from here on its orders count: all of them at once
        count("CrmImport.completed")
        logger.info("crm import complete", extra={"tenant": tid, "import_id": import_id, "orders": len(orders)})
        return self._finish(tenant, record, orders), True

    def _finish(self, tenant: Tenant, record: dict[str, Any], orders: list[CrmOrder]) -> dict[str, Any]:
        """Apply a complete import's orders to the customers Siyu has already (once per order: a repeat finds
        them applied), and record when that was done. The owners are read after the import completed: a customer
        added while it was written found nothing visible, and is found here."""
        if record.get("applied_at"):
            return record
        owners = self.repo.phone_owners(tenant.tenant_id, sorted({o.phone_digest for o in orders}))
        applied = 0
        for o in orders:
            cid = owners.get(o.phone_digest)
            if cid is not None and self._apply(tenant, cid, o):
                applied += 1
        record = {**record, "matched": len(owners), "applied": record.get("applied", 0) + applied}
        record["applied_at"] = iso_of(self.clock.now(), tenant.zone)
        self.repo.save_crm_import(tenant.tenant_id, record)
        return record

    def get(self, tenant_id: str, import_id: str) -> dict[str, Any]:
        record = self.repo.get_crm_import(tenant_id, import_id)
        if record is None:
            raise NotFoundError(f"CRM import {import_id} does not exist")
        return record

    def recent(self, tenant_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        return self.repo.list_crm_imports(tenant_id, limit=limit)

    # --- matching a customer ----------------------------------------------------------------------------------

    def orders_of_phone(self, tenant_id: str, phone_digest: str) -> list[CrmOrder]:
        """A phone's orders from complete imports, each once (the same order may come from several files)."""
        found = self.repo.crm_orders_of(tenant_id, phone_digest)
        if not found:
            return []
        status: dict[str, bool] = {}
        for import_id in sorted({o.import_id for o in found}):
            record = self.repo.get_crm_import(tenant_id, import_id)
            status[import_id] = record is not None and record.get("status") == COMPLETE
        unique: dict[str, CrmOrder] = {}
        for o in found:
            if status[o.import_id]:
                unique.setdefault(o.order_key, o)
        return sorted(unique.values(), key=lambda o: (o.date, o.order_key))

    def match(self, tenant: Tenant, customer: Customer) -> int:
        """Apply the CRM orders of the customer's phone(s) to them; how many were new to them."""
        applied = 0
        for ref in customer.aliases:
            kind, _, digest = ref.partition(":")
            if kind != "phone":
                continue
            for o in self.orders_of_phone(tenant.tenant_id, digest):
                if self._apply(tenant, customer.customer_id, o):
                    applied += 1
        if applied:
            count("CrmImport.matched")
            logger.info("crm orders matched", extra={"tenant": tenant.tenant_id, "customer_id": customer.customer_id})
        return applied

    def _apply(self, tenant: Tenant, customer_id: str, o: CrmOrder) -> bool:
        at = datetime.combine(date.fromisoformat(o.date), ORDER_HOUR, tzinfo=tenant.zone)
        ev = BusinessEvent(
            index=0,
            event_id=order_event_id(o),
            type=ORDER,
            occurred_at=at,
            customer_id=customer_id,
            data={"kind": o.kind, "amount": float(o.amount), "product": o.product, "source": SOURCE},
        )
        try:
            result = self.events.apply(tenant, ev)
        except SiyuError as exc:  # the next upload of the file, or the customer's next add, applies it
            logger.warning("crm order not applied", extra={"tenant": tenant.tenant_id, "code": exc.code})
            return False
        return getattr(result, "status", "") == "applied"


class CrmMatcher:
    """Hears "added": a customer whose phone the CRM knows is recognised as a past buyer with their first add."""

    def __init__(self, service: CrmImportService, repo: CrmRepo) -> None:
        self.service = service
        self.repo = repo

    def on_signal(self, tenant: Tenant, customer_id: str, signal: Signal) -> None:
        customer = signal.customer if isinstance(signal.customer, Customer) else None
        if customer is None:
            customer = self.repo.get_customer(tenant.tenant_id, customer_id)
        if customer is None or not any(ref.startswith("phone:") for ref in customer.aliases):
            return
        self.service.match(tenant, customer)


def sorted_errors(sheet: CrmSheet) -> list[dict[str, Any]]:
    return sorted(sheet.errors, key=lambda e: (e["row"] or 0, e["column"] or ""))
