"""订单导入 (issue 14 §5): ops upload the institution's past customers and orders; a refused file comes back with
each problem next to its row, in Chinese; the latest imports are listed with their counts.

The file's bad rows are read again here only to show them back to the person who uploaded them: nothing of them is
stored or logged.
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib.console import plan_form
from chalicelib.console.pages import Html, PageCtx, PageResult, Redirect, page
from chalicelib.domain.tenants import Role
from chalicelib.errors import InvalidError
from chalicelib.services import sheets

bp = Blueprint(__name__)

MAX_SHOWN_ROWS = 200
STATUS = {"staged": "未完成（重新上传同一文件即可完成）", "complete": "已完成"}
# (the English message as domain/crm_import.py writes it, its Chinese); the groups carry the values over.
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"the phone is missing", "手机号没有填"),
    (r"not a mainland mobile number.*", "不是大陆手机号（以 1 开头的 11 位数字）"),
    (r"the 客户编号 \(their customer id\) is missing", "客户编号没有填"),
    (r"the 客户编号 is longer than (\d+) characters", "客户编号超过 {0} 个字"),
    (r"the product is missing", "产品/课程没有填"),
    (r"the product is longer than (\d+) characters", "产品/课程超过 {0} 个字"),
    (r"not an amount in yuan.*", "金额须为不小于 0 的元数，最多两位小数（如 1999 或 19.90）"),
    (r"not a date.*", "日期格式不对（写成 2025-09-01、2025/9/1 或 2025年9月1日）"),
    (r"is in the future", "日期在今天之后"),
    (r"is before (.+)", "日期早于 {0}"),
    (r"the type is .*", "类型须为 正价 或 体验"),
    (
        r"duplicate order: the same 客户编号, product and date as row (\d+)",
        "与第 {0} 行重复（客户编号、产品、日期都相同）",
    ),
    (r"客户编号 (.+) has another phone on row (\d+)", "客户编号 {0} 在第 {1} 行是另一个手机号"),
    (
        r"no header row found in the first (\d+) rows.*",
        "前 {0} 行里没有表头：应有 手机号、客户编号、产品/课程、金额、日期",
    ),
    (r"the header lacks required columns: (.*)", "表头缺少列：{0}"),
    (r"the sheet has no rows below its header", "表头下面没有数据"),
    (r"the file has more than (\d+) rows; split it", "超过 {0} 行：请拆成几个文件分别导入"),
    (r"the file is over (\d+) MB; split it", "文件超过 {0} MB：请拆成几个文件分别导入"),
    (r"the file is empty", "文件是空的"),
    (r"the CSV is not UTF-8 \(or GB18030\) text", "CSV 文件不是 UTF-8（或 GBK）编码的文字"),
    (r"the file is not a readable XLSX workbook", "这个文件不是能读取的 XLSX 表格"),
    (r"send the sheet as text/csv or .*", "请上传 CSV 或 XLSX 表格"),
)
_COMPILED = tuple((re.compile(f"^{english}$", re.DOTALL), chinese) for english, chinese in PATTERNS)


def zh(message: str) -> str:
    """The problem in Chinese, or as it was when this table does not know it (never hidden)."""
    message = message.removesuffix("; nothing was imported")
    for pattern, chinese in _COMPILED:
        match = pattern.match(message)
        if match:
            return chinese.format(*match.groups())
    return message


def _page(pc: PageCtx, status: int = 200, **context: Any) -> Html:
    imports = pc.svc.crm.recent(pc.tenant.tenant_id)
    base = {"title": "订单导入", "active": "/crm-import", "imports": imports, "status_names": STATUS, "zh": zh}
    shown = {"problems": [], "header": [], "rows": [], "bad": 0, "preview": None, **context}
    from chalicelib.domain.crm_import import LABELS  # here: `import app` does not pay for it

    return Html("crm/import.html", {**base, "labels": LABELS, **shown}, status=status)


@page(bp, "/console/{tenant_id}/crm-import", role=Role.OPS, summary="订单导入: the upload form and the latest imports")
def crm_import(pc: PageCtx, tenant_id: str) -> PageResult:
    return _page(pc)


@page(bp, "/console/{tenant_id}/crm-import", ("POST",), role=Role.OPS, summary="Upload past orders (CSV or XLSX)")
def upload(pc: PageCtx, tenant_id: str) -> PageResult:
    from chalicelib.services.crm_import import CrmRowsError  # the services load on first use, not with the app

    dry_run = bool(pc.form.get("dry_run"))
    try:
        raw, content_type = plan_form.sheet_of({}, [], pc.files)
    except InvalidError as exc:
        return _page(pc, 400, problems=[exc.message])
    try:
        record, created = pc.svc.crm.upload(pc.tenant, raw, content_type, dry_run=dry_run)
    except CrmRowsError as exc:
        header, rows = _bad_rows(raw, content_type, exc.rows)
        return _page(pc, 400, problems=[exc.message], header=header, rows=rows, bad=len(exc.rows))
    except InvalidError as exc:  # unreadable, too large, no header…: nothing to lay against rows
        return _page(pc, exc.status, problems=[exc.message])
    if dry_run:
        return _page(pc, preview=record)
    flash = f"已导入 {record['orders']} 条订单（{record['customers']} 位客户），其中 {record['matched']} 位已是企微客户"
    if not created:
        flash = "这个文件之前已导入，没有重复导入"
    return Redirect(f"{pc.base}/crm-import", flash=flash)


def _bad_rows(raw: bytes, content_type: str, problems: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The bad rows as the sheet has them, each with its problems (the file was readable to get this far)."""
    from chalicelib.services.crm_import import MAX_ROWS

    table = sheets.read_table(raw, sheets.sheet_format(content_type, raw), max_rows=MAX_ROWS + 1)
    from chalicelib.domain.crm_import import cell_text, find_header

    found = find_header(table)
    header_row = found[0] if found else 0
    header = next((cells for number, cells in table if number == header_row), [])
    by_row = {p["row"]: p["errors"] for p in problems}
    rows = [
        {"number": number, "cells": [cell_text(c) for c in cells], "problems": by_row[number]}
        for number, cells in table
        if number in by_row
    ][:MAX_SHOWN_ROWS]
    return [cell_text(h) for h in header], rows
