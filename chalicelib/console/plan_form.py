"""The plan pages' forms, parsed: the import's parameters and its sheet (an uploaded file, or the rows fixed in the
page and sent back), the preview's cohort, the migration's step map. Parsing only; the rules are the services'."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

from chalicelib.console.forms import Upload
from chalicelib.domain.groups import GROUP_TYPES
from chalicelib.domain.plans import ExitRule
from chalicelib.errors import InvalidError
from chalicelib.services import sheets

IMPORT_PARAMS: tuple[str, ...] = (
    *("name", "trigger", "channel_id", "tag_id", "stage", "priority", "holdout_percent", "reentry", "goal", "exit"),
    *("kind", "as_new_version_of", "on_conflict", "sheet", "group_type", "cohort", "day0"),
)
KINDS = [("customer", "客户培育（1对1）"), ("group", "社群日历（训练营）")]
GROUP_TYPE_CHOICES = [(key, f"{name}群") for key, name in GROUP_TYPES.items()]
TRIGGERS = [("manual", "手动加入"), ("channel", "扫渠道码加好友"), ("tag", "被打上标签"), ("stage", "进入阶段")]
REENTRY = [("never", "不再进入"), ("after_completion", "完成后可再进入"), ("always", "随时可再进入")]
EXITS = [  # the import's ``exit`` parameter (services/plan_import.py): the rules ops pick most
    ("order:full", "购买正价课后退出"),
    ("order", "下单（体验课或正价课）后退出"),
    ("order:full,negative_reply", "购买正价课或明确拒绝后退出"),
]
EXIT_NAMES = {  # an exit rule as the plan's page names it: "<what> 后退出"
    "order": "下单",
    "order:trial": "购买体验课或正价课",
    "order:full": "购买正价课",
    "negative_reply": "明确拒绝",
    "stage": "进入阶段",
    "tag": "被打上标签",
}
STATUS_NAMES = {"draft": "草稿", "published": "已发布", "paused": "已暂停", "archived": "已归档"}
STATUS_BADGES = {"draft": "", "published": "ok", "paused": "warn", "archived": "bad"}
CONTENT_TYPE_NAMES = {
    "interactive": "互动",
    "marketing": "营销",
    "service": "服务",
    "content": "资料",
    "practice": "每日一练",
    "announcement": "公告",
}
FIELD_NAMES = {  # a diff's dotted fields (plan_to_json's), as ops call them
    "name": "计划名称",
    "goal": "目标",
    "trigger.type": "进入方式",
    "trigger.channel_id": "进入渠道",
    "trigger.tag_id": "进入标签",
    "trigger.stage": "进入阶段",
    "reentry": "再次进入",
    "priority": "优先级",
    "holdout_percent": "对照组比例",
    "silence.days": "沉默天数",
    "silence.then_plan_id": "沉默后移交计划",
    "exit": "退出规则",
    "day": "天数",
    "at": "时间",
    "after_minutes": "分钟后",
    "title": "事项",
    "content_type": "内容类型",
    "message.text": "内容",
    "message.attachments": "附件",
    "message.content_id": "素材",
    "executor": "执行人",
    "notes": "话术",
    "lateness.max_minutes": "最多晚发（分钟）",
    "lateness.then": "超时后",
    "on_cap": "达到触达上限时",
    "phase": "阶段",
    "kind": "形式",  # 朋友圈 or a message (docs/moments.md)
    "order": "顺序",
}
JOIN_RE = re.compile(r"^\d{1,2}[:：]\d{2}$")
DEFAULT_JOINS = "09:00, 13:30, 23:30"  # a morning, an afternoon and a late-night add: quiet hours show up


def import_params(form: dict[str, str]) -> dict[str, str]:
    """The import's query parameters (api/plans.py IMPORT_QUERY), from the form: blank ones left out."""
    return {k: form[k].strip() for k in IMPORT_PARAMS if form.get(k, "").strip()}


def sheet_of(form: dict[str, str], form_list: list[tuple[str, str]], files: dict[str, Upload]) -> tuple[bytes, str]:
    """The sheet's bytes and media type: the rows edited in the page (``grid``) as CSV, or the uploaded file (its
    type by its name first: Windows browsers call a .csv application/vnd.ms-excel)."""
    if form.get("grid"):
        return grid_csv(form_list), "text/csv"
    upload = files.get("file")
    if upload is None or not upload.data:
        raise InvalidError("请选择一个 CSV 或 XLSX 表格文件")
    name = upload.filename.lower()
    if name.endswith(".xlsx"):
        return upload.data, sheets.XLSX
    if name.endswith((".csv", ".txt")):
        return upload.data, "text/csv"
    return upload.data, upload.content_type or sheets.OCTET


def grid_csv(fields: list[tuple[str, str]]) -> bytes:
    """The page's editable grid (``header``, then ``row`` markers each followed by its ``cell`` values) as CSV."""
    rows: list[list[str]] = []
    for key, value in fields:
        if key == "header":
            if not rows:
                rows.append([])
            rows[0].append(value)
        elif key == "row":
            rows.append([])
        elif key == "cell" and rows:
            rows[-1].append(value)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def preview_request(query: dict[str, str], today: date) -> tuple[date, list[str], int, list[str]]:
    """(day 0, join times, days, problems) from the preview's GET form; defaults: today, three joins, 7 days."""
    problems = []
    try:
        start = date.fromisoformat(query.get("start") or today.isoformat())
    except ValueError:
        start, problems = today, ["开始日期写成 YYYY-MM-DD"]
    joins = [
        j.strip().replace("：", ":") for j in re.split(r"[,，\s]+", query.get("joins") or DEFAULT_JOINS) if j.strip()
    ]
    if not joins or not all(JOIN_RE.match(j) for j in joins):
        joins, problems = ["09:00"], [*problems, "加入时间写成 HH:MM，用逗号隔开，如 09:00, 23:30"]
    joins = [f"{int(j.split(':')[0]):02d}:{j.split(':')[1]}" for j in joins]
    raw_days = (query.get("days") or "7").strip()
    if raw_days.isdigit() and 1 <= int(raw_days) <= 90:
        days = int(raw_days)
    else:
        days, problems = 7, [*problems, "天数是 1 到 90 的整数"]
    return start, joins, days, problems


def step_map(form: dict[str, str]) -> dict[str, str | None]:
    """``map_<old step>`` → the new step it moves to ("" = drop it, go on with the next)."""
    return {k.removeprefix("map_"): (v or None) for k, v in form.items() if k.startswith("map_")}


def previewed(from_version: int, mapping: dict[str, str | None]) -> str:
    """What a dry run showed (version and step map), carried to the apply button so a changed map is not applied."""
    return json.dumps({"from": from_version, "map": mapping}, sort_keys=True, ensure_ascii=False)


def exit_labels(exits: tuple[ExitRule, ...]) -> list[str]:
    """A plan's exit rules as ops read them (购买正价课, 进入阶段 lost …)."""
    named = [(EXIT_NAMES.get(f"{e.type}:{e.kind}" if e.kind else e.type, e.type), e.stage, e.tag_id) for e in exits]
    return [" ".join(bit for bit in bits if bit) for bits in named]
