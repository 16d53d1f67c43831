"""The SOP engine's Lambda entry points: a bucket's Scheduler target, and the periodic backstop."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.errors import InvalidError
from chalicelib.observability import logger

BULK_SECONDS = 60.0  # per tenant per backstop run: bulk enrollment advances in bounded slices
BULK_TOTAL_SECONDS = 600.0  # across tenants, inside the backstop Lambda's 900 s (.chalice/config.json)


def fire(event: dict[str, Any]) -> dict[str, Any]:
    """Scheduler invokes this with ``{"tenant_id", "bucket_id"}``; a repeat or a concurrent twin has no effect."""
    tenant_id, bucket_id = event.get("tenant_id"), event.get("bucket_id")
    if not isinstance(tenant_id, str) or not isinstance(bucket_id, str):
        raise InvalidError("fire needs tenant_id and bucket_id")
    return asdict(services().sop.fire(tenant_id, bucket_id))


def backstop() -> dict[str, Any]:
    """Every 5 minutes: fire buckets left open past their minute and reconcile interrupted tasks, per tenant."""
    svc = services()
    fired = 0
    cursor = None
    deadline = time.monotonic() + BULK_TOTAL_SECONDS
    while True:
        page = svc.tenants.find(cursor=cursor, limit=100)
        for tenant in page.items:
            try:
                fired += len(svc.sop.backstop(tenant.tenant_id))
                left = deadline - time.monotonic()
                if left > 0:
                    svc.bulk.continue_running(tenant, budget_seconds=min(BULK_SECONDS, left))
            except Exception:  # one tenant's failure must not starve the others
                logger.exception("backstop failed for a tenant", extra={"tenant": tenant.tenant_id})
        cursor = page.next_cursor
        if not cursor:
            return {"buckets_fired": fired}
