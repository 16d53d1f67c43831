"""Headless Chromium (Debian's ``chromium``) for the page tests. ``make test`` installs it (devstack/system-deps.sh
chromium); when it is missing the fixture tries that script once, and only if Chromium still cannot be had does
the test skip, with the reason; under CI=true it fails instead, as the integration suite does without Java."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.cdp import Browser
from tests.browser.console_live import LiveConsole, live_console  # noqa: F401  (the fixture, for every browser test)

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("chromium", "chromium-browser")


def _find() -> str | None:
    return next((p for p in (shutil.which(n) for n in NAMES) if p), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find()
    if found is None:
        run = subprocess.run(
            ["bash", str(ROOT / "devstack" / "system-deps.sh"), "chromium"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        found = _find()
        if found is None:
            reason = f"chromium is not installed and could not be: {(run.stderr or run.stdout).strip()[-400:]}"
            print(f"\nbrowser tests: {reason}", file=sys.stderr)
            if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
                pytest.fail(f"CI=true and {reason}", pytrace=False)
            pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium (one page) for the session's page tests, laid out as a 1280 px desktop."""
    opened = Browser(chromium, tmp_path_factory.mktemp("chromium"))
    try:
        opened.viewport(1280, 800, mobile=False)
        yield opened
    finally:
        opened.close()


@pytest.fixture
def console(browser: Browser, live_console: LiveConsole) -> Iterator[Browser]:  # noqa: F811 (the fixture)
    """The session's browser on the live console with nobody signed in (no cookies), left so."""
    browser.clear_cookies()
    yield browser
    browser.clear_cookies()
