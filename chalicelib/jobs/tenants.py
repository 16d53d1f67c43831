"""One loop for the periodic jobs: each tenant in turn, until a deadline, one tenant's failure never starving the rest.

The backstop, the task sync and the silence job all page through every tenant inside one Lambda's time. The time is
the Lambda's own (its remaining time, less a margin for the work in flight) or a job's fixed budget. Elapsed time is
measured on the monotonic clock: it decides when to stop, never what time it is for the tenant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.tenants import Tenant
from chalicelib.observability import logger, tenant_scope
from chalicelib.ports import Page

TENANT_PAGE = 100


class TenantLister(Protocol):
    def find(self, *, cursor: str | None, limit: int) -> Page: ...


@dataclass(frozen=True)
class Deadline:
    """A monotonic instant after which a job starts nothing new (what is under way finishes)."""

    at: float
    monotonic: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(monotonic() + seconds, monotonic)

    @classmethod
    def of_lambda(
        cls,
        event: Any,
        *,
        default_seconds: float,
        safety_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The invoking Lambda's remaining time less ``safety_seconds`` (at least a second), or ``default_seconds``
        without a Lambda context (local runs and tests)."""
        context = getattr(event, "context", None)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        budget = remaining() / 1000 - safety_seconds if callable(remaining) else default_seconds
        return cls.after(max(budget, 1.0), monotonic)

    def left(self) -> float:
        return self.at - self.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0


@dataclass
class TenantRun:
    """What a pass over the tenants did: tenants done and failed, and the sum of their reports' counts."""

    done: int = 0
    failed: int = 0
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, report: Mapping[str, Any] | None) -> None:
        for name, value in (report or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                self.totals[name] = self.totals.get(name, 0) + value


def for_each_tenant(
    tenants: TenantLister,
    work: Callable[[Tenant], Mapping[str, Any] | None],
    *,
    job: str,
    deadline: Deadline | None = None,
) -> TenantRun:
    """Run ``work`` for every tenant, page by page. Past ``deadline`` no further tenant is started (the rest are
    reached by the next run). A tenant whose work raises is logged under ``job`` and counted, and the loop goes on."""
    run = TenantRun()
    cursor = None
    while deadline is None or not deadline.passed():
        page = tenants.find(cursor=cursor, limit=TENANT_PAGE)
        for tenant in page.items:
            if deadline is not None and deadline.passed():
                return run
            try:
                with tenant_scope(tenant.tenant_id):  # this tenant's lines name it
                    report = work(tenant)
            except Exception:  # one tenant's failure must not starve the others
                logger.exception(f"{job} failed for a tenant", extra={"tenant": tenant.tenant_id})
                run.failed += 1
                continue
            run.done += 1
            run.add(report)
        cursor = page.next_cursor
        if not cursor:
            break
    return run
