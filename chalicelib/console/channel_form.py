"""The channel form (渠道活码): what it shows, and its fields parsed into the JSON API's body, each problem next to
its field in Chinese. Parsing only: the rules (who can be assigned, WeCom's limits) stay in the service, whose
refusal is placed next to the field it is about (``place``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.channels import Channel, message_to_json
from chalicelib.errors import InvalidError

SOURCE_LABELS = {
    "douyin": "抖音",
    "bilibili": "B站",
    "wechat_official": "公众号",
    "wechat_ads": "微信广告",
    "xiaohongshu": "小红书",
    "zhihu": "知乎",
    "kuaishou": "快手",
    "baidu": "百度",
    "offline_poster": "线下海报",
    "campus_agent": "校园代理",
    "referral": "老带新",
    "website": "官网",
    "other": "其他",
}
KIND_LABELS = {"standard": "活码（二维码）", "link": "获客链接（投放广告用的链接）"}
MODE_LABELS = {"single": "单人", "round_robin": "轮流分配（按顺序，满额跳过）"}
FIELDS_OF_PATH = {  # the JSON body's paths (schema and service) → the form's fields
    "name": "name",
    "kind": "kind",
    "source": "source",
    "campaign": "campaign",
    "staff": "userids",
    "staff.mode": "mode",
    "staff.userids": "userids",
    "staff.backup_userid": "backup_userid",
    "staff.daily_caps": "caps",
    "welcome": "welcome",
    "message": "welcome",
    "tags": "tags",
    "tag": "tags",
    "plan_id": "plan_id",
    "spend": "spend",
    "exposure": "exposure",
}


SERVICE_MESSAGES: tuple[tuple[str, str], ...] = (  # the service's English refusals (domain/channels.py), for ops
    (r"unknown or inactive staff: (.*)", "员工 {0} 不存在或已停用"),
    (r"staff\.mode 'single' takes exactly one userid", "单人模式只能选择一名员工"),
    (r"staff\.userids contains duplicates", "接待员工有重复"),
    (r"a channel code takes at most (\d+) staff members", "一个渠道码最多 {0} 名员工"),
    (r"message text is (\d+) bytes; WeCom allows (\d+)", "欢迎语有 {0} 字节，企业微信最多 {1} 字节"),
    (r"a message takes at most (\d+) attachments, got (\d+)", "欢迎语最多 {0} 个附件（现在 {1} 个）"),
    (r"an acquisition link takes no backup_userid or daily_caps: .*", "获客链接不设每日上限和备用员工"),
)


def _zh(message: str) -> str:
    for english, chinese in SERVICE_MESSAGES:
        match = re.fullmatch(english, message)
        if match:
            return chinese.format(*match.groups())
    return message


@dataclass
class ChannelForm:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def empty() -> ChannelForm:
    return ChannelForm(
        {
            "name": "",
            "kind": "standard",
            "source": "douyin",
            "campaign": "",
            "mode": "single",
            "userids": [],
            "backup_userid": "",
            "caps": {},
            "welcome": "",
            "attachments": "[]",
            "tags": "",
            "plan_id": "",
            "spend": "",
            "exposure": "",
        }
    )


def from_channel(c: Channel) -> ChannelForm:
    a = c.assignment
    welcome = message_to_json(c.welcome)
    return ChannelForm(
        {
            "name": c.name,
            "kind": c.kind,
            "source": c.source,
            "campaign": c.campaign,
            "mode": a.mode,
            "userids": list(a.userids),
            "backup_userid": a.backup_userid or "",
            "caps": {u: str(n) for u, n in a.daily_caps.items()},
            "welcome": welcome["text"],
            "attachments": json.dumps(welcome["attachments"], ensure_ascii=False),
            "tags": "\n".join(f"{t.group}/{t.name}" for t in c.tags),
            "plan_id": c.plan_id or "",
            "spend": "" if c.spend is None else f"{c.spend:g}",
            "exposure": "" if c.exposure is None else str(c.exposure),
        }
    )


def parse(form: dict[str, str], userids: list[str]) -> tuple[ChannelForm, dict[str, Any]]:
    """The form as submitted (to show again) and the API body it means; problems by field."""
    caps = {k.removeprefix("cap_"): v.strip() for k, v in form.items() if k.startswith("cap_") and v.strip()}
    shown = ChannelForm(
        {
            **empty().values,
            **{k: form.get(k, "").strip() for k in ("name", "source", "campaign", "mode", "backup_userid")},
            "kind": form.get("kind", "standard").strip() or "standard",
            **{k: form.get(k, "").strip() for k in ("tags", "plan_id", "spend", "exposure")},
            "welcome": form.get("welcome", "").replace("\r\n", "\n").strip(),
            "attachments": form.get("attachments", "[]") or "[]",
            "userids": userids,
            "caps": caps,
        }
    )
    v, errors = shown.values, shown.errors
    if not v["name"]:
        errors["name"] = "请填写渠道名称"
    if v["kind"] not in KIND_LABELS:
        errors["kind"] = "请选择渠道类型"
    if v["source"] not in SOURCE_LABELS:
        errors["source"] = "请选择来源平台"
    if v["mode"] not in MODE_LABELS:
        errors["mode"] = "请选择分配方式"
    if not userids:
        errors["userids"] = "至少选择一名员工"
    elif v["mode"] == "single" and len(userids) > 1:
        errors["userids"] = "单人模式只能选择一名员工；要多人接待请选“轮流分配”"
    daily_caps: dict[str, int] = {}
    for userid, raw in caps.items():
        if not raw.isdigit():
            errors["caps"] = "每日上限须为不小于 0 的整数"
        elif userid in userids:
            daily_caps[userid] = int(raw)
    tags, problem = _tags(v["tags"])
    if problem:
        errors["tags"] = problem
    spend = _number(v["spend"], errors, "spend", "投放花费须为不小于 0 的金额（元）")
    exposure = _number(v["exposure"], errors, "exposure", "曝光量须为不小于 0 的整数", whole=True)
    try:
        attachments = json.loads(v["attachments"])
    except ValueError:
        attachments = []
    body: dict[str, Any] = {
        "name": v["name"],
        "kind": v["kind"],
        "source": v["source"],
        "campaign": v["campaign"],
        "staff": {
            "mode": v["mode"],
            "userids": userids,
            "backup_userid": v["backup_userid"] or None,
            "daily_caps": daily_caps,
        },
        "welcome": {"text": v["welcome"], "attachments": attachments if isinstance(attachments, list) else []},
        "tags": tags,
        "plan_id": v["plan_id"] or None,
        "spend": spend,
        "exposure": exposure,
    }
    return shown, body


def place(form: ChannelForm, exc: InvalidError) -> None:
    """Put a refusal (the schema's details or the service's message) next to the field it is about."""
    details = exc.details if isinstance(exc.details, list) else []
    for d in details or [{"path": "", "message": exc.message}]:
        path = str(d.get("path", "")).strip("/").replace("/", ".") if isinstance(d, dict) else ""
        message = str(d.get("message", exc.message)) if isinstance(d, dict) else str(d)
        key = path or message.split(" ", 1)[0].rstrip(":")
        name = next((FIELDS_OF_PATH[p] for p in _prefixes(key) if p in FIELDS_OF_PATH), None)
        if name is None and ("staff" in message or "userid" in message):
            name = "userids"
        form.errors.setdefault(name or "form", _zh(message))


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _tags(text: str) -> tuple[list[dict[str, str]], str | None]:
    tags = []
    for line in text.replace("，", "\n").replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        group, sep, name = line.replace("／", "/").partition("/")
        if not sep or not group.strip() or not name.strip():
            return [], f"标签写成“标签组/标签名”，每行一个，如：流量平台来源/抖音（“{line}”不是）"
        tags.append({"group": group.strip(), "name": name.strip()})
    return tags, None


def _number(raw: str, errors: dict[str, str], name: str, message: str, *, whole: bool = False) -> Any:
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors[name] = message
        return None
    if value < 0 or not value.is_finite() or (whole and value != value.to_integral_value()):
        errors[name] = message
        return None
    return int(value) if whole else float(value)
