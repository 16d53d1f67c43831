"""A sheet uploaded in the console: the plan it made, or the sheet itself with every problem next to its row.

The import is PlanService.import_sheet, unchanged (nothing is stored unless the whole sheet is good); this only
turns its refusal into what a person fixes a sheet from: the rows as they read them, each bad row with its problems
(column and message), the problems of the form's fields (name, trigger…), and those of the sheet as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.domain.plans import Plan
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, PayloadTooLargeError
from chalicelib.services import plan_import, sheets

if TYPE_CHECKING:
    from chalicelib.services.plans import PlanService

MAX_SHOWN_ROWS = 200  # a plan has at most 100 steps; the rest of a long sheet is not worth a page


@dataclass(frozen=True)
class RowProblem:
    column: str | None
    message: str


@dataclass(frozen=True)
class SheetRow:
    number: int  # as the sheet shows it
    cells: tuple[str, ...]
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class SheetUpload:
    plan: Plan | None = None
    report: dict[str, Any] | None = None
    header: tuple[str, ...] = ()
    header_row: int = 0
    rows: tuple[SheetRow, ...] = ()
    problems: tuple[str, ...] = ()  # the sheet's own (no header, missing columns…) and the upload's
    fields: dict[str, str] = field(default_factory=dict)  # form parameter -> its problem
    holder: str | None = None  # the plan that holds the name, when that is the problem

    @property
    def bad_rows(self) -> int:
        return sum(1 for r in self.rows if r.problems)


def upload_sheet(
    plans: PlanService, tenant: Tenant, raw: bytes, content_type: str, params: dict[str, str]
) -> SheetUpload:
    try:
        plan, report = plans.import_sheet(tenant, raw, content_type, params)
    except ConflictError as exc:
        if exc.code != "plan_name_taken":
            raise
        holder = (exc.details or {}).get("plan_id")
        return _with_rows(raw, content_type, params, [], fields={"name": exc.message}, holder=holder)
    except PayloadTooLargeError as exc:
        return SheetUpload(problems=(exc.message,))
    except InvalidError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        if not details:
            return SheetUpload(problems=(exc.message,))
        return _with_rows(raw, content_type, params, details)
    return SheetUpload(plan=plan, report=report)


def _with_rows(
    raw: bytes,
    content_type: str,
    params: dict[str, str],
    details: list[dict[str, Any]],
    *,
    fields: dict[str, str] | None = None,
    holder: str | None = None,
) -> SheetUpload:
    """The refusal laid against the sheet's rows (the sheet is read again: it was readable to get this far)."""
    fields = dict(fields or {})
    by_row: dict[int, list[RowProblem]] = {}
    general: list[str] = []
    for d in details:
        if d.get("parameter"):
            fields.setdefault(str(d["parameter"]), str(d["message"]))
        elif d.get("row") is not None:
            by_row.setdefault(int(d["row"]), []).append(RowProblem(d.get("column"), str(d["message"])))
        else:
            general.append(str(d.get("message", "")))
    fmt = sheets.sheet_format(content_type, raw)
    table = sheets.read_table(raw, fmt, sheet=params.get("sheet"))
    found = plan_import.header_of(table)
    header_row, header = found if found else (0, [])
    rows: list[SheetRow] = []
    for number, cells in table:
        if number <= header_row:  # the header, and any title rows above it
            continue
        texts = tuple(plan_import.cell_text(c) for c in cells)
        if number not in by_row and (not any(texts) or len(rows) >= MAX_SHOWN_ROWS):
            continue
        rows.append(SheetRow(number, texts, tuple(by_row.pop(number, []))))
    for number, problems in sorted(by_row.items()):  # a problem on the header row, or beyond what was read
        general += [f"第{number}行: {p.message}" for p in problems]
    width = max([len(header), *(len(r.cells) for r in rows)], default=0)
    head = tuple(plan_import.cell_text(c) for c in header) + ("",) * (width - len(header))
    padded = tuple(SheetRow(r.number, r.cells + ("",) * (width - len(r.cells)), r.problems) for r in rows)
    return SheetUpload(
        header=head, header_row=header_row, rows=padded, problems=tuple(general), fields=fields, holder=holder
    )
