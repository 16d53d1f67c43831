"""The one Logger and Metrics of Siyu (Powertools: JSON logs, EMF metrics).

Logs carry ids and outcomes only: never names, phones, unionids, tokens or secrets.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="siyu")
metrics = Metrics(namespace="Siyu", service="siyu")


def count(name: str, value: float = 1) -> None:
    """Record a count metric (flushed by the middleware at the end of each request)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def log_context(**fields: Any) -> None:
    """Append request-scoped keys (tenant_id, route…) to every following log line of this invocation."""
    logger.append_keys(**fields)
