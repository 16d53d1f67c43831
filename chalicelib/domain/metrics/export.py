"""A metrics table as a CSV file people open in Excel (issue 11 §3): UTF-8 with a byte-order mark (Excel reads
Chinese headings right only with it), the Chinese headings with their units, money in yuan, rates as fractions,
durations in seconds, and an empty cell where a figure cannot be computed. Pure."""

from __future__ import annotations

import csv
import io

from chalicelib.domain.metrics.view import MONEY, RATE, SECONDS, Cell, Column, Table

BOM = "\ufeff"
UNIT = {MONEY: "（元）", SECONDS: "（秒）", RATE: "（比例）"}


def cell(column: Column, value: Cell) -> str:
    if value is None:
        return ""
    if column.kind == MONEY and isinstance(value, int | float):
        return f"{value / 100:.2f}"
    if column.kind == SECONDS and isinstance(value, int | float):
        return "" if value < 0 else str(int(value))
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label + UNIT.get(c.kind, "") for c in table.columns])
    for row in table.rows:
        writer.writerow([cell(c, v) for c, v in zip(table.columns, row, strict=True)])
    return (BOM + out.getvalue()).encode("utf-8")
