"""The demo seed against the real app (no sandbox): the demo tenant's 话术库 and 素材库 are made through the API
once, and the sidebar's read (scripts of a stage) finds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalicelib import bootstrap
from devstack import seed as seeding
from tests.functional.conftest import ADMIN, Api


def _http(api: Api) -> Any:
    def call(method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        resp = api.call(method, path, body, token)
        return resp.status_code, resp.json

    return call


def test_the_demo_seed_makes_its_scripts_through_the_api_once(api: Api, tmp_path: Path) -> None:
    first = seeding.seed("http://127.0.0.1:8000", ADMIN, None, tmp_path, http=_http(api))
    assert first["scripts_created"] == 6 and first["content_created"] == 2
    scripts = bootstrap.services().scripts
    assert [s.title for s in scripts.for_stage("demo", "hot")] == ["价格顾虑", "体验课名额"]  # 异议处理, then 促单
    again = seeding.seed("http://127.0.0.1:8000", ADMIN, None, tmp_path, http=_http(api))
    assert again["scripts_created"] == 0 and len(scripts.list("demo")) == 6
    assert again["content_created"] == 0 and len(bootstrap.services().content.list("demo").items) == 2
