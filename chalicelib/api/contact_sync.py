"""The contact sync's route (issue 14 §1, docs/contact-sync.md): start the first sync or a reconcile (or see the one
running), and follow a run's progress or list the latest runs. One path for both, to keep the template small."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.api.common import Ctx, route
from chalicelib.bootstrap import services
from chalicelib.domain.tenants import Role

if TYPE_CHECKING:
    from chalicelib.services.contact_sync import ContactSync

bp = Blueprint(__name__)

PATH = "/t/{tenant_id}/contact-syncs"
JOB_ID = {"type": "string", "pattern": "^cs_[a-z0-9]{1,40}$", "description": "one run (else the latest runs)"}


@route(
    bp,
    PATH,
    "POST",
    summary="Import WeCom's existing contacts (the first sync) or reconcile drift: a resumable job; starts one or "
    "returns the running one",
    auth="tenant",
    role=Role.OPS,
    status=202,
    tag="customers",
)
def start_contact_sync(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    return _sync().start(ctx.tenant)


@route(
    bp,
    PATH,
    "GET",
    summary="A contact sync's progress and counts by kind of drift (job_id), or the latest runs",
    auth="tenant",
    role=Role.VIEWER,
    query={"job_id": JOB_ID},
    tag="customers",
)
def contact_sync_status(ctx: Ctx, tenant_id: str) -> dict[str, Any]:
    sync = _sync()
    job_id = ctx.args.get("job_id")
    if job_id:
        return sync.status(tenant_id, job_id)
    return {"items": sync.recent(tenant_id)}


def _sync() -> ContactSync:
    from chalicelib.services.contact_sync import contact_sync_of  # here: `import app` does not pay for it

    return contact_sync_of(services())
