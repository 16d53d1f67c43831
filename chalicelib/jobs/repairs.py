"""The repair queue's drain: make what callbacks could not finish in WeCom (profile sync, tags, rotation).

It runs inside the backstop (every 5 minutes, app.py), after the buckets: the same net for what was left behind, so
the local pump runs it with the other periodic jobs and a deployed stack needs no further function or schedule.
"""

from __future__ import annotations

from chalicelib.bootstrap import services
from chalicelib.jobs.tenants import Deadline
from chalicelib.observability import logger

# Inside the backstop Lambda's 900 s, after the buckets: a WeCom call takes up to 3 s, so stop taking items after a
# minute; what is left waits in the queue for the next run.
BUDGET_SECONDS = 60.0


def repair(*, budget_seconds: float = BUDGET_SECONDS) -> dict[str, int]:
    """Drain due repair items until the queue is empty or the budget is spent: counts (``repairs_received``,
    ``repairs_made``, ``repairs_retried``, ``repairs_dead``)."""
    svc = services()
    if svc.repairs is None:
        return {}
    deadline = Deadline.after(budget_seconds)
    try:
        report = svc.repairs.run(stop=deadline.passed)
    except Exception:  # the queue is unreachable: the backstop's buckets fired all the same; next run retries
        logger.exception("repair queue run failed")
        return {"repairs_failed": 1}
    return {
        "repairs_received": report.received,
        "repairs_made": report.repaired,
        "repairs_retried": report.retried,
        "repairs_dead": report.dead,
    }
