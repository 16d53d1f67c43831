"""The staff task sync's Lambda entry point: every 10 minutes, task status from WeCom and escalations, per tenant."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.observability import logger

# The Lambda has 20 s (.chalice/config.json): stop starting new tasks well before, a WeCom call may take a while.
# Whatever is left over resumes at each tenant's cursor on the next run.
BUDGET_SECONDS = 12.0


def sync(*, budget_seconds: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Sync and escalate every tenant's open staff tasks, within one time budget shared by all tenants."""
    svc = services()
    deadline = time.monotonic() + budget_seconds

    def out_of_time() -> bool:
        return time.monotonic() >= deadline

    totals = {"tenants": 0, "checked": 0, "sent": 0, "escalated": 0, "lead_tasks": 0, "resolved": 0, "errors": 0}
    cursor = None
    while not out_of_time():
        page = svc.tenants.find(cursor=cursor, limit=100)
        for tenant in page.items:
            if out_of_time():
                break
            try:
                report = asdict(svc.task_sync.run(tenant.tenant_id, stop=out_of_time))
            except Exception:  # one tenant's failure must not starve the others
                logger.exception("task sync failed for a tenant", extra={"tenant": tenant.tenant_id})
                continue
            totals["tenants"] += 1
            for name in totals:
                if name != "tenants":
                    totals[name] += report[name]
        cursor = page.next_cursor
        if not cursor:
            break
    return totals
