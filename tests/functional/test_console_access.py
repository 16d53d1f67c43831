"""Every console page, driven from the page registry (chalicelib/console/pages.py PAGES): a page is covered the
moment it is declared. Without a session a GET goes to the sign-in page and a POST is refused; another tenant's
session, a role below the page's, and a form without its CSRF token all get the 403 page (HTML, never JSON)."""

from __future__ import annotations

import re

import pytest

import app as _app  # noqa: F401  (registers every page)
from chalicelib.console.pages import PAGES, PageSpec
from chalicelib.domain.tenants import Role
from tests.functional.conftest import TENANT, Api
from tests.functional.console_client import ConsoleClient, signed_in

GUARDED = [p for p in PAGES if p.role is not None]
LOWER = {Role.ADMIN: Role.OPS, Role.OPS: Role.STAFF, Role.STAFF: Role.VIEWER}


def _path(spec: PageSpec, tenant: str = TENANT) -> str:
    return re.sub(r"{(\w+)}", lambda m: tenant if m.group(1) == "tenant_id" else "x0000", spec.path)


def _id(spec: PageSpec) -> str:
    return f"{spec.method} {spec.path}"


def _send(client: ConsoleClient, spec: PageSpec, *, csrf: bool = True) -> object:
    path = _path(spec, client.tenant_id)
    return client.get(path) if spec.method == "GET" else client.post(path, {}, csrf=csrf)


def _html_refusal(resp: object, status: int) -> None:
    assert resp.status_code == status, resp.body  # type: ignore[attr-defined]
    assert resp.headers["Content-Type"].startswith("text/html")  # type: ignore[attr-defined]


def test_every_page_is_tenant_scoped_and_declared() -> None:
    assert GUARDED and all(p.path.startswith("/console/{tenant_id}") for p in PAGES)
    assert {p.method for p in PAGES} <= {"GET", "POST"}


@pytest.mark.parametrize("spec", GUARDED, ids=_id)
def test_page_access(api: Api, spec: PageSpec) -> None:
    api.create_tenant()
    api.create_tenant("beta", corp_id="wwbeta0000000001")
    anonymous = ConsoleClient(api)
    resp = _send(anonymous, spec, csrf=False)
    if spec.method == "GET":
        assert resp.status_code == 303  # type: ignore[attr-defined]
        assert resp.headers["Location"].startswith(f"/console/{TENANT}/signin?next=")  # type: ignore[attr-defined]
    else:
        _html_refusal(resp, 403)

    foreign = signed_in(api, "admin", tenant_id="beta")
    foreign.tenant_id = TENANT  # the beta session's cookie is scoped to /console/beta: acme's pages never see it
    _html_refusal_or_signin = _send(foreign, spec)
    assert _html_refusal_or_signin.status_code in (303, 403)  # type: ignore[attr-defined]

    assert spec.role is not None
    if spec.role in LOWER:
        lower = LOWER[spec.role]
        userid = None
        if lower == Role.STAFF:
            api.call("POST", f"/t/{TENANT}/staff", {"userid": "s1", "name": "S"}, api.token(TENANT, "admin"))
            userid = "s1"
        _html_refusal(_send(signed_in(api, lower.value, userid), spec), 403)

    if spec.method != "GET":
        role = spec.role.value
        userid = None
        if spec.role == Role.STAFF:
            api.call("POST", f"/t/{TENANT}/staff", {"userid": "s2", "name": "S"}, api.token(TENANT, "admin"))
            userid = "s2"
        _html_refusal(_send(signed_in(api, role, userid), spec, csrf=False), 403)


def test_a_session_cookie_sent_to_another_tenants_pages_is_refused(api: Api) -> None:
    api.create_tenant()
    api.create_tenant("beta", corp_id="wwbeta0000000001")
    beta = signed_in(api, "admin", tenant_id="beta")
    stolen = ConsoleClient(api, TENANT)
    stolen.cookies = dict(beta.cookies)  # sent on purpose, as a forged request would
    resp = stolen.get(f"/console/{TENANT}")
    assert resp.status_code == 303 and "/signin" in resp.headers["Location"]


def test_a_method_a_page_does_not_take_is_405_with_allow(api: Api) -> None:
    api.create_tenant()
    resp = api.call("PUT", f"/console/{TENANT}/channels", {})
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, POST"
    assert resp.json["error"]["code"] == "method_not_allowed"
