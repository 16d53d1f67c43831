"""Ports of the dashboard (issue 11 §4): where its links are kept, and the metrics read it renders.

Kept apart from ports/__init__.py so that file does not grow.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.dashboard import DashboardLink
from chalicelib.domain.metrics.view import MetricsView
from chalicelib.domain.tenants import Tenant


class DashboardLinkRepository(Protocol):
    def put_dashboard_link(self, link: DashboardLink) -> None:
        """Store a new link; a link with the same hash is a ConflictError (never overwritten)."""
        ...

    def get_dashboard_link(self, tenant_id: str, link_hash: str) -> DashboardLink | None:
        """The tenant's link with this hash, expired or not (the caller judges expiry by its clock)."""
        ...

    def list_dashboard_links(self, tenant_id: str) -> list[DashboardLink]:
        """The tenant's links still stored, expired or not."""
        ...

    def delete_dashboard_link(self, tenant_id: str, link_hash: str) -> None:
        """Remove a link; a missing one is no error."""
        ...


class MetricsReader(Protocol):
    def view(
        self, tenant: Tenant, *, date_from: str, date_to: str, by: str, value: str | None, period: str
    ) -> MetricsView:
        """The metrics of a range of local days, the funnel for ``by`` (one ``value`` of it, or all)."""
        ...
