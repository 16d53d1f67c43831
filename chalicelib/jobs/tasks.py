"""The staff task sync's Lambda entry point: every 10 minutes, per tenant, task status from WeCom and escalations,
then the alerts to staff that are due (deferred past the quiet hours, retried, or left by a crashed sender)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Tenant
from chalicelib.jobs.tenants import Deadline, for_each_tenant

# The Lambda has 20 s (.chalice/config.json): stop starting new tasks well before, a WeCom call may take a while.
# Whatever is left over resumes at each tenant's cursor on the next run.
BUDGET_SECONDS = 12.0
REPORTED = ("checked", "sent", "escalated", "lead_tasks", "resolved", "errors", "alerts_sent", "alerts_failed")


def sync(*, budget_seconds: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Sync and escalate every tenant's open staff tasks, within one time budget shared by all tenants."""
    svc = services()
    deadline = Deadline.after(budget_seconds)

    def one(tenant: Tenant) -> dict[str, Any]:
        report = asdict(svc.task_sync.run(tenant.tenant_id, stop=deadline.passed))
        alerts = svc.alerts.run_due(tenant.tenant_id, stop=deadline.passed)  # after the sync: its escalations too
        return {**report, "alerts_sent": alerts.sent, "alerts_failed": alerts.failed}

    run = for_each_tenant(svc.tenants, one, job="task sync", deadline=deadline)
    return {"tenants": run.done, **{name: run.totals.get(name, 0) for name in REPORTED}}
