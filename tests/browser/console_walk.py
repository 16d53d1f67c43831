"""Walking the console in the browser as a person would: from the navigation the page shows, then the links on each
page, one page per kind (per registered route: one channel's edit page stands for all of them). Each page visited is
photographed (1280 and 360 px), must answer 200 with nothing going wrong while it loads (a script error, a script or
style the CSP refused, a missing static file), pass the accessibility pass and fit a 360 px phone.

A link to a console page that is not registered yet (no GET route in chalicelib.console.pages.PAGES: its area has
not landed) is named in the output and left out, so the walk does not wait for every area; once all have, every
page is walked.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chalicelib.console import blueprints
from chalicelib.console.pages import PAGES
from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, check_a11y, page_width, shoot

PHONE = 360
MAX_PAGES = 40  # one per kind of page: far more than the console has
NAV = (
    "function() { return Array.from(document.querySelectorAll('nav a[href]'), a => [a.innerText.trim(), a.pathname]); }"
)
LINKS = """function(prefix) {
  return Array.from(document.querySelectorAll('main a[href]:not([download])'))
    .filter(a => a.origin === location.origin && a.pathname.startsWith(prefix)).map(a => a.pathname);
}"""
NOT_WALKED = ("/signin", "/signout", "/oauth")  # signing in and out are walked by their own tests


def _routes() -> list[tuple[str, re.Pattern[str]]]:
    blueprints()  # imports every area's module, so PAGES holds every page the app serves
    return [
        (p.path, re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(p.path)) + "/?$"))
        for p in PAGES
        if p.method == "GET" and p.role is not None
    ]


ROUTES = _routes()


def route_of(path: str) -> str | None:
    """The registered page route (its template, ``/console/{tenant_id}/channels/{channel_id}``) ``path`` is."""
    return next((template for template, pattern in ROUTES if pattern.match(path)), None)


def built(path: str) -> bool:
    return route_of(path) is not None


def nav(browser: Browser) -> list[tuple[str, str]]:
    """The navigation as the page shows it: (label, path)."""
    return [(label, path) for label, path in browser.js(NAV)]


def visit(browser: Browser, live: LiveConsole, path: str, name: str) -> list[str]:
    """Open ``path``, photograph it, and say everything wrong with it (nothing: an empty list)."""
    browser.navigate(f"{live.base_url}{path}")
    problems = [] if browser.status == 200 else [f"HTTP {browser.status}"]
    problems += browser.errors  # a script error, a script or style the CSP refused, a missing static file
    if browser.evaluate("document.contentType") != "text/html":
        return problems  # a download (the poster's PNG): its status is all there is to check
    shoot(browser, name)
    problems += [str(f) for f in check_a11y(browser)]
    wide = page_width(browser, PHONE)
    if wide > PHONE:
        problems.append(f"{wide} px wide on a {PHONE} px phone: it scrolls sideways (wide tables belong in .scroll)")
    return problems


def shot_name(role: str, template: str) -> str:
    """``ops-channels-channel_id-edit`` for /console/{tenant_id}/channels/{channel_id}/edit: the same every run."""
    rest = template.removeprefix("/console/{tenant_id}").strip("/").replace("{", "").replace("}", "")
    return f"{role}-" + (re.sub(r"[^A-Za-z0-9_]+", "-", rest) or "home")


@dataclass
class Walk:
    role: str
    visited: dict[str, list[str]] = field(default_factory=dict)  # path: its problems
    via: dict[str, str] = field(default_factory=dict)  # path: the page whose link led to it
    pending: list[str] = field(default_factory=list)  # links to pages not built yet

    @property
    def problems(self) -> dict[str, list[str]]:
        return {path: found for path, found in self.visited.items() if found}

    def report(self) -> str:
        """The problems, one a line under their page, for an assertion's message."""
        return "\n".join(
            f"{path}"
            + (f" (linked from {self.via[path]})" if path in self.via else "")
            + ":\n"
            + "\n".join(f"  - {p}" for p in found)
            for path, found in self.problems.items()
        )


def walk(browser: Browser, live: LiveConsole, role: str, start: list[str]) -> Walk:
    """From ``start`` (the nav's paths, and any others), every page the pages link to, one per route."""
    prefix = f"/console/{live.tenant_id}/"
    queue = list(dict.fromkeys(urlsplit(p).path for p in start))
    seen: set[str] = set()
    done = Walk(role)
    while queue and len(done.visited) < MAX_PAGES:
        path = queue.pop(0)
        template = route_of(path)
        if template is None:
            if path not in done.pending:
                done.pending.append(path)
            continue
        if template in seen or any(path.rstrip("/").endswith(n) for n in NOT_WALKED):
            continue
        seen.add(template)
        done.visited[path] = visit(browser, live, path, shot_name(role, template))
        if browser.evaluate("document.contentType") == "text/html":
            for link in browser.js(LINKS, prefix):
                if link not in queue and link not in done.visited:
                    queue.append(link)
                    done.via.setdefault(link, path)
    if done.pending:
        print(f"\nconsole walk ({role}): not built yet, left out: {done.pending}", file=sys.stderr)
    if done.problems:
        print(f"\nconsole walk ({role}): the app's log is {live.data_dir / 'logs' / 'app.log'}", file=sys.stderr)
    return done
