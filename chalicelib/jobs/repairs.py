"""The repair queue's Lambda entry point: every minute, make what callbacks could not finish in WeCom."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.jobs.tenants import Deadline

# The Lambda has 20 s (.chalice/config.json) and a WeCom call up to 3 s: stop taking items well before. What is left
# waits in the queue for the next run.
BUDGET_SECONDS = 12.0


def repair(*, budget_seconds: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Drain due repair items until the queue is empty or the budget is spent; counts of what happened."""
    svc = services()
    if svc.repairs is None:
        return {"received": 0}
    deadline = Deadline.after(budget_seconds)
    return asdict(svc.repairs.run(stop=deadline.passed))
