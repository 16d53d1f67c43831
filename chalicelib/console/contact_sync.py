"""客户同步 (issue 14 §1): start the first import of WeCom's existing contacts or a reconcile, and see the latest runs
with their counts by kind of drift. A run's live progress is the 任务进度 page (console/jobs.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.console.jobs import job_url
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role

if TYPE_CHECKING:
    from chalicelib.services.contact_sync import ContactSync

bp = Blueprint(__name__)


def _sync(pc: PageCtx) -> ContactSync:
    from chalicelib.services.contact_sync import contact_sync_of  # here: `import app` does not pay for it

    return contact_sync_of(pc.svc)


@page(bp, "/console/{tenant_id}/contact-sync", role=Role.VIEWER, summary="Contact sync: the latest runs")
def contact_sync(pc: PageCtx, tenant_id: str) -> PageResult:
    from chalicelib.domain.jobs import contact_sync_view  # here: `import app` does not pay for it

    runs = [contact_sync_view(job) for job in _sync(pc).recent(tenant_id)]
    return Html(
        "contact_sync/index.html",
        {
            "title": "客户同步",
            "active": "/contact-sync",
            "runs": runs,
            "first_done": any(r.job_id == "cs_first" and not r.running for r in runs),
            "can_start": pc.session is not None and pc.session.role_enum.at_least(Role.OPS),
        },
    )


@page(bp, "/console/{tenant_id}/contact-sync", ("POST",), role=Role.OPS, summary="Start a contact sync")
def start_contact_sync(pc: PageCtx, tenant_id: str) -> PageResult:
    job = _sync(pc).start(pc.tenant)
    flash = "首次同步已开始。" if job.get("reason") == "first" else "客户核对已开始。"
    return Redirect(job_url(pc, str(job["job_id"])), flash=flash)
