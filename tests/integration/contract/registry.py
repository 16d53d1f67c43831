"""The contract suite's coverage registry: every repository method names the tests that exercise it directly.

``@covers(TenantRepository.get_tenant, …)`` marks a contract test (one taking the two-store ``store`` fixture); the
meta-test (test_meta.py) lists the public methods of every repository and fails for one no test covers, so a new
method without a contract test fails CI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T", bound=Callable[..., Any])

COVERED: dict[str, list[Callable[..., Any]]] = {}  # "Repository.method" -> the tests covering it

# Every module holding contract tests, imported by the meta-test so the registry is whole whatever pytest selected.
CONTRACT_MODULES = (
    "tests.integration.test_store_contract",
    "tests.integration.test_tenant_store",
    "tests.integration.test_plan_store",
    "tests.integration.test_timeline_store",
    "tests.integration.test_business_events_store",
    "tests.integration.contract.test_customers",
    "tests.integration.contract.test_silence",
    "tests.integration.contract.test_timeline",
    "tests.integration.contract.test_enrollments",
    "tests.integration.contract.test_touches",
    "tests.integration.contract.test_tasks",
    "tests.integration.contract.test_delivery",
    "tests.integration.contract.test_groups",
    "tests.integration.contract.test_group_facts",
    "tests.integration.contract.test_group_codes",
    "tests.integration.contract.test_points",
    "tests.integration.contract.test_group_quota",
    "tests.integration.contract.test_group_members",
    "tests.integration.contract.test_wecom_stats",
    "tests.integration.contract.test_metrics",
    "tests.integration.contract.test_dashboard",
    "tests.integration.contract.test_tenant_secrets",
    "tests.integration.contract.test_console",
    "tests.integration.test_sop_subject_store",
    "tests.integration.contract.test_alerts",
    "tests.integration.contract.test_library",
    "tests.integration.contract.test_crm",
    "tests.integration.contract.test_webhooks",
)


def covers(*methods: Callable[..., Any]) -> Callable[[T], T]:
    """Record that the decorated test exercises ``methods`` (repository functions, e.g. ``PlanRepository.get_plan``)."""

    def mark(test: T) -> T:
        for method in methods:
            COVERED.setdefault(method.__qualname__, []).append(test)
        return test

    return mark
