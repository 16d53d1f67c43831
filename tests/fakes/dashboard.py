"""In-memory dashboard links, with DashboardLinkRepository's contract (adapters/dynamodb/dashboard.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.dashboard import DashboardLink
from chalicelib.errors import ConflictError


class FakeDashboardStoreMixin:
    lock: Any

    def _dashboard_links(self) -> dict[tuple[str, str], DashboardLink]:
        if not hasattr(self, "_dashboard_link_rows"):
            self._dashboard_link_rows: dict[tuple[str, str], DashboardLink] = {}
        return self._dashboard_link_rows

    def put_dashboard_link(self, link: DashboardLink) -> None:
        with self.lock:
            rows = self._dashboard_links()
            if (link.tenant_id, link.link_hash) in rows:
                raise ConflictError("this dashboard link already exists")
            rows[(link.tenant_id, link.link_hash)] = link

    def get_dashboard_link(self, tenant_id: str, link_hash: str) -> DashboardLink | None:
        with self.lock:
            return self._dashboard_links().get((tenant_id, link_hash))

    def list_dashboard_links(self, tenant_id: str) -> list[DashboardLink]:
        with self.lock:
            rows = self._dashboard_links()
            return [rows[key] for key in sorted(rows) if key[0] == tenant_id]

    def delete_dashboard_link(self, tenant_id: str, link_hash: str) -> None:
        with self.lock:
            self._dashboard_links().pop((tenant_id, link_hash), None)
