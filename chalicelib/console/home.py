"""The console's home: ops see the overview, staff go to "My day" (a placeholder until the overview lands)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role

bp = Blueprint(__name__)


@page(bp, "/console/{tenant_id}", role=Role.VIEWER, summary="Home: the overview (ops), My day (staff)")
def home(pc: PageCtx, tenant_id: str) -> PageResult:
    if pc.staff_scope is not None:
        return Redirect(f"{pc.base}/my")
    return Html("home.html", {"title": "概览", "active": "", "tenant": pc.tenant.public()})
