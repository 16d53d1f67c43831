"""The dashboard (issue 11 §4): short-lived links that open it, and the page's one read.

A link's key is shown once (in the URL it answers) and stored only as its SHA-256. Opening the page checks the
link against the tenant in the path and the Clock port, then reads the query and the metrics view; everything a
caller without a live link for this tenant gets is the same 403, whatever was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from chalicelib.domain.dashboard import (
    DEFAULT_TTL_HOURS,
    KEY_BYTES,
    DashboardLink,
    DashboardQuery,
    link_expiry,
    looks_like_key,
    parse_query,
)
from chalicelib.domain.instants import iso_local, iso_of
from chalicelib.domain.metrics.view import MetricsView
from chalicelib.domain.tenants import Tenant, hash_token
from chalicelib.errors import ForbiddenError, NotFoundError, SiyuError
from chalicelib.ports import Clock, IdGenerator
from chalicelib.ports.dashboard import DashboardLinkRepository, MetricsReader


class TenantLookup(Protocol):
    def get(self, tenant_id: str) -> Tenant | None: ...


class LinkRefusedError(ForbiddenError):
    """No live dashboard link for this tenant: missing, unknown, another tenant's, or expired (403)."""

    code = "link_refused"

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class MetricsUnavailableError(SiyuError):
    """The metrics read is not wired in this deployment (500)."""


@dataclass(frozen=True)
class DashboardPage:
    """What the page renders: the view, and the query it was read for."""

    tenant_id: str
    key: str
    query: DashboardQuery
    view: MetricsView


def dashboard_path(tenant_id: str) -> str:
    return f"/t/{quote(tenant_id, safe='')}/dashboard"


class DashboardService:
    def __init__(
        self,
        repo: DashboardLinkRepository,
        tenants: TenantLookup,
        clock: Clock,
        ids: IdGenerator,
        metrics: MetricsReader | None = None,
    ) -> None:
        self.repo = repo
        self.tenants = tenants
        self.clock = clock
        self.ids = ids
        self.metrics = metrics

    def create_link(
        self, tenant_id: str, *, ttl_hours: int = DEFAULT_TTL_HOURS, created_by: str = ""
    ) -> dict[str, Any]:
        """A new link valid for ``ttl_hours`` (1-168): its URL (with the key, shown this once) and its expiry."""
        tenant = self._tenant(tenant_id)
        now = self.clock.now()
        key = self.ids.secret(KEY_BYTES)
        link = DashboardLink(
            tenant_id=tenant_id,
            link_hash=hash_token(key),
            link_id=self.ids.new_id("dl_"),
            created_at=iso_of(now, tenant.zone),
            expires_at=link_expiry(now.timestamp(), ttl_hours),
            created_by=created_by,
        )
        self.repo.put_dashboard_link(link)
        return {
            "url": f"{dashboard_path(tenant_id)}?{urlencode({'k': key})}",
            "link_id": link.link_id,
            "expires_at": iso_local(link.expires_at, tenant.zone),
        }

    def list_links(self, tenant_id: str) -> list[dict[str, str]]:
        """The tenant's links that still open the page, oldest first (never their keys)."""
        tenant = self._tenant(tenant_id)
        now = self.clock.now().timestamp()
        live = [link for link in self.repo.list_dashboard_links(tenant_id) if link.is_open(now)]
        return [link.public(tenant.zone) for link in sorted(live, key=lambda x: (x.created_at, x.link_id))]

    def revoke_link(self, tenant_id: str, link_id: str) -> None:
        """Stop a link at once (one sent to the wrong chat); an unknown or expired link is a NotFoundError."""
        now = self.clock.now().timestamp()
        for link in self.repo.list_dashboard_links(tenant_id):
            if link.link_id == link_id and link.is_open(now):
                self.repo.delete_dashboard_link(tenant_id, link.link_hash)
                return
        raise NotFoundError(f"dashboard link {link_id} does not exist or has expired")

    def open(self, tenant_id: str, params: Mapping[str, str]) -> DashboardPage:
        """The page for a request: its link checked first (an unknown caller learns nothing about the query), then
        the query read (InvalidError names what is wrong), then one metrics read."""
        key = params.get("k")
        tenant = self.authorize(tenant_id, key)
        query = parse_query(params, self._today(self.clock.now(), tenant))
        if self.metrics is None:
            raise MetricsUnavailableError("the metrics read is not wired")
        view = self.metrics.view(
            tenant,
            date_from=query.date_from,
            date_to=query.date_to,
            by=query.by,
            value=query.value,
            period=query.period,
        )
        return DashboardPage(tenant_id, key or "", query, view)

    def authorize(self, tenant_id: str, key: str | None) -> Tenant:
        """The tenant, if ``key`` is one of its live dashboard links (the page, and the CSV exports it links to,
        accept the link in place of a token); otherwise LinkRefusedError, the same whatever was wrong."""
        tenant = self.tenants.get(tenant_id) if looks_like_key(key) else None
        link = self.repo.get_dashboard_link(tenant_id, hash_token(key or "")) if tenant is not None else None
        if tenant is None or link is None:
            raise LinkRefusedError("this dashboard link is not valid for this tenant")
        if not link.is_open(self.clock.now().timestamp()):
            raise LinkRefusedError("this dashboard link has expired", expired=True)
        return tenant

    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        return tenant

    @staticmethod
    def _today(now: datetime, tenant: Tenant) -> date:
        return now.astimezone(tenant.zone).date()
