"""The console's form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data`` (file uploads).

Multipart is read with the standard library's MIME parser (``email``, HTTP policy), which handles the boundary,
quoting and binary parts; the request's size is capped before (MAX_FORM_BYTES), so a part cannot be unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from chalicelib.errors import InvalidError, PayloadTooLargeError

MAX_FORM_BYTES = 6 * 1024 * 1024  # API Gateway's payload limit for a Lambda proxy request is 10 MB (6 MB Lambda)
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
CONTENT_TYPES = [FORM, MULTIPART]


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the browser sent it, its declared type, and its bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Form:
    fields: list[tuple[str, str]]
    files: dict[str, Upload]


def parse_form(content_type: str, raw: bytes) -> Form:
    """The form's fields (in order, repeated names kept) and files; InvalidError for a body that is neither."""
    if len(raw) > MAX_FORM_BYTES:
        raise PayloadTooLargeError(f"表单超过 {MAX_FORM_BYTES // (1024 * 1024)} MB")
    kind = content_type.split(";", 1)[0].strip().lower()
    if not raw:
        return Form([], {})
    if kind == FORM:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidError("表单不是 UTF-8 编码") from exc
        return Form(parse_qsl(text, keep_blank_values=True, max_num_fields=1000), {})
    if kind == MULTIPART:
        return _multipart(content_type, raw)
    raise InvalidError(f"不支持的表单类型：{kind or '无'}")


def _multipart(content_type: str, raw: bytes) -> Form:
    from email import policy  # here, not at the top: `import app` never parses a form
    from email.parser import BytesParser

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvalidError("表单格式有误（multipart）")
    fields: list[tuple[str, str]] = []
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if filename is not None:
            if data or filename:
                files[name] = Upload(filename, part.get_content_type(), data)
            continue
        try:
            fields.append((name, data.decode(part.get_content_charset() or "utf-8")))
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidError(f"表单字段 {name} 不是 UTF-8 编码") from exc
    return Form(fields, files)
