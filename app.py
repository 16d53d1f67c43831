"""Siyu's Chalice app: wiring only. Routes live in chalicelib/api, logic in chalicelib/services."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate

from chalicelib.api import (
    admin,
    business_events,
    channels,
    console_links,
    contact_sync,
    content,
    crm_imports,
    customers,
    dashboard,
    fallback,
    group_activity,
    group_codes,
    group_content,
    group_plans,
    group_sync,
    groups,
    handover,
    meta,
    plans,
    points,
    scripts,
    sop,
    staff,
    tags,
    tasks,
    touch_rules,
    webhooks,
    wecom,
)
from chalicelib.api import metrics as metrics_api
from chalicelib.console import blueprints as console_blueprints
from chalicelib.jobs import repairs as repair_jobs
from chalicelib.jobs import silence as silence_jobs
from chalicelib.jobs import sop as sop_jobs
from chalicelib.jobs import tasks as task_jobs
from chalicelib.observability import count, flush, start
from chalicelib.tracing import traced

# Chalice's own logger is named after the app, as Powertools' is ("siyu"): Chalice must not configure it, or (when it
# does not see Powertools' stdout handler, as under pytest's output capture) it turns propagation off and the level
# to ERROR, and the app's INFO lines vanish.
app = Chalice(app_name="siyu", configure_logs=False)

for blueprint in (
    meta.bp,
    admin.bp,
    staff.bp,
    tags.bp,
    channels.bp,
    customers.bp,
    plans.bp,
    sop.bp,
    tasks.bp,
    wecom.bp,
    business_events.bp,
    touch_rules.bp,
    group_activity.bp,
    groups.bp,
    group_content.bp,
    group_codes.bp,
    points.bp,
    group_plans.bp,
    group_sync.bp,
    metrics_api.bp,
    dashboard.bp,
    content.bp,  # 素材库 (issue 13)
    scripts.bp,  # 话术库 (issue 13)
    console_links.bp,
    crm_imports.bp,  # 订单导入 (issue 14 §5)
    webhooks.bp,  # outbound webhooks (issue 14 §6)
    handover.bp,  # 客户交接 (issue 14 §2)
    contact_sync.bp,  # the contact sync (issue 14 §1)
    *console_blueprints(),  # the console's pages (chalicelib/console, issue 13)
):
    app.register_blueprint(blueprint)
app.api.binary_types.extend(plans.BINARY_TYPES)  # spreadsheet uploads arrive as bytes
app.api.binary_types.append("multipart/form-data")  # the console's file uploads (plan sheets, content, proofs)
app.api.binary_types.extend(("image/png", "image/jpeg", "image/gif", "image/webp"))  # images the console serves
fallback.install(app)  # last: 404/405 for what no route above takes, and one error shape for Chalice's own errors


@app.middleware("all")
def observe(event: Any, get_response: Any) -> Any:
    """Every entry point (API, fire, jobs): its log lines carry its request id and tenant id, and its metrics (EMF)
    are written once it ends, also when it raised."""
    start(event)
    try:
        return get_response(event)
    finally:
        flush()


@app.lambda_function(name="fire")
@traced  # X-Ray when the profile turns tracing on (chalicelib/tracing.py)
def fire(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge Scheduler's target: fire one bucket of due touches (or, invoked asynchronously by a large bucket's
    own fire, one shard of it: docs/operations.md, "A fire that fans out")."""
    try:
        return sop_jobs.fire(event)
    except Exception:  # Lambda retries it twice, then the fire DLQ has it: FireFailures alarms at the first
        count("FireFailures")
        raise


@app.schedule(Rate(5, unit=Rate.MINUTES), name="backstop")
def backstop(event: Any) -> dict[str, Any]:
    """Fire what a lost schedule left behind and reconcile interrupted staff tasks; then make the repair queue's due
    items (what callbacks could not finish in WeCom within their budget: docs/operations.md)."""
    return {**sop_jobs.backstop(), **repair_jobs.repair()}


@app.schedule(Rate(10, unit=Rate.MINUTES), name="task_sync")
def task_sync(event: Any) -> dict[str, Any]:
    """Staff task status from WeCom (sent, per-customer outcomes) and escalation of overdue tasks to the lead."""
    return task_jobs.sync()


@app.schedule(Rate(15, unit=Rate.MINUTES), name="silence")
def silence(event: Any) -> dict[str, Any]:
    """Customers silent for their plan's silence.days: exit with reason "silence" and enroll the hand-off plan."""
    return silence_jobs.silence(event)
