"""The SOP engine's Lambda entry points: a bucket's Scheduler target, and the periodic backstop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.bootstrap import services
from chalicelib.domain.shards import shard_of
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, SiyuError
from chalicelib.jobs.tenants import Deadline, for_each_tenant
from chalicelib.observability import count, logger
from chalicelib.tracing import span

BULK_SECONDS = 60.0  # per tenant per backstop run: bulk enrollment advances in bounded slices
BULK_TOTAL_SECONDS = 600.0  # across tenants, inside the backstop Lambda's 900 s (.chalice/config.json)
WEBHOOK_SECONDS = 240.0  # a one-shot webhook sender run (the rest: its next run, or the backstop)
GROUP_SYNC_SECONDS = 30.0  # per tenant per backstop run: the group sync (first, daily) advances in bounded slices
CONTACT_SYNC_SECONDS = 60.0  # per tenant per backstop run: the contact sync (issue 14 §1) advances in bounded slices


def fire(event: dict[str, Any]) -> dict[str, Any]:
    """Scheduler invokes this with ``{"tenant_id", "bucket_id"}``; a large bucket's fire invokes it again, once per
    shard, with its ``shard`` (docs/operations.md). A repeat or a concurrent twin has no effect. A retrying staff
    task's delayed schedule invokes it with ``{"tenant_id", "task_id"}``."""
    tenant_id, bucket_id = event.get("tenant_id"), event.get("bucket_id")
    if isinstance(tenant_id, str) and event.get("webhooks") and bucket_id is None:
        return send_webhooks(tenant_id)  # the outbound webhooks' one-shot sender run (services/webhook_outbox.py)
    if isinstance(tenant_id, str) and isinstance(event.get("task_id"), str) and bucket_id is None:
        return services().sop.retry_task(tenant_id, event["task_id"])  # a retrying task's delayed schedule
    if not isinstance(tenant_id, str) or not isinstance(bucket_id, str):
        raise InvalidError("fire needs tenant_id and bucket_id")
    shard = None
    if event.get("shard") is not None:
        try:
            shard = shard_of(bucket_id, event["shard"])
        except ValueError as exc:
            raise InvalidError(str(exc)) from exc
    with span("sop.fire", tenant_id=tenant_id, bucket_id=bucket_id, shard="all" if shard is None else str(shard.index)):
        return asdict(services().sop.fire(tenant_id, bucket_id, shard=shard))


def send_webhooks(tenant_id: str) -> dict[str, Any]:
    """Send a tenant's due outbound webhooks (a one-shot schedule's run; the backstop does it too)."""
    hooks = services().webhooks
    if hooks is None:
        return {"delivered": 0}
    deadline = Deadline.after(WEBHOOK_SECONDS)  # each try may take its 5 s: stop well inside the fire's 300 s
    with span("webhooks.send", tenant_id=tenant_id):
        return asdict(hooks.outbox.run_due(tenant_id, stop=deadline.passed))


def backstop() -> dict[str, Any]:
    """Every 5 minutes: fire buckets left open past their minute and reconcile interrupted tasks, per tenant, and
    catch up the channel enrollments of recent adds whose callback died before making them. Every tenant's buckets
    fire; bulk enrollment and the group sync advance only within the run's time (the rest resumes next run). Once a
    night each tenant's metrics of the days just closed are rebuilt and WeCom's statistics of yesterday fetched."""
    # here, not at the top: `import app` does not pay for them
    from chalicelib.services.contact_sync import contact_sync_of
    from chalicelib.services.handover import handover_of
    from chalicelib.services.rebuild_jobs import rebuild_jobs_of

    svc = services()
    deadline = Deadline.after(BULK_TOTAL_SECONDS)

    def one(tenant: Tenant) -> dict[str, int]:
        reports = svc.sop.backstop(tenant.tenant_id)
        caught = sum(r.sent + r.skipped + r.dropped + r.failed + r.retrying for r in reports)
        if caught:  # touches whose schedule was lost or late (or that joined a bucket after it fired)
            count("BackstopCatches", caught)
        try:  # an add whose callback died before its channel plan's enrollment (services/intake_catchup.py)
            svc.catchup.run(tenant)
        except SiyuError as exc:
            logger.warning("intake catch-up failed for a tenant", extra={"tenant": tenant.tenant_id, "code": exc.code})
        if not deadline.passed():
            try:
                svc.bulk.continue_running(tenant, budget_seconds=min(BULK_SECONDS, deadline.left()))
            except Exception:  # the buckets fired all the same: count them
                logger.exception("bulk enrollment failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed():
            try:  # the first group sync of a new tenant, and each day's reconciliation of drift
                svc.group_sync.tick(tenant, budget_seconds=min(GROUP_SYNC_SECONDS, deadline.left()))
            except Exception:
                logger.exception("group sync failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed():
            try:  # the contact sync (issue 14 §1): a running one continues (or waits out WeCom's rate limit); daily
                contact_sync_of(svc).tick(tenant, budget_seconds=min(CONTACT_SYNC_SECONDS, deadline.left()))
            except Exception:
                logger.exception("contact sync failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed():
            try:  # a metrics rebuild started from the console, a day at a time (services/rebuild_jobs.py)
                rebuild_jobs_of(svc).continue_running(tenant, budget_seconds=min(BULK_SECONDS, deadline.left()))
            except Exception:
                logger.exception("metrics rebuild job failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed():
            try:  # 客户交接: hand-overs sent to WeCom 100 a call, then followed to each customer's outcome (issue 14)
                handover_of(svc).continue_running(tenant, budget_seconds=min(BULK_SECONDS, deadline.left()))
            except Exception:
                logger.exception("hand-over job failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed():
            try:  # adds a dead callback left uncounted; the nightly rebuild of the days just closed
                svc.metrics.catch_up(tenant)
                svc.metrics.rebuild_due(tenant)
            except Exception:
                logger.exception("metrics rebuild failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed():
            try:  # WeCom's own statistics of yesterday, once a day, for the cross-check (services/wecom_stats.py)
                svc.wecom_stats.fetch_due(tenant, svc.clock.now())
            except Exception:
                logger.exception("WeCom statistics fetch failed for a tenant", extra={"tenant": tenant.tenant_id})
        if not deadline.passed() and svc.webhooks is not None:
            try:  # outbound webhooks left due: a lost one-shot schedule, or retries (services/webhook_outbox.py)
                svc.webhooks.outbox.run_due(tenant.tenant_id, stop=deadline.passed)
            except Exception:
                logger.exception("webhook sender failed for a tenant", extra={"tenant": tenant.tenant_id})
        return {"buckets_fired": len(reports)}

    return {"buckets_fired": for_each_tenant(svc.tenants, one, job="backstop").totals.get("buckets_fired", 0)}
