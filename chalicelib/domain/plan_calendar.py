"""The simulator's answer laid out as a calendar: touches by local day and time, every move and closure named.

Pure presentation of what the simulator returns (``simulate.to_json`` for a customer plan, ``camp_to_json``'s items
for a group plan): one decision function serves the engine and the simulator, so this module decides nothing, it
only sorts and names. Times stay the tenant's local times as the simulator wrote them (ISO-8601 with offset).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

REASON_NAMES = {
    "quiet_hours": "免打扰时段",
    "content_window": "内容时段",
    "lateness": "超时",
    "cap": "每日触达上限",
    "monthly_limit": "每月接收上限",
    "moment_cap": "每月朋友圈上限",
    "early": "未到时间",
    "holdout": "对照组",
    "exit": "命中退出规则",
    "silence": "沉默移交",
    "audience": "不在受众范围",
    "completed": "计划已完成",
    "enrollment_ended": "已退出计划",
    "suppressed": "已拒收营销",
    "positive_reply": "积极回复",
    "paused": "计划已暂停",
    "next_slot": "顺延到下一时段",
}
OUTCOME_NAMES = {"task": "触达", "dropped": "丢弃", "skipped": "跳过"}
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class CalendarEntry:
    time: str  # HH:MM, local: when it goes out (or is closed)
    step_id: str
    outcome: str  # task | dropped | skipped
    outcome_name: str
    customer: str = ""  # the synthetic customer (customer plans)
    title: str = ""
    planned: str = ""  # "12-02 20:00" when the rules moved it from there, else ""
    reasons: tuple[str, ...] = ()  # every rule on its way, named (免打扰时段, 内容时段…)
    handoff: str | None = None

    @property
    def deferred(self) -> bool:
        return bool(self.planned)


@dataclass(frozen=True)
class CalendarDay:
    date: str
    label: str  # 第0天 · 12-01 周二: day numbers as the plan's sheet writes them (0 = the join, or day 0)
    entries: tuple[CalendarEntry, ...]


def reason_name(code: str | None) -> str:
    return REASON_NAMES.get(code or "", code or "")


def calendar(items: list[dict[str, Any]], start: date) -> list[CalendarDay]:
    """Group the simulator's items by local date (day 0 = ``start``), each day in time order."""
    days: dict[str, list[CalendarEntry]] = {}
    for item in items:
        when = datetime.fromisoformat(item.get("due_at") or item["at"])
        planned = datetime.fromisoformat(item.get("planned_at") or when.isoformat())
        reasons = tuple(reason_name(r) for r in item.get("reasons") or ([item["reason"]] if item.get("reason") else []))
        entry = CalendarEntry(
            time=when.strftime("%H:%M"),
            step_id=item["step_id"],
            outcome=item["outcome"],
            outcome_name=OUTCOME_NAMES.get(item["outcome"], item["outcome"]),
            customer=item.get("customer", ""),
            title=item.get("title") or "",
            planned=planned.strftime("%m-%d %H:%M") if planned != when else "",
            reasons=reasons,
            handoff=item.get("handoff"),
        )
        days.setdefault(when.date().isoformat(), []).append(entry)
    out = []
    for day in sorted(days):
        d = date.fromisoformat(day)
        label = f"第{(d - start).days}天 · {d.strftime('%m-%d')} 周{WEEKDAYS[d.weekday()]}"
        out.append(CalendarDay(day, label, tuple(sorted(days[day], key=lambda e: (e.time, e.customer)))))
    return out
