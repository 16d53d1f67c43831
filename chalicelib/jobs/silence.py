"""The silence job: hand off customers whose silence timer is due, tenant by tenant."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Tenant
from chalicelib.jobs.tenants import Deadline, for_each_tenant

DEFAULT_BUDGET_SECONDS = 12.0  # without a Lambda context (the default timeout is 20 s)
SAFETY_SECONDS = 5.0  # kept back from the Lambda's remaining time for the timers in flight


def silence(event: Any = None) -> dict[str, Any]:
    """Every 15 minutes: each tenant's due silence timers (exit with reason "silence", enroll the hand-off plan).
    A repeat or a concurrent run has no second effect: each timer is handled under a claim. Work is bounded by the
    Lambda's remaining time; timers not reached stay due for the next run."""
    svc = services()
    deadline = Deadline.of_lambda(event, default_seconds=DEFAULT_BUDGET_SECONDS, safety_seconds=SAFETY_SECONDS)

    def one(tenant: Tenant) -> dict[str, Any]:
        return asdict(svc.silence.run_silence(tenant.tenant_id, deadline=deadline.at))

    # Every tenant is visited: a tenant reached after the deadline starts no timer (run_silence checks it) but
    # still counts what is due, as before.
    return for_each_tenant(svc.tenants, one, job="silence job").totals
