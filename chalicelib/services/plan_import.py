"""SOP plans from spreadsheets (CSV or XLSX): ops write their SOPs as tables, so the table is an input format.

One header row (found among the first 10 rows, so a title row above it is fine), then one step per row. Columns,
in English or Chinese (any order; unknown columns are ignored and reported):

    day 天数/第几天/日期 · time 时间 · after_minutes 分钟后 · content type 内容类型 · message 内容/话术内容/消息/详情 ·
    executor 执行人 · notes 备注/话术 · title 事项 · id 步骤 · phase 阶段 · content_ids 素材 (content library ids,
    comma-separated: sent with the message) · script_id 话术库 (a script id: its text joins the notes) · kind 形式

A row is timed either by day + time (the enrollment's local date + day days at HH:MM; day 0 is the day the customer
joined) or by after_minutes (minutes after enrollment; leave time empty, day empty or 0). Content types may be
written 互动/营销/服务/内容 (资料 = content), and 每日一练 (practice) or 公告 (announcement). The executor may be
"owner" (负责人, 群主, or empty), a staff userid or a staff member's name. Blank rows are skipped. Row numbers in
errors are the sheet's own (the header is row 1 when it is on top), and every problem of every row is reported at once.

A group plan's sheet (``?kind=group``, e.g. samples/28天训练营.csv) is the field's camp table: 日期 is the cohort's
day (D-7, 第-7天, -7: before day 0, the cohort's start), with 阶段 (预热/开营/正课/结营), 时间, 事项, 类型, 详情 (the
message), 话术 (script notes) and 执行人 (群主: the group's owner sends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from chalicelib.domain import group_plans
from chalicelib.domain.channels import MAX_WELCOME_TEXT_BYTES
from chalicelib.domain.plans import GROUP_PLAN, MOMENT_STEP, OWNER, STEP_KIND_WORDS
from chalicelib.domain.staff import Staff
from chalicelib.services.sheets import blank

MAX_UPLOAD_BYTES = 1024 * 1024
HEADER_SCAN_ROWS = 10
STEP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DAY_RE = re.compile(r"^(?:第|day|d)?\s*([-−]?\s*\d+)\s*(?:天|日)?$", re.IGNORECASE)
TIME_RE = re.compile(r"^(\d{1,2})[:：](\d{2})(?:[:：]00)?$")
MINUTES_RE = re.compile(r"^(\d+)\s*(?:分钟|分|min|mins|minutes)?$", re.IGNORECASE)

COLUMNS: dict[str, tuple[str, ...]] = {
    "day": ("day", "days", "天数", "第几天", "天", "日期"),
    "time": ("time", "at", "时间", "发送时间", "推送时间"),
    "after_minutes": ("after_minutes", "aftermin", "minutes", "分钟后", "延迟分钟", "加好友后分钟"),
    "content_type": ("content_type", "contenttype", "type", "内容类型", "类型"),
    "message": ("message", "text", "内容", "话术内容", "消息", "消息内容", "发送内容", "详情"),
    "executor": ("executor", "执行人", "执行者"),
    "notes": ("notes", "note", "备注", "话术", "话术备注"),
    "title": ("title", "item", "事项", "节点"),
    "id": ("id", "step", "step_id", "步骤", "步骤id", "编号"),
    "phase": ("phase", "阶段"),
    "content_ids": ("content_ids", "content_id", "素材", "素材id", "素材库", "附件"),
    "script_id": ("script_id", "script", "话术id", "话术库"),
    "kind": ("kind", "step_kind", "形式", "触达方式"),  # 朋友圈: a Moments step (docs/moments.md)
}
CONTENT_ID_RE = re.compile(r"^cnt_[A-Za-z0-9_-]{1,60}$")
SCRIPT_ID_RE = re.compile(r"^scr_[A-Za-z0-9_-]{1,60}$")
CONTENT_TYPES = {
    "interactive": "interactive",
    "marketing": "marketing",
    "service": "service",
    "content": "content",
    "互动": "interactive",
    "互动内容": "interactive",
    "营销": "marketing",
    "营销内容": "marketing",
    "服务": "service",
    "内容": "content",
    "资料": "content",
    "practice": "practice",
    "每日一练": "practice",
    "announcement": "announcement",
    "公告": "announcement",
}
OWNER_WORDS = frozenset({OWNER, "负责人", "客户负责人", "跟进人", "归属人", "群主"})
FIELD_COLUMN = {"at": "time", "day": "day", "after_minutes": "after_minutes", "content_type": "content_type"}
FIELD_COLUMN |= {name: name for name in ("message", "executor", "notes", "title", "id", "phase", "script_id", "kind")}
FIELD_COLUMN |= {"content_ids": "content_ids"}


def _normalise_header(value: Any) -> str:
    text = re.sub(r"[（(].*?[)）]", "", str(value or "")).strip().lower()
    return re.sub(r"[\s_\-]+", "_", text)


HEADER_NAMES = {_normalise_header(alias): name for name, aliases in COLUMNS.items() for alias in aliases}


@dataclass
class ParsedSheet:
    """Steps as plan-JSON dicts, the sheet row of each, and everything wrong with the rows."""

    format: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # canonical column -> header as written
    header_row: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    readable: bool = False  # a header row with the required columns was found
    min_day: int = 0  # a group plan's sheet names days before the cohort's start (negative)

    def column(self, name: str) -> str:
        return self.headers.get(name, name)

    def error(self, row: int, column: str | None, message: str) -> None:
        self.errors.append({"row": row, "column": self.column(column) if column else None, "message": message})

    def report(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "header_row": self.header_row,
            "steps": len(self.steps),
            "columns": dict(self.headers),
            "ignored_columns": list(self.ignored_columns),
        }


# --- cells ------------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text: whole numbers without ".0", Windows line breaks normalised, outer whitespace stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, time | datetime):
        return value.strftime("%H:%M")
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _whole(value: Any, pattern: re.Pattern[str]) -> int | None:
    """A non-negative whole number, written as a number or as text the pattern accepts (第3天, 5分钟…)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    match = pattern.match(_text(value))
    return int(match.group(1)) if match else None


def _signed(value: Any) -> int | None:
    """A whole number of days, negative allowed (D-7, 第-7天, -7): whether it is in range is the caller's."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    match = DAY_RE.match(_text(value))
    return int(re.sub(r"\s", "", match.group(1)).replace("−", "-")) if match else None


def _clock(value: Any) -> str | None:
    """ "HH:MM" from a time cell, a date-time cell, Excel's day fraction, or text such as 8:00 or 20：00."""
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        return None if value.second or value.microsecond else f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, float) and 0 <= value < 1:
        minutes = round(value * 1440)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    match = TIME_RE.match(_text(value))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return f"{int(match.group(1)):02d}:{match.group(2)}"


# --- rows to steps ----------------------------------------------------------------------------------------------


def _find_header(rows: list[tuple[int, list[Any]]]) -> tuple[int, int, dict[int, str]] | None:
    """(index into rows, row number, column index -> canonical name) of the first row naming two known columns."""
    for index, (number, cells) in enumerate(rows[:HEADER_SCAN_ROWS]):
        names = {
            i: HEADER_NAMES[_normalise_header(c)] for i, c in enumerate(cells) if _normalise_header(c) in HEADER_NAMES
        }
        if len(names) >= 2:
            return index, number, names
    return None


def header_of(rows: list[tuple[int, list[Any]]]) -> tuple[int, list[Any]] | None:
    """(row number, cells) of the header row the import reads the sheet by, or None."""
    found = _find_header(rows)
    return (found[1], rows[found[0]][1]) if found else None


def cell_text(value: Any) -> str:
    """A cell as the import reads it as text (how the console shows a sheet back)."""
    return _text(value)


def _resolve_executor(value: str, staff: list[Staff]) -> tuple[str | None, str | None]:
    """(userid or "owner", None) or (None, the problem). Staff may be written by userid or, if unique, by name."""
    if not value or value.lower() in OWNER_WORDS:
        return OWNER, None
    by_id = {s.userid: s for s in staff}
    named = [s for s in staff if s.name == value]
    if value in by_id:
        member = by_id[value]
    elif len(named) == 1:
        member = named[0]
    elif named:
        return None, f"{len(named)} staff members are named {value!r}; write the userid instead"
    else:
        return None, f"unknown staff {value!r}: write a staff userid or name, or owner (负责人)"
    if not member.active:
        return None, f"staff {value!r} is inactive"
    return member.userid, None


def parse_steps(rows: list[tuple[int, list[Any]]], fmt: str, staff: list[Staff], *, min_day: int = 0) -> ParsedSheet:
    """Every row checked, every problem kept: the steps of the good rows and the errors of the bad ones.
    ``min_day``: the earliest day a row may name (a group plan's calendar starts before day 0)."""
    sheet = ParsedSheet(format=fmt, min_day=min_day)
    found = _find_header(rows)
    if found is None:
        first = rows[0][0] if rows else 1
        expected = "天数, 时间, 内容类型, 内容, 执行人, 备注 (or day, time, content type, message, executor, notes)"
        sheet.error(first, None, f"no header row found in the first {HEADER_SCAN_ROWS} rows; expected {expected}")
        return sheet
    index, sheet.header_row, names = found
    header_cells = rows[index][1]
    for i, cell in enumerate(header_cells):
        if i in names:
            if names[i] in sheet.headers:
                sheet.error(
                    sheet.header_row, names[i], f"two columns mean {names[i]}: {sheet.headers[names[i]]}, {cell}"
                )
            sheet.headers.setdefault(names[i], _text(cell))
        elif not blank(cell):
            sheet.ignored_columns.append(_text(cell))
    missing = [c for c in ("content_type", "message") if c not in sheet.headers]
    if not ({"day", "time"} <= set(sheet.headers) or "after_minutes" in sheet.headers):
        missing.append("day + time (天数 + 时间) or after_minutes (分钟后)")
    if missing:
        sheet.error(sheet.header_row, None, f"missing column(s): {', '.join(missing)}")
    if sheet.errors:
        return sheet
    sheet.readable = True
    ordinal = 0
    for number, cells in rows[index + 1 :]:
        values = {name: cells[i] if i < len(cells) else None for i, name in names.items()}
        if all(blank(v) for v in values.values()):
            continue
        ordinal += 1
        _parse_row(sheet, number, ordinal, values, staff)
    if not sheet.steps and not sheet.errors:
        sheet.error(sheet.header_row, None, "the sheet has no steps below its header row")
    return sheet


def _parse_row(sheet: ParsedSheet, number: int, ordinal: int, values: dict[str, Any], staff: list[Staff]) -> None:
    """One data row into one step (ids default to s1, s2… in row order); problems go to ``sheet.errors``."""
    before = len(sheet.errors)
    step: dict[str, Any] = {}
    step_id = _text(values.get("id")) or f"s{ordinal}"
    if not STEP_ID_RE.match(step_id):
        sheet.error(number, "id", f"step id must be 1-32 letters, digits, - or _, got {step_id!r}")
    step["id"] = step_id
    _parse_timing(sheet, number, values, step)
    kind = _text(values.get("content_type"))
    if kind.lower() not in CONTENT_TYPES:
        shown = kind or "(empty)"
        known = "互动, 营销, 服务, 内容, 每日一练 or 公告"
        sheet.error(number, "content_type", f"unknown content type {shown!r}: use {known}")
    step["content_type"] = CONTENT_TYPES.get(kind.lower(), kind)
    text = _text(values.get("message"))
    size = len(text.encode("utf-8"))
    content_ids = _library_refs(sheet, number, values)
    if not text and not content_ids:
        sheet.error(number, "message", "the message is empty")
    elif size > MAX_WELCOME_TEXT_BYTES:
        sheet.error(number, "message", f"the message is {size} bytes in UTF-8; WeCom allows {MAX_WELCOME_TEXT_BYTES}")
    step["message"] = {"text": text, **({"content_ids": content_ids} if content_ids else {})}
    script_id = _text(values.get("script_id"))
    if script_id and not SCRIPT_ID_RE.match(script_id):
        sheet.error(number, "script_id", f"a script id looks like scr_…, got {script_id!r}")
    if script_id:
        step["script_id"] = script_id
    form = STEP_KIND_WORDS.get(_text(values.get("kind")).lower())
    if form is None:
        sheet.error(number, "kind", f"{sheet.column('kind')} is 群发 (a message) or 朋友圈 (a Moments post)")
    step |= {"kind": form} if form == MOMENT_STEP else {}
    executor, problem = _resolve_executor(_text(values.get("executor")), staff)
    if problem:
        sheet.error(number, "executor", problem)
    step["executor"] = executor or OWNER
    for name, limit in (("notes", 2000), ("title", 64), ("phase", 16)):
        value = _text(values.get(name))
        if len(value) > limit:
            sheet.error(number, name, f"{sheet.column(name)} is {len(value)} characters; at most {limit}")
        if value:
            step[name] = value
    if len(sheet.errors) == before:
        sheet.steps.append(step)
        sheet.rows.append(number)


def _library_refs(sheet: ParsedSheet, number: int, values: dict[str, Any]) -> list[str]:
    """The row's content library ids (素材: comma- or space-separated); whether they exist is the plan's check."""
    ids = [part for part in re.split(r"[,，;；\s]+", _text(values.get("content_ids"))) if part]
    bad = [i for i in ids if not CONTENT_ID_RE.match(i)]
    if bad:
        sheet.error(number, "content_ids", f"a content id looks like cnt_…, got {', '.join(map(repr, bad))}")
    if len(ids) > 9:
        sheet.error(number, "content_ids", "a step sends at most 9 content items")
    return list(dict.fromkeys(i for i in ids if i not in bad))


def _parse_timing(sheet: ParsedSheet, number: int, values: dict[str, Any], step: dict[str, Any]) -> None:
    minutes, day, at = values.get("after_minutes"), values.get("day"), values.get("time")
    if not blank(minutes):
        parsed = _whole(minutes, MINUTES_RE)
        if parsed is None:
            sheet.error(number, "after_minutes", f"minutes must be a whole number ≥ 0, got {_text(minutes)!r}")
        if not blank(at) or (not blank(day) and _whole(day, DAY_RE) != 0):
            sheet.error(number, "after_minutes", f"give either {sheet.column('after_minutes')} or day + time, not both")
        step["after_minutes"] = parsed
        return
    if blank(day):
        sheet.error(number, "day", f"{sheet.column('day')} is empty (0 = the day the customer joined)")
    elif (parsed_day := _signed(day)) is None or not sheet.min_day <= parsed_day <= 365:
        sheet.error(number, "day", f"day must be a whole number from {sheet.min_day} to 365, got {_text(day)!r}")
    else:
        step["day"] = parsed_day
    if blank(at):
        sheet.error(number, "time", f"{sheet.column('time')} is empty (HH:MM)")
    elif (clock := _clock(at)) is None:
        sheet.error(number, "time", f"time must be HH:MM from 00:00 to 23:59, got {_text(at)!r}")
    else:
        step["at"] = clock


# --- the plan around the steps ----------------------------------------------------------------------------------


def plan_document(sheet: ParsedSheet, params: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The plan JSON for the imported steps, named and triggered by the query parameters; and their problems."""
    problems: list[dict[str, Any]] = []
    name = (params.get("name") or "").strip()
    if not name:
        problems.append({"parameter": "name", "message": "name is required, e.g. ?name=新客7天培育"})
    trigger: dict[str, Any] = {"type": params.get("trigger") or "manual"}
    for key in ("channel_id", "tag_id", "stage"):
        if params.get(key):
            trigger[key] = params[key]
    doc: dict[str, Any] = {"name": name or "-", "trigger": trigger, "steps": sheet.steps}
    if params.get("kind"):
        doc["kind"] = params["kind"]
    audience = {"types": params.get("group_type"), "cohorts": params.get("cohort")}
    if any(audience.values()):
        doc["group_audience"] = {k: [v] for k, v in audience.items() if v}
    if params.get("day0"):
        doc["day0"] = params["day0"]
    if params.get("goal"):
        doc["goal"] = params["goal"]
    if params.get("reentry"):
        doc["reentry"] = params["reentry"]
    if params.get("exit"):  # "order:full,negative_reply": each rule a type and, for orders, its kind
        rules = [t.strip().split(":", 1) for t in params["exit"].split(",") if t.strip()]
        doc["exit"] = [dict(zip(("type", "kind"), rule, strict=False)) for rule in rules]
    if params.get("priority"):
        try:
            doc["priority"] = int(params["priority"])
        except ValueError:
            problems.append({"parameter": "priority", "message": "priority must be a whole number from 0 to 1000"})
    if params.get("holdout_percent"):
        try:
            doc["holdout_percent"] = int(params["holdout_percent"])
        except ValueError:
            problems.append({"parameter": "holdout_percent", "message": "holdout_percent must be a whole number 0..50"})
    return doc, problems


def first_day(params: dict[str, str]) -> int:
    """The earliest day a sheet's rows may name: a group plan's calendar starts before the cohort's day 0."""
    return group_plans.MIN_DAY if params.get("kind") == GROUP_PLAN else 0


def locate(problems: list[dict[str, Any]], sheet: ParsedSheet) -> list[dict[str, Any]]:
    """Plan-level problems (JSON paths) in the sheet's terms: a step's problem names its row and column, anything
    else the query parameter it came from."""
    located: list[dict[str, Any]] = []
    for problem in problems:
        parts = problem.get("path", "/").strip("/").split("/")
        if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit():
            column = FIELD_COLUMN.get(parts[2]) if len(parts) > 2 else None
            sheet.error(sheet.rows[int(parts[1])], column, problem["message"])
            located.append(sheet.errors.pop())
        elif parts[0] == "steps":
            if not sheet.errors:  # "no steps" only matters when no row error explains it
                located.append({"row": None, "column": None, "message": problem["message"]})
        else:
            parameter = parts[1] if parts[0] == "trigger" and len(parts) > 1 and parts[1] != "type" else parts[0]
            located.append({"parameter": parameter or "body", "message": problem["message"]})
    return located
