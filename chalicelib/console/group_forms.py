"""The 社群 forms (a group's setup, a live code, the naming template, a camp's enrollment): their fields parsed into
the JSON API's bodies, and a refusal placed next to the field it is about, in Chinese.

Parsing only, like a route's schema: the rules (free groups, WeCom's limits, the stale rev) are the services'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.console.library_forms import words
from chalicelib.domain.groups import Group
from chalicelib.errors import InvalidError

SETUP_FIELDS = ("type", "cohort", "cohort_start", "number", "campaign", "tags", "kols")
CODE_FIELDS = ("name", "positioning", "cohort", "rotate_at", "chat_ids", "queue", "auto_create_room")
NAMING_FIELDS = ("institution", "separator", "cohort_suffix", "number_width")
MESSAGES = {  # one message a field, whatever the schema or the service found wrong with it
    "type": "请选择群类型",
    "cohort": "期数 1–20 个字，如 3期",
    "cohort_start": "开营日须为真实的日期 YYYY-MM-DD",
    "number": "编号须为 1–4 位数字，如 02",
    "campaign": "活动最多 100 个字",
    "tags": "最多 20 个标签，每个 1–30 个字，不要重复",
    "kols": "最多 50 个 KOL，每个是成员的 userid",
    "name": "请填写群活码名称（最多 100 个字）",
    "positioning": "请填写定位（1–20 个字，不含分隔符），如 考研数学冲刺",
    "rotate_at": "满员人数须为 2–500 的整数",
    "chat_ids": "请选择 1–5 个引流群（企业微信一个群活码最多 5 个群）",
    "queue": "候补群最多 50 个，且不能与引流群重复",
    "institution": "请填写机构名（1–20 个字，不含分隔符）",
    "separator": "分隔符 1–3 个字符，不能是字母、数字或空格",
    "cohort_suffix": "期数后缀最多 3 个字，不含数字和分隔符",
    "number_width": "编号位数须为 1–4",
}
CODE_COHORT = "期数写数字，可带“期”，如 3 或 3期"
REFUSALS = {  # group_plans' reasons a group was not enrolled
    "group_unknown": "没有这个社群",
    "group_dismissed": "群已解散",
    "audience_not_matched": "不在计划的受众里（群类型、期数或标签不符）",
    "no_cohort_start": "还没有设置开营日",
    "calendar_over": "日历已全部过期",
    "already_enrolled": "已经报名过",
}
_GROUPS_NAMED = re.compile(r"(unknown or dismissed group|group\(s\) already on a code|already full on this code)")


@dataclass
class Form:
    """A form as submitted (to show again) and its problems by field ("" above the form)."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(form: dict[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _rev(form: dict[str, str], errors: dict[str, str]) -> int:
    raw = _text(form, "rev")
    if not raw.isdigit():
        errors[""] = "表单已过期，请重新打开页面后再保存"
        return 0
    return int(raw)


# --- a group's setup ---------------------------------------------------------------------------------------------


def setup_of(g: Group) -> Form:
    s = g.setup
    return Form(
        {
            "rev": str(s.rev),
            "type": s.type or "",
            "cohort": s.cohort or "",
            "cohort_start": s.cohort_start or "",
            "number": s.number or "",
            "campaign": s.campaign or "",
            "tags": "，".join(s.tags),
            "kols": "，".join(s.kols),
        }
    )


def parse_setup(form: dict[str, str]) -> tuple[Form, dict[str, Any]]:
    """The setup form → PUT /groups/{chat_id}/setup's body (blank fields: not set)."""
    shown = Form({"rev": _text(form, "rev"), **{k: _text(form, k) for k in SETUP_FIELDS}})
    rev = _rev(form, shown.errors)
    v = shown.values
    body: dict[str, Any] = {"rev": rev, **{k: v[k] or None for k in SETUP_FIELDS if k not in ("tags", "kols")}}
    body["tags"], body["kols"] = words(v["tags"]), words(v["kols"])
    return shown, body


# --- a group live code (群活码) ------------------------------------------------------------------------------------


def new_code() -> Form:
    return Form({"name": "", "positioning": "", "cohort": "", "rotate_at": "500", "chat_ids": [], "queue": [],
                 "auto_create_room": True})  # fmt: skip


def _rotate_at(raw: str, errors: dict[str, str]) -> int | None:
    if not raw.isdigit():
        errors["rotate_at"] = MESSAGES["rotate_at"]
        return None
    return int(raw)


def parse_code(form: dict[str, str], chat_ids: list[str], queue: list[str]) -> tuple[Form, dict[str, Any]]:
    """The new-code form → POST /group-codes' body. A group ticked as both is a 引流群, not a 候补群."""
    queue = [c for c in queue if c not in chat_ids]
    shown = Form(
        {
            **{k: _text(form, k) for k in ("name", "positioning", "cohort", "rotate_at")},
            "chat_ids": chat_ids,
            "queue": queue,
            "auto_create_room": bool(form.get("auto_create_room")),
        }
    )
    v, errors = shown.values, shown.errors
    for name in ("name", "positioning", "cohort"):
        if not v[name]:
            errors[name] = MESSAGES[name]
    if not chat_ids:
        errors["chat_ids"] = MESSAGES["chat_ids"]
    body: dict[str, Any] = {
        "name": v["name"],
        "positioning": v["positioning"],
        "cohort": v["cohort"],
        "chat_ids": chat_ids,
        "queue": queue,
        "rotate_at": _rotate_at(v["rotate_at"], errors),
        "auto_create_room": v["auto_create_room"],
    }
    return shown, body


def parse_code_update(form: dict[str, str], queue: list[str]) -> tuple[Form, dict[str, Any]]:
    """The code's edit form → PATCH /group-codes/{code_id}'s body: its threshold and its waiting groups."""
    shown = Form({"rev": _text(form, "rev"), "rotate_at": _text(form, "rotate_at"), "queue": queue})
    rev = _rev(form, shown.errors)
    return shown, {"rev": rev, "queue": queue, "rotate_at": _rotate_at(shown.values["rotate_at"], shown.errors)}


# --- the naming template -----------------------------------------------------------------------------------------


def parse_naming(form: dict[str, str]) -> tuple[Form, dict[str, Any]]:
    """The naming form → PUT /settings/group-naming's body."""
    shown = Form({k: _text(form, k) for k in NAMING_FIELDS})
    v = shown.values
    if not v["institution"]:
        shown.errors["institution"] = MESSAGES["institution"]
    width = v["number_width"] or "2"
    if not width.isdigit():
        shown.errors["number_width"] = MESSAGES["number_width"]
    body = {
        "institution": v["institution"],
        "separator": v["separator"] or "·",
        "cohort_suffix": v["cohort_suffix"],
        "number_width": int(width) if width.isdigit() else 2,
    }
    return shown, body


# --- refusals ----------------------------------------------------------------------------------------------------


def place(form: Form, exc: InvalidError, fields: tuple[str, ...]) -> None:
    """Put a refusal (the schema's details, or the service's "field: …" message) next to its field; one the form
    has no field for goes above it."""
    details = exc.details if isinstance(exc.details, list) else []
    for d in details or [{"path": "", "message": exc.message}]:
        path = str(d.get("path", "")).strip("/").split("/")[0] if isinstance(d, dict) else ""
        message = str(d.get("message", exc.message)) if isinstance(d, dict) else str(d)
        name = path or re.split(r"[\s:]", message, maxsplit=1)[0]
        if _GROUPS_NAMED.search(message):
            name, text = ("queue" if "queue" in fields and "full" in message else "chat_ids"), _groups_message(message)
        elif name == "cohort" and "must be a number" in message:
            text = CODE_COHORT
        elif "leaves no room" in message:
            name, text = "positioning", "机构名、定位和期数合起来太长：企业微信的群名最多 40 个字"
        else:
            text = MESSAGES.get(name, message)
        form.errors.setdefault(name if name in fields else "", text)


def _groups_message(message: str) -> str:
    named = message.rsplit(":", 1)[-1].strip()
    if "already on a code" in message:
        return f"这些群已在别的群活码上：{named}"
    if "full" in message:
        return f"这些群在这个群活码上已满：{named}"
    return f"这些群不存在或已解散：{named}"


def enrolled_message(result: dict[str, Any], names: dict[str, str]) -> str:
    """What a camp enrollment did, for the flash: how many groups, their first touch, and each refusal."""
    parts: list[str] = []
    enrolled = result.get("enrolled") or []
    if enrolled:
        first = min(str(e["first_due_at"]) for e in enrolled)
        parts.append(f"已报名 {len(enrolled)} 个社群，首次推送 {first[:10]} {first[11:16]}")
    for r in result.get("refused") or []:
        chat = names.get(r["chat_id"], r["chat_id"])
        parts.append(f"{chat} 未报名：{REFUSALS.get(r['reason'], r['reason'])}")
    return "；".join(parts) or "没有报名任何社群"
