"""How the chat sidebar words what SidebarService read: stages, timeline entries and touch outcomes in the staff
member's Chinese, and times as a glance reads them (MM-DD HH:MM, in the tenant's zone as stored). Presentation only:
every rule (whose customer, which step is next) is the service's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain.library import SCENES, STAGE_NAMES

if TYPE_CHECKING:  # the page imports the service on its first render only
    from chalicelib.services.sidebar import SidebarCustomer

STAGE_TONES = {"hot": "ok", "converted": "ok", "trial": "ok", "silent": "warn", "lost": "bad"}
ENTRIES = {
    "add_external_contact": "添加为好友",
    "add_half_external_contact": "添加为好友（待通过）",
    "edit_external_contact": "修改了客户资料",
    "del_external_contact": "员工删除了客户",
    "del_follow_user": "客户删除了员工",
    "transfer_fail": "客户接替失败",
    "tags_changed": "标签变更",
    "touch": "SOP 触达",
    "enrolled": "加入 SOP 计划",
    "enrollment_ended": "退出 SOP 计划",
    "order": "下单",
    "message": "发来消息",
    "checkin": "打卡",
    "share": "分享",
    "custom": "自定义事件",
}
OUTCOMES = {"sent": "已发送", "skipped": "已跳过", "dropped": "未发送"}


@dataclass(frozen=True)
class Line:
    """One timeline line: when, what, and a short note (never the customer's words: entries hold none)."""

    at: str
    label: str
    note: str


def stage_label(stage: str) -> str:
    return STAGE_NAMES.get(stage, stage)


def short_time(iso: str | None) -> str:
    """``2026-12-01T19:30:00+08:00`` → ``12-01 19:30`` (the offset is the tenant's: the time as they live it)."""
    if not iso or len(iso) < 16:
        return iso or ""
    return f"{iso[5:10]} {iso[11:16]}"


def line(entry: dict[str, Any], plan_names: dict[str, str]) -> Line:
    detail = entry.get("detail") or {}
    kind = str(entry.get("type", ""))
    note = ""
    if kind == "touch":
        plan = plan_names.get(str(detail.get("plan_id", "")), str(detail.get("plan_id", "")))
        note = f"{plan} · {OUTCOMES.get(str(detail.get('outcome', '')), str(detail.get('outcome', '')))}"
    elif kind in ("enrolled", "enrollment_ended"):
        note = plan_names.get(str(detail.get("plan_id", "")), str(detail.get("plan_id", "")))
    elif kind == "order" and detail.get("kind"):
        note = {"trial": "体验课", "full": "正价课"}.get(str(detail["kind"]), str(detail["kind"]))
        if detail.get("source") == "crm":  # a past order from the institution's records (订单导入, issue 14 §5)
            note += " · 订单导入"
    return Line(short_time(entry.get("at")), ENTRIES.get(kind, kind), note)


def present(view: SidebarCustomer) -> dict[str, Any]:
    """The template's context for one customer."""
    names = {p.plan_id: p.name for p in view.plans}
    c = view.customer
    return {
        "customer": c,
        "owner": view.owner_name or c.owner_userid,
        "channel": view.channel_name or c.source_channel_id or "自然添加",
        "stage": stage_label(c.stage.value),
        "stage_tone": STAGE_TONES.get(c.stage.value, ""),
        "added": short_time(c.added_at),
        "last_inbound": short_time(c.last_inbound_at),
        "tags": view.tags,
        "plans": view.plans,
        "scripts": [{"title": s.title, "scene": SCENES.get(s.scene, s.scene), "text": s.text} for s in view.scripts],
        "lines": [line(e, names) for e in view.timeline],
        "timeline_more": view.timeline_more,
    }
