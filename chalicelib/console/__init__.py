"""The console (issue 13): server-rendered pages over the same services as the JSON API. See README.md here.

``AREAS`` names each page module; app.py registers their blueprints. A new area adds its module's name here.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

AREAS: tuple[str, ...] = (
    "assets",
    "auth",
    "home",
    "customers",
    "groups",
    "group_admin",  # the 社群 forms: setup, live codes, naming, camp enrollment
    "jobs",
    "my_day",
    "sidebar",
    "channels",
    "plans",
    "content",  # 素材库 and 话术库
    "crm_import",  # 订单导入 (issue 14 §5)
    "webhooks",  # outbound webhooks (issue 14 §6)
    "handover",  # 客户交接 (issue 14 §2)
    "contact_sync",  # 客户同步 (issue 14 §1)
)


def blueprints() -> list[Any]:
    """Every area's blueprint, in AREAS order."""
    return [import_module(f"chalicelib.console.{name}").bp for name in AREAS]
