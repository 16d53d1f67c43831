"""The dashboard through the real app (chalice.test.Client, moto): links made with an ops or admin token, the page
opened by the link alone, HTML refusals (403 for the link, 400 for a parameter), tenant isolation, expiry by the
shared clock. The metrics read is a stand-in returning a known view (tests/fakes/metrics_view.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib import bootstrap
from tests.fakes.metrics_view import StubMetrics
from tests.functional.conftest import TENANT, Api
from tests.html_dom import parse, table_cells

BETA = "beta"


@pytest.fixture
def tokens(api: Api, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two tenants (their admin tokens) and the stand-in metrics read on the app's dashboard service."""
    made = {TENANT: api.create_tenant(), BETA: api.create_tenant(BETA, corp_id="wwbeta0000000001")}
    monkeypatch.setattr(bootstrap.services().dashboard, "metrics", StubMetrics())
    return made


def make_link(api: Api, tenant_id: str, token: str, body: Any = None) -> Any:
    return api.call("POST", f"/t/{tenant_id}/dashboard-links", body, token)


def open_page(api: Api, url: str, **headers: str) -> Any:
    resp = api.client.http.get(url, headers=headers)
    return resp


def is_html(resp: Any, status: int) -> None:
    assert resp.status_code == status, resp.body
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    csp = resp.headers["Content-Security-Policy"]
    for rule in ("default-src 'none'", "style-src 'unsafe-inline'", "img-src data:", "form-action 'self'"):
        assert rule in csp
    assert "script-src" not in csp


def test_an_ops_token_makes_a_link_that_opens_the_page_without_a_token(api: Api, tokens: dict[str, str]) -> None:
    made = make_link(api, TENANT, api.token(TENANT, "ops"), {"ttl_hours": 2})
    assert made.status_code == 201, made.body
    assert set(made.json) == {"url", "expires_at", "link_id"}
    assert made.json["expires_at"] == "2026-12-01T12:00:05+08:00"  # two hours from the shared clock
    assert urlsplit(made.json["url"]).path == f"/t/{TENANT}/dashboard"
    page = open_page(api, made.json["url"])
    is_html(page, 200)
    dom = parse(page.body.decode("utf-8"))
    assert [t.text() for t in dom.all("text", class_="value")] == ["2,000", "400", "300", "60", "15"]
    assert table_cells(dom.one("section", id="table-channels"))[0]["cac"] == "¥50.00"
    assert "2026-11-25 至 2026-12-01" in dom.one("p", id="range").text()  # the last 7 local days
    assert dom.one("p", id="as-of").text() == "数据截至 2026-12-01 10:00"


def test_the_default_link_lasts_a_day_and_the_query_chooses_what_is_shown(api: Api, tokens: dict[str, str]) -> None:
    made = make_link(api, TENANT, tokens[TENANT])
    assert made.status_code == 201 and made.json["expires_at"] == "2026-12-02T10:00:05+08:00"
    page = open_page(api, made.json["url"] + "&from=2026-10-01&to=2026-10-31&by=staff&period=week")
    is_html(page, 200)
    dom = parse(page.body.decode("utf-8"))
    assert "2026-10-01 至 2026-10-31 · 维度：员工" in dom.one("p", id="range").text()
    key = parse_qs(urlsplit(made.json["url"]).query)["k"][0]
    export = dom.one("section", id="table-steps").one("a", class_="export").attrs["href"]
    assert parse_qs(urlsplit(export).query) == {
        "from": ["2026-10-01"],
        "to": ["2026-10-31"],
        "by": ["staff"],
        "k": [key],
    }


@pytest.mark.parametrize(
    "body", [{"ttl_hours": 0}, {"ttl_hours": 169}, {"ttl_hours": "24"}, {"ttl": 1}, b"\t", b" \n", b"[]"]
)
def test_a_link_lasts_1_to_168_hours_and_a_body_must_be_json(api: Api, tokens: dict[str, str], body: Any) -> None:
    resp = make_link(api, TENANT, tokens[TENANT], body)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_request", resp.body


def test_a_viewer_cannot_make_a_link_and_a_token_does_not_open_the_page(api: Api, tokens: dict[str, str]) -> None:
    assert make_link(api, TENANT, api.token(TENANT, "viewer")).status_code == 403
    page = open_page(api, f"/t/{TENANT}/dashboard", Authorization=f"Bearer {tokens[TENANT]}")
    is_html(page, 403)
    dom = parse(page.body.decode("utf-8"))
    assert dom.one("h1").text() == "链接无效或已过期"
    assert dom.one("p", id="error-message").text() == "此看板链接无效，或不属于这个机构。"


def test_one_tenants_link_never_opens_another_tenants_dashboard(api: Api, tokens: dict[str, str]) -> None:
    url = make_link(api, TENANT, tokens[TENANT]).json["url"]
    key = parse_qs(urlsplit(url).query)["k"][0]
    for forged in (
        f"/t/{BETA}/dashboard?k={key}",
        f"/t/nobody/dashboard?k={key}",
        f"/t/{TENANT}/dashboard?k={key[:-1]}",
        f"/t/{TENANT}/dashboard?k=",
    ):
        resp = open_page(api, forged)
        is_html(resp, 403)
        assert "示例教育" not in resp.body.decode("utf-8")  # nothing of the tenant's shows
    is_html(open_page(api, url), 200)


def test_a_link_stops_opening_when_the_clock_passes_its_expiry(api: Api, tokens: dict[str, str]) -> None:
    url = make_link(api, TENANT, tokens[TENANT], {"ttl_hours": 1}).json["url"]
    api.clock.advance(minutes=59)
    is_html(open_page(api, url), 200)
    api.clock.advance(minutes=1)
    expired = open_page(api, url)
    is_html(expired, 403)
    assert parse(expired.body.decode("utf-8")).one("p", id="error-message").text() == "此看板链接已过期。"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=2026-02-30", "开始日期（from）应为 YYYY-MM-DD 格式的日期"),
        ("from=2026-12-01&to=2026-11-01", "开始日期不能晚于结束日期"),
        ("from=2026-01-01&to=2026-12-01", "日期范围最多 92 天"),
        ("by=everything", "维度（by）只能是"),
        ("period=hour", "周期（period）只能是"),
    ],
)
def test_a_bad_parameter_is_a_400_page_saying_what_is_wrong(
    api: Api, tokens: dict[str, str], query: str, says: str
) -> None:
    url = make_link(api, TENANT, tokens[TENANT]).json["url"]
    resp = open_page(api, f"{url}&{query}")
    is_html(resp, 400)
    dom = parse(resp.body.decode("utf-8"))
    assert dom.one("h1").text() == "查询参数有误"
    assert says in dom.one("p", id="error-message").text()


def test_a_bad_parameter_without_a_link_is_still_only_a_403(api: Api, tokens: dict[str, str]) -> None:
    is_html(open_page(api, f"/t/{TENANT}/dashboard?from=garbage"), 403)


def test_a_revoked_link_answers_403_from_the_next_request_on(api: Api, tokens: dict[str, str]) -> None:
    ops = api.token(TENANT, "ops")
    made = make_link(api, TENANT, ops).json
    listed = api.call("GET", f"/t/{TENANT}/dashboard-links", token=ops)
    assert listed.status_code == 200 and [x["link_id"] for x in listed.json["items"]] == [made["link_id"]]
    assert listed.json["items"][0]["expires_at"] == made["expires_at"]
    key = parse_qs(urlsplit(made["url"]).query)["k"][0]
    assert key not in listed.body.decode("utf-8")
    assert api.call("GET", f"/t/{BETA}/dashboard-links", token=tokens[BETA]).json["items"] == []
    gone = api.call("DELETE", f"/t/{BETA}/dashboard-links/{made['link_id']}", token=tokens[BETA])
    assert gone.status_code == 404  # another tenant cannot revoke it
    is_html(open_page(api, made["url"]), 200)
    assert api.call("DELETE", f"/t/{TENANT}/dashboard-links/{made['link_id']}", token=ops).status_code == 204
    is_html(open_page(api, made["url"]), 403)
    assert api.call("DELETE", f"/t/{TENANT}/dashboard-links/{made['link_id']}", token=ops).status_code == 404


def test_the_pages_csv_links_open_with_the_link_alone(api: Api, tokens: dict[str, str]) -> None:
    link = make_link(api, TENANT, tokens[TENANT]).json["url"]
    key = link.split("k=")[1]
    path = f"/t/{TENANT}/dashboard/export/channels.csv?from=2026-11-25&to=2026-12-01&by=channel&k={key}"
    csv = api.call("GET", path)
    assert csv.status_code == 200 and csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.body.startswith("\ufeff".encode()) and "渠道" in csv.body.decode("utf-8-sig").splitlines()[0]
    assert api.call("GET", path.replace(key, "x" * 43)).status_code == 403  # a wrong key
    assert api.call("GET", path.replace(f"/t/{TENANT}/", f"/t/{BETA}/")).status_code == 403  # another tenant
    assert api.call("GET", path.replace("channels.csv", "nothing.csv")).status_code == 404
    assert api.call("GET", path.replace("from=2026-11-25", "from=never")).status_code == 400
