"""The one Logger and Metrics of Siyu (Powertools: JSON logs, EMF metrics).

Logs carry ids and outcomes only: never names, phones, unionids, message text, tokens or secrets (the functional
suite scans every line it captures for them: tests/functional/log_privacy.py). Each invocation's lines carry its
``request_id`` and, once known, its ``tenant_id`` (``invocation``, ``tenant_scope``).

Metrics (namespace ``Siyu``) have the one dimension ``service=siyu``; a metric with one more dimension (``reason``,
``errcode``) goes through ``count_by``, which keeps its own EMF document per value so its dimension set is exactly
{service, <that dimension>}. Everything is written by ``flush`` at the end of each invocation (app.py's middleware).
The metric names the alarms read are docs/operations.md's "Observability" list.

Each metric name CloudWatch sees is a custom metric billed by the hour it is published. ``SIYU_PUBLISHED_METRICS``
(the profile's ``published_metrics``: "all", or a comma-separated list) keeps only the listed names as CloudWatch
metrics; every other count is summed into the invocation's ``counts`` field of the same line, where Logs Insights
still reads it at no metric cost (docs/deploy.md, "Cost profiles").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from chalicelib.domain.tenants import TENANT_ID_RE

NAMESPACE = "Siyu"
SERVICE = "siyu"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

ENV_PUBLISHED_METRICS = "SIYU_PUBLISHED_METRICS"

_by_dimension: dict[tuple[str, str], AmazonCloudWatchEMFProvider] = {}
_unpublished: dict[str, float] = {}  # counts that are no CloudWatch metric here, written as the line's ``counts``
_lock = threading.Lock()


@lru_cache(maxsize=4)
def _published_names(setting: str) -> frozenset[str] | None:
    if setting.strip() in ("", "all"):
        return None
    return frozenset(name.strip() for name in setting.split(",") if name.strip())


def published(name: str) -> bool:
    """Whether ``name`` is a CloudWatch metric in this stack (read when counted: nothing reads env at import)."""
    names = _published_names(os.environ.get(ENV_PUBLISHED_METRICS, "all"))
    return names is None or name in names


def count(name: str, value: float = 1) -> None:
    """Record a count metric (dimension ``service`` only)."""
    with _lock:
        if published(name):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        else:
            _unpublished[name] = _unpublished.get(name, 0) + value


def seconds(name: str, value: float) -> None:
    """Record a duration in seconds (dimension ``service`` only): one value per call, so Maximum means something."""
    with _lock:
        if published(name):
            metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
        else:  # the largest of the invocation: what an alarm on Maximum would have read
            _unpublished[f"{name}.max"] = max(_unpublished.get(f"{name}.max", 0), value)


def count_by(name: str, dimension: str, key: str, value: float = 1) -> None:
    """Record a count with one more dimension (``EventsRejected`` by ``reason``, ``WeComErrors`` by ``errcode``).
    Powertools' Metrics share one dimension set per document, so each value keeps a document of its own."""
    with _lock:
        if not published(name):
            _unpublished[f"{name}.{key}"] = _unpublished.get(f"{name}.{key}", 0) + value
            return
        emf = _by_dimension.get((dimension, key))
        if emf is None:
            emf = _by_dimension[(dimension, key)] = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE)
            emf.add_dimension(name=dimension, value=key)
        emf.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush() -> None:
    """Write every metric recorded since the last flush as EMF lines on stdout (CloudWatch reads them from the
    function's log). Called once per invocation, also when the invocation raised."""
    with _lock:
        counts = dict(_unpublished)
        _unpublished.clear()
        if metrics.metric_set:
            if counts:
                metrics.add_metadata(key="counts", value=counts)
            metrics.flush_metrics()
        elif counts:  # no metric line to ride in: one log line of its own
            logger.info("counts", extra={"counts": counts})
        pending = list(_by_dimension.values())
        _by_dimension.clear()
    for emf in pending:
        emf.flush_metrics()


def invocation(request_id: str | None, tenant_id: str | None = None, **fields: Any) -> None:
    """Start an invocation's log context: what an earlier invocation of this (warm) process appended is dropped.
    Thread-local, so shards running in threads of one process (the local stack) keep their own ids."""
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(request_id=request_id, **fields)
    if tenant_id:
        logger.thread_safe_append_keys(tenant_id=tenant_id)


@contextmanager
def tenant_scope(tenant_id: str) -> Iterator[None]:
    """Every line logged inside names ``tenant_id`` (a periodic job's work for one tenant); the invocation's own
    tenant, if any, is restored after."""
    before = dict(logger.thread_safe_get_current_keys())
    logger.thread_safe_append_keys(tenant_id=tenant_id)
    try:
        yield
    finally:  # set afresh, never popped: Powertools' remove edits a dict that copied contexts share
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**before)


def start(event: Any) -> None:
    """``invocation`` for a Chalice event, whatever its kind. An API request: API Gateway's request id (the Lambda's
    when there is none, as under chalice local) and the path's tenant id; a job or the fire: the Lambda request id
    and the event's ``tenant_id``. A tenant id that is not one (a probe's path) is left out, not logged."""
    context = getattr(event, "context", None)
    if isinstance(context, dict):  # an API request: ``context`` is API Gateway's requestContext
        lambda_context = getattr(event, "lambda_context", None)
        request_id = context.get("requestId") or getattr(lambda_context, "aws_request_id", None)
        path_tenant = unquote(str((getattr(event, "uri_params", None) or {}).get("tenant_id") or ""))
        invocation(request_id, _tenant(path_tenant), route=context.get("resourcePath"))
        return
    payload = event.to_dict() if callable(getattr(event, "to_dict", None)) else None
    named = payload.get("tenant_id") if isinstance(payload, dict) else None
    invocation(getattr(context, "aws_request_id", None), _tenant(named))


def _tenant(tenant_id: object) -> str | None:
    return tenant_id if isinstance(tenant_id, str) and TENANT_ID_RE.match(tenant_id) else None
