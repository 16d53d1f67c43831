"""Reading an uploaded sheet (CSV or XLSX) into rows: the file's format, its text encoding, its first worksheet.

openpyxl is imported only when an XLSX arrives: no other endpoint needs it, and cold starts stay low.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from chalicelib.errors import InvalidError, PayloadTooLargeError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPES = ("text/csv", "application/csv", "text/plain")
OCTET = "application/octet-stream"
UPLOAD_TYPES = [XLSX, *CSV_TYPES, OCTET]
MAX_SCAN_ROWS = 1000


class UnsupportedMediaTypeError(InvalidError):
    """The upload is neither CSV nor XLSX (415)."""

    status = 415
    code = "unsupported_media_type"


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def sheet_format(content_type: str, raw: bytes) -> str:
    """ "xlsx" or "csv": by the file's own signature first (an XLSX is a zip), then by the declared type."""
    media = content_type.split(";")[0].strip().lower()
    if media not in (XLSX, OCTET, *CSV_TYPES):
        raise UnsupportedMediaTypeError(f"send the sheet as text/csv or {XLSX}, not {media or 'no Content-Type'}")
    if raw.startswith(b"PK\x03\x04") or media == XLSX:
        return "xlsx"
    return "csv"


def read_table(
    raw: bytes, fmt: str, *, sheet: str | None = None, max_rows: int = MAX_SCAN_ROWS, too_many: str | None = None
) -> list[tuple[int, list[Any]]]:
    """The sheet's rows as (row number as the sheet shows it, cell values), at most ``max_rows`` of them (a plan's
    MAX_SCAN_ROWS by default); more is an error, ``too_many`` its message (413 when given: a CRM file too large)."""
    rows = _read_xlsx(raw, sheet, max_rows) if fmt == "xlsx" else _read_csv(raw, max_rows)
    if len(rows) > max_rows and any(not blank(v) for _, cells in rows[max_rows:] for v in cells):
        if too_many is not None:
            raise PayloadTooLargeError(too_many)
        raise InvalidError(f"the sheet has more than {max_rows} rows; a plan has at most 100 steps")
    return rows[:max_rows]


def _decode(raw: bytes) -> str:
    """UTF-8 with or without BOM; else GB18030, which is what Excel's plain "CSV" writes on Chinese Windows."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InvalidError("the CSV is not UTF-8 (or GB18030) text") from exc


def _read_csv(raw: bytes, max_rows: int) -> list[tuple[int, list[Any]]]:
    text = _decode(raw)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows: list[tuple[int, list[Any]]] = []
        for number, cells in enumerate(reader, start=1):  # a record is one row, even with line breaks in a cell
            rows.append((number, list(cells)))
            if number > max_rows:
                break
        return rows
    except csv.Error as exc:
        raise InvalidError(f"the CSV cannot be read: {exc}") from exc


def _read_xlsx(raw: bytes, sheet: str | None, max_rows: int) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # only this endpoint needs it: keep cold starts low

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # a damaged or foreign file fails in many library-specific ways; all mean the same
        raise InvalidError("the file is not a readable XLSX workbook") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InvalidError(f"the workbook has no sheet {sheet!r}; its sheets: {', '.join(book.sheetnames)}")
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = ws.iter_rows(min_row=1, max_row=max_rows + 1, values_only=True)
        return [(number, list(cells)) for number, cells in enumerate(rows, start=1)]
    finally:
        book.close()
