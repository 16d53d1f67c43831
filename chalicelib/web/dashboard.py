"""The dashboard page: a MetricsView rendered to HTML (Jinja2, autoescaped, templates from this package).

Jinja2 is imported, and its Environment built, on the first render only: ``import app`` (a cold start that answers a
health check) never pays for it. The page is self-contained: inline CSS and SVG, no script, no external load, so
its Content-Security-Policy can forbid everything else (api/dashboard.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.domain.dashboard import DIMENSIONS, PERIODS
from chalicelib.domain.metrics.view import MetricsView
from chalicelib.web import format as fmt


@dataclass(frozen=True)
class PageLinks:
    """Where the page points: its own form (which keeps the link's key) and each table's CSV export (for the range
    and dimension shown: tables do not depend on the trends' period)."""

    tenant_id: str
    key: str
    period: str = "day"
    value: str | None = None

    @property
    def base(self) -> str:
        return f"/t/{quote(self.tenant_id, safe='')}"

    @property
    def page(self) -> str:
        return f"{self.base}/dashboard"

    def export(self, view: MetricsView, table_key: str) -> str:
        """The table's CSV export for the same range, opened by the same link (``k``), as the page is."""
        params = {"from": view.date_from, "to": view.date_to, "by": view.by}
        if self.value:
            params["value"] = self.value
        params["k"] = self.key
        return f"{self.base}/dashboard/export/{quote(table_key, safe='')}.csv?{urlencode(params)}"


@cache
def _environment() -> Any:
    import jinja2  # here, not at the top: see the module's docstring

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("chalicelib.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a name the template misspells fails the unit tests, not the page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = fmt.cell
    env.globals.update(DIMENSIONS=DIMENSIONS, PERIODS=PERIODS, is_numeric=fmt.is_numeric, zip=zip)
    return env


def render(view: MetricsView, *, links: PageLinks) -> str:
    """The whole page for ``view``."""
    return str(
        _environment()
        .get_template("dashboard.html")
        .render(
            view=view,
            links=links,
            funnel=fmt.funnel(view.funnel),
            sparklines=[fmt.sparkline(s) for s in view.trends],
            dimension=DIMENSIONS.get(view.by, view.by),
        )
    )


def render_error(status: int, message: str, *, title: str | None = None) -> str:
    """A short page for a refused request: 403 (the link) or 400 (a parameter, with what is wrong)."""
    titles = {400: "查询参数有误", 403: "链接无效或已过期"}
    return str(
        _environment()
        .get_template("error.html")
        .render(status=status, title=title or titles.get(status, "出错了"), message=message)
    )
