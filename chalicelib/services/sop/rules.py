"""What every SOP module reads the same way: a tenant's touch rules and WeCom credentials, and plan versions."""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.plans import Plan, TouchRules
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.touch_rules import rules_from_text
from chalicelib.ports import WeComCredentials


class PlanSource(Protocol):
    """Plan versions (PlanService)."""

    def current_plan(self, tenant_id: str, plan_id: str) -> Plan | None: ...
    def plan_version(self, tenant_id: str, plan_id: str, version: int) -> Plan | None: ...
    def published_versions(self, tenant_id: str) -> list[Plan]: ...


def rules_of(tenant: Tenant) -> TouchRules:
    """The tenant's touch rules (PUT /t/{tenant_id}/settings/touch-rules; the field's defaults until set)."""
    return rules_from_text(tenant.touch_rules)


def creds_of(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)
