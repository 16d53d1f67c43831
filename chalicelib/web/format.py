"""How the page shows numbers and draws its charts: pure functions over the read model (domain/metrics/view.py).

Cells are shown by their column's kind: count → 1,234; rate → 12.3%; money (fen) → ¥12.34; seconds → 1分05秒 or
2小时3分; number → 2.35; a value that cannot be computed (None) → "—". The charts are geometry only (coordinates in
a viewBox); the templates draw them as inline SVG, so the page loads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.metrics.view import COUNT, MONEY, NUMBER, RATE, SECONDS, TEXT, Cell, FunnelStage, Series

NONE = "—"


def cell(value: Cell, kind: str) -> str:
    """One value as the page shows it."""
    if value is None:
        return NONE
    if kind == TEXT or isinstance(value, str):
        return str(value)
    if kind == COUNT:
        return f"{round(value):,}"
    if kind == RATE:
        return f"{value * 100:.1f}%"
    if kind == MONEY:
        sign = "-" if value < 0 else ""
        return f"{sign}¥{abs(value) / 100:,.2f}"
    if kind == SECONDS:
        return duration(value)
    if kind == NUMBER and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def duration(seconds: float) -> str:
    """45秒, 1分05秒, 2小时3分 (the field's way of saying a latency)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes}分"
    if minutes:
        return f"{minutes}分{secs:02d}秒"
    return f"{secs}秒"


def is_numeric(kind: str) -> bool:
    return kind != TEXT


def conversion(value: int, previous: int) -> float | None:
    """A stage's share of the stage before it; None over zero."""
    return value / previous if previous else None


# --- the funnel ---------------------------------------------------------------------------------------------------

FUNNEL_WIDTH = 360  # the viewBox: the SVG scales to the page's width (width 100%)
LABEL_WIDTH = 92
BAR_MAX = FUNNEL_WIDTH - LABEL_WIDTH - 60  # room after the longest bar for its value
ROW = 46  # a stage's bar and the conversion line under it


@dataclass(frozen=True)
class FunnelBar:
    key: str
    label: str
    value: str  # formatted
    y: int  # the bar's top
    width: float  # the bar's length (at least a sliver, so a zero still shows where it is)
    value_x: float  # where the value is written: just after the bar
    conversion: str | None  # from the stage before ("→ 25.0%"), None on the first stage


@dataclass(frozen=True)
class Funnel:
    bars: tuple[FunnelBar, ...]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = FUNNEL_WIDTH


def funnel(stages: tuple[FunnelStage, ...]) -> Funnel:
    """Bars proportional to the largest stage, each with its value and its conversion from the stage before."""
    top = max((s.value for s in stages), default=0)
    bars = []
    for i, stage in enumerate(stages):
        width = BAR_MAX * stage.value / top if top else 0.0
        conv = None if i == 0 else cell(conversion(stage.value, stages[i - 1].value), RATE)
        width = round(max(width, 2.0), 1)
        y = 8 + i * ROW
        bars.append(
            FunnelBar(stage.key, stage.label, cell(stage.value, COUNT), y, width, LABEL_WIDTH + width + 4, conv)
        )
    return Funnel(tuple(bars), 8 + len(stages) * ROW)


# --- trends (sparklines) ------------------------------------------------------------------------------------------

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 200, 40, 3


@dataclass(frozen=True)
class Sparkline:
    key: str
    label: str
    segments: tuple[str, ...]  # polyline point lists ("x,y x,y …"), broken where a value is missing
    dots: tuple[tuple[float, float], ...]  # lone points (a segment of one)
    first: str  # "2026-12-01 12.3%"
    last: str
    empty: bool
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def sparkline(series: Series) -> Sparkline:
    """A small line chart of a series, scaled to its own range, with its first and last values as text."""
    points = series.points
    known = [(i, float(p.value)) for i, p in enumerate(points) if p.value is not None]
    if not known:
        return Sparkline(series.key, series.label, (), (), NONE, NONE, True)
    low, high = min(v for _, v in known), max(v for _, v in known)
    span = high - low or 1.0
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = SPARK_PAD + i * step if len(points) > 1 else SPARK_WIDTH / 2
        y = SPARK_HEIGHT - SPARK_PAD - (v - low) / span * (SPARK_HEIGHT - 2 * SPARK_PAD)
        return round(x, 1), round(y, 1)

    runs: list[list[tuple[float, float]]] = [[]]
    for i, p in enumerate(points):
        if p.value is None:
            runs.append([])
        else:
            runs[-1].append(xy(i, float(p.value)))
    lines = tuple(" ".join(f"{x},{y}" for x, y in run) for run in runs if len(run) > 1)
    dots = tuple(run[0] for run in runs if len(run) == 1)
    first, last = points[known[0][0]], points[known[-1][0]]
    return Sparkline(
        series.key,
        series.label,
        lines,
        dots,
        f"{first.period} {cell(first.value, series.kind)}",
        f"{last.period} {cell(last.value, series.kind)}",
        False,
    )
