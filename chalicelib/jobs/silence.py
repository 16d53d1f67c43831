"""The lifecycle's periodic job: hand off customers whose silence timer is due, tenant by tenant."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.observability import logger

DEFAULT_BUDGET_SECONDS = 12.0  # without a Lambda context (the default timeout is 20 s)
SAFETY_SECONDS = 5.0  # kept back from the Lambda's remaining time for the timers in flight


def silence(event: Any = None) -> dict[str, Any]:
    """Every 15 minutes: each tenant's due silence timers (exit with reason "silence", enroll the hand-off plan).
    A repeat or a concurrent run has no second effect: each timer is handled under a claim. Work is bounded by the
    Lambda's remaining time; timers not reached stay due for the next run."""
    svc = services()
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget = remaining() / 1000 - SAFETY_SECONDS if callable(remaining) else DEFAULT_BUDGET_SECONDS
    deadline = time.monotonic() + max(budget, 1.0)
    totals: dict[str, int] = {}
    cursor = None
    while True:
        page = svc.tenants.find(cursor=cursor, limit=100)
        for tenant in page.items:
            try:
                report = svc.lifecycle.run_silence(tenant.tenant_id, deadline=deadline)
            except Exception:  # one tenant's failure must not starve the others
                logger.exception("silence job failed for a tenant", extra={"tenant": tenant.tenant_id})
                continue
            for name, value in asdict(report).items():
                totals[name] = totals.get(name, 0) + value
        cursor = page.next_cursor
        if not cursor:
            return totals
