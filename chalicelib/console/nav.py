"""The console's navigation: one list per role, in the order the pages are used (issue 13 §2, §3)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.console import ConsoleSession
from chalicelib.domain.tenants import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    suffix: str  # after /console/<tenant>
    role: Role


OPS_NAV = (
    NavItem("概览", "", Role.VIEWER),
    NavItem("渠道活码", "/channels", Role.OPS),
    NavItem("SOP计划", "/plans", Role.OPS),
    NavItem("客户", "/customers", Role.OPS),
    NavItem("社群", "/groups", Role.OPS),
    NavItem("素材库", "/content", Role.OPS),
    NavItem("话术库", "/scripts", Role.OPS),
    NavItem("数据看板", "/dashboard", Role.OPS),
    NavItem("任务进度", "/jobs", Role.OPS),
    NavItem("客户同步", "/contact-sync", Role.OPS),
    NavItem("客户交接", "/handover", Role.OPS),
    NavItem("订单导入", "/crm-import", Role.OPS),
    NavItem("Webhook", "/webhooks", Role.OPS),
)
STAFF_NAV = (NavItem("我的今天", "/my", Role.STAFF),)


def items(session: ConsoleSession | None) -> tuple[NavItem, ...]:
    """What this session's nav shows: staff their own pages, ops and admin the ops pages."""
    if session is None:
        return ()
    role = session.role_enum
    if role == Role.STAFF:
        return STAFF_NAV
    return tuple(item for item in OPS_NAV if role.at_least(item.role))
