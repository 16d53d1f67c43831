"""The customers added a few minutes ago, page by page: what the backstop's catch-ups read when a callback died
between storing a customer and what should have followed (the channel plan's enrollment, services/intake_catchup.py;
the add's count, services/metrics_service.py). The customer index by add time: one keys-only Query a page, then the
profiles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import utc_key
from chalicelib.ports import CustomerFilter, Page

LOOK_BACK = timedelta(minutes=15)  # three backstop periods: a run that did not happen is covered by the next
SETTLE = timedelta(minutes=2)  # a callback still at work (its budget is 3 s) is not second-guessed
PAGE = 100


class RecentAddsRepo(Protocol):
    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page: ...


def recent_adds(repo: RecentAddsRepo, tenant_id: str, now: datetime) -> Iterator[list[Customer]]:
    """Pages of the customers added from ``LOOK_BACK`` to ``SETTLE`` before ``now``."""
    flt = CustomerFilter(added_from=utc_key(now - LOOK_BACK), added_to=utc_key(now - SETTLE))
    cursor: str | None = None
    while True:
        page = repo.list_customers(tenant_id, flt, cursor=cursor, limit=PAGE)
        yield list(page.items)
        if not page.next_cursor:
            return
        cursor = page.next_cursor
