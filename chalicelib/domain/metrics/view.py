"""What a metrics read shows, whatever shows it: the dashboard page, the JSON API and the CSV exports render the
same ``MetricsView``, so the three never disagree. Pure data: numbers are computed before they get here
(domain/metrics/formulas.py); a rate is a fraction (0.25, shown 25.0%), money is in fen (分, shown ¥12.34), a
duration in seconds. ``None`` is a value that cannot be computed (a rate over zero), shown as "—"."""

from __future__ import annotations

from dataclasses import dataclass

TEXT, COUNT, RATE, MONEY, SECONDS, NUMBER = "text", "count", "rate", "money", "seconds", "number"
KINDS = frozenset({TEXT, COUNT, RATE, MONEY, SECONDS, NUMBER})
Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    key: str  # the JSON and CSV field name (ascii)
    label: str  # the heading people read (Chinese, domain.md's terms)
    kind: str = COUNT  # how a cell is shown: one of KINDS


@dataclass(frozen=True)
class Table:
    key: str  # "channels", "steps", "groups", "staff", "cohorts", "crosscheck", ...: the CSV export's name
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""  # one line under the table (a definition, a window), or ""

    def as_dicts(self) -> list[dict[str, Cell]]:
        return [{c.key: v for c, v in zip(self.columns, row, strict=True)} for row in self.rows]


@dataclass(frozen=True)
class FunnelStage:
    key: str  # "exposures", "adds", "enrolled", "trial", "full", ...
    label: str
    value: int


@dataclass(frozen=True)
class Point:
    period: str  # a local day "2026-12-01", an ISO week "2026-W49" or a month "2026-12"
    value: float | None


@dataclass(frozen=True)
class Series:
    key: str  # the metric's name in docs/metrics.md
    label: str
    kind: str  # one of KINDS
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Headline:
    """A figure shown large at the top (CAC, ROI, conversion, GMV)."""

    key: str
    label: str
    kind: str
    value: Cell


@dataclass(frozen=True)
class MetricsView:
    tenant_name: str
    date_from: str  # local days, inclusive
    date_to: str
    by: str  # the funnel's dimension: channel | campaign | source | plan | group | staff
    dimension_value: str | None  # the one value the funnel is drawn for (None: the whole tenant)
    funnel: tuple[FunnelStage, ...]
    headlines: tuple[Headline, ...]
    tables: tuple[Table, ...]
    trends: tuple[Series, ...]
    as_of: str  # when the counters were last brought up to date (tenant-local "YYYY-MM-DD HH:MM")

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)
