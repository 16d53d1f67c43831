"""The staff task sync's Lambda entry point: every 10 minutes, task status from WeCom and escalations, per tenant."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Tenant
from chalicelib.jobs.tenants import Deadline, for_each_tenant

# The Lambda has 20 s (.chalice/config.json): stop starting new tasks well before, a WeCom call may take a while.
# Whatever is left over resumes at each tenant's cursor on the next run.
BUDGET_SECONDS = 12.0
REPORTED = ("checked", "sent", "escalated", "lead_tasks", "resolved", "errors")


def sync(*, budget_seconds: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Sync and escalate every tenant's open staff tasks, within one time budget shared by all tenants."""
    svc = services()
    deadline = Deadline.after(budget_seconds)

    def one(tenant: Tenant) -> dict[str, Any]:
        return asdict(svc.task_sync.run(tenant.tenant_id, stop=deadline.passed))

    run = for_each_tenant(svc.tenants, one, job="task sync", deadline=deadline)
    return {"tenants": run.done, **{name: run.totals.get(name, 0) for name in REPORTED}}
