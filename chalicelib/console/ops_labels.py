"""What the ops pages (customers, groups, jobs) call things, in the domain's Chinese terms (shared/design/domain.md).

Presentation only: names for codes the services return, and one line per timeline entry. No rule lives here.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.customers import Stage
from chalicelib.domain.groups import GROUP_TYPES

STAGES: dict[str, str] = {
    Stage.NEW.value: "新客",
    Stage.NURTURING.value: "培育中",
    Stage.HOT.value: "高意向",
    Stage.TRIAL.value: "体验课",
    Stage.CONVERTED.value: "已转化",
    Stage.SILENT.value: "沉默",
    Stage.LOST.value: "已流失",
}
STAGE_CHOICES = list(STAGES.items())
GROUP_TYPE_CHOICES = [(key, name) for key, name in GROUP_TYPES.items()]
GROUP_STATUS = {"active": "正常", "dismissed": "已解散"}

ENTRY_TYPES: dict[str, str] = {
    "add_external_contact": "添加好友",
    "del_external_contact": "员工删除了客户",
    "del_follow_user": "客户删除了员工（流失）",
    "edit_external_contact": "客户资料变更",
    "transfer_fail": "客户继承失败",
    "tags_changed": "标签变更",
    "enrolled": "进入SOP计划",
    "enrollment_ended": "退出SOP计划",
    "touch": "SOP触达",
    "message": "客户消息",
    "order": "下单",
    "checkin": "打卡",
    "share": "分享",
    "exposure": "曝光",
    "custom": "自定义事件",
    "welcome_missed": "欢迎语未发出",
    "handover": "客户交接",  # issue 14 §2 (services/handover_effects.py)
}
TOUCH_OUTCOMES = {"sent": "已发出", "skipped": "已跳过", "dropped": "已取消"}
REPLIES = {"positive": "积极回复", "negative": "消极回复", "neutral": "一般回复"}
ORDER_KINDS = {"trial": "体验课", "full": "正价课"}
EXIT_REASONS = {  # why an enrollment ended (domain/fate.py signal_exit: "exit:<rule>:<kind>"), as ops read it
    "exit:order:full": "购买正价课后退出",
    "exit:order:trial": "购买体验课后退出",
    "exit:order:any": "下单后退出",
    "exit:negative_reply:negative": "客户明确拒绝后退出",
    "silence": "长期沉默后退出",
}
TASK_STATUS = {"created": "待确认", "sent": "已发送", "confirmed": "已确认", "snoozed": "已稍后", "done": "已完成"}


def entry_line(entry: dict[str, Any], tag_names: dict[str, str]) -> str:
    """One timeline entry as a short line: what happened, with the few details that matter (never message text)."""
    kind = str(entry.get("type", ""))
    label = ENTRY_TYPES.get(kind, kind)
    d = entry.get("detail") or {}
    bits: list[str] = []
    if kind == "tags_changed":
        bits += [f"+{tag_names.get(t, t)}" for t in d.get("added", [])]
        bits += [f"−{tag_names.get(t, t)}" for t in d.get("removed", [])]
    elif kind in ("enrolled", "enrollment_ended"):
        bits.append(f"计划 {d.get('plan_id', '')}")
        if d.get("reason"):
            bits.append(EXIT_REASONS.get(str(d["reason"]), str(d["reason"])))
    elif kind == "touch":
        bits.append(TOUCH_OUTCOMES.get(str(d.get("outcome", "")), str(d.get("outcome", ""))))
        if d.get("reason"):
            bits.append(str(d["reason"]))
    elif kind == "message" and d.get("reply"):
        bits.append(REPLIES.get(str(d["reply"]), str(d["reply"])))
    elif kind == "order" and d.get("kind"):
        bits.append(ORDER_KINDS.get(str(d["kind"]), str(d["kind"])))
        if d.get("source") == "crm":  # a past order from the institution's own records (订单导入, issue 14 §5)
            bits.append("订单导入")
    elif kind == "handover":  # who to whom, and how it ended (接替完毕 / 客户拒绝 / 接替成员客户达到上限)
        bits += [f"{d.get('from', '')} → {d.get('to', '')}", str(d.get("outcome_label", ""))]
    if entry.get("first"):
        bits.append("首次")
    task = entry.get("task")
    if task:
        bits.append(f"任务{TASK_STATUS.get(task.get('status', ''), task.get('status', ''))}")
    return label + (f"：{'，'.join(b for b in bits if b)}" if any(bits) else "")


CAMP_OUTCOMES = {"task": "发给群主确认", "dropped": "取消", "skipped": "跳过"}
DEFERRALS = {
    "quiet_hours": "免打扰时段",
    "content_window": "内容推送时段",
    "cap": "每日上限",
    "monthly_limit": "月度接收上限",
    "moment_cap": "每月朋友圈上限",
    "lateness": "错过发送时间",
    "early": "提前",
}
