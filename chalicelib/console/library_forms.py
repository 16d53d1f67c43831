"""The content and script pages' forms: what a form's fields mean to the services, and where an error goes.

Parsing only (like a route's schema): the rules are the services'. An InvalidError whose message starts with a field
name ("title: …", "file: …") is shown next to that field; any other above the form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalicelib.console.forms import Upload as FormUpload

if TYPE_CHECKING:
    from chalicelib.services.library import Upload
from chalicelib.domain.library import CONTENT_KINDS, SCENES, STAGE_NAMES, STAGES
from chalicelib.errors import InvalidError

CONTENT_FIELDS = ("title", "text", "url", "picurl", "appid", "page")
SCRIPT_FIELDS = ("title", "text")
KIND_OPTIONS = [(k, v) for k, v in CONTENT_KINDS.items()]
STAGE_OPTIONS = [(s, STAGE_NAMES[s]) for s in STAGES]
SCENE_OPTIONS = [(k, v) for k, v in SCENES.items()]
_SPLIT = re.compile(r"[,，;；\s]+")
_FIELD_ERROR = re.compile(r"^([a-z_, ]+): (.+)$", re.S)


def words(value: str) -> list[str]:
    """A comma- or space-separated list (tags, content ids), without blanks or repeats."""
    return list(dict.fromkeys(w for w in _SPLIT.split(value or "") if w))


def _optional(form: dict[str, str], name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value or None


def _rev(form: dict[str, str]) -> int:
    try:
        return int(form.get("rev", ""))
    except ValueError:
        raise InvalidError("rev: 表单已过期，请重新打开后再保存") from None


def content_data(form: dict[str, str], *, editing: bool) -> dict[str, Any]:
    """A content form as ContentService takes it (create: with its kind; edit: with its rev)."""
    data: dict[str, Any] = {name: (form.get(name) or "").strip() for name in CONTENT_FIELDS}
    data["text"] = (form.get("text") or "").strip()
    data["tags"] = words(form.get("tags", ""))
    data["stage"] = _optional(form, "stage")
    data["scene"] = _optional(form, "scene")
    if editing:
        data["rev"] = _rev(form)
    else:
        data["kind"] = form.get("kind", "")
        if data["kind"] not in CONTENT_KINDS:
            raise InvalidError("kind: 请选择素材类型")
    return data


def script_data(form: dict[str, str], *, editing: bool) -> dict[str, Any]:
    data: dict[str, Any] = {name: (form.get(name) or "").strip() for name in SCRIPT_FIELDS}
    data["stage"] = form.get("stage", "")
    data["scene"] = form.get("scene", "")
    data["content_ids"] = words(form.get("content_ids", ""))
    try:
        data["order"] = int(form.get("order") or 0)
    except ValueError:
        raise InvalidError("order: 排序请填整数") from None
    if not data["title"]:
        raise InvalidError("title: 请填写标题")
    if not data["text"]:
        raise InvalidError("text: 请填写话术内容")
    if editing:
        data["rev"] = _rev(form)
    return data


def upload_of(files: dict[str, FormUpload], name: str = "file") -> Upload | None:
    from chalicelib.services.library import Upload  # on a form with a file only: cold starts stay low

    """The form's file, if one was chosen (a browser sends an empty part when none was)."""
    got = files.get(name)
    if got is None or not got.data:
        return None
    return Upload(got.filename, got.content_type, got.data)


def field_errors(exc: InvalidError) -> dict[str, str]:
    """{field: message} for the form: the fields an error names, or "" (above the form) when it names none."""
    found = _FIELD_ERROR.match(exc.message)
    if not found:
        return {"": exc.message}
    names = [n.strip() for n in found.group(1).split(",") if n.strip()]
    return dict.fromkeys(names, found.group(2))
