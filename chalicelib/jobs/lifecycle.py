"""The lifecycle's periodic job: hand off customers whose silence timer is due, tenant by tenant."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.observability import logger


def silence() -> dict[str, Any]:
    """Every 15 minutes: each tenant's due silence timers (exit with reason "silence", enroll the hand-off plan).
    A repeat or a concurrent run has no second effect: each timer is handled under a claim."""
    svc = services()
    totals: dict[str, int] = {}
    cursor = None
    while True:
        page = svc.tenants.find(cursor=cursor, limit=100)
        for tenant in page.items:
            try:
                report = svc.lifecycle.run_silence(tenant.tenant_id)
            except Exception:  # one tenant's failure must not starve the others
                logger.exception("silence job failed for a tenant", extra={"tenant": tenant.tenant_id})
                continue
            for name, value in asdict(report).items():
                totals[name] = totals.get(name, 0) + value
        cursor = page.next_cursor
        if not cursor:
            return totals
