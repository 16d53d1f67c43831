"""Every route, driven from the route registry: a new route is covered the moment it is declared.

Tenant routes: no token → 401, another tenant's token → 403, a role below the route's → 403, the right role passes
authorization (whatever the dummy ids then yield). Admin routes take only SIYU_ADMIN_TOKEN.
"""

from __future__ import annotations

import re

import pytest

import app as _app  # noqa: F401  (registers every blueprint's routes)
from chalicelib.api.common import ROUTES, RouteSpec
from chalicelib.domain.tenants import Role
from tests.functional.conftest import TENANT, Api

TENANT_ROUTES = [r for r in ROUTES if r.auth == "tenant"]
ADMIN_ROUTES = [r for r in ROUTES if r.auth == "admin"]
LOWER = {Role.ADMIN: Role.OPS, Role.OPS: Role.STAFF, Role.STAFF: Role.VIEWER}


def _path(spec: RouteSpec, tenant: str = TENANT) -> str:
    return re.sub(r"{(\w+)}", lambda m: tenant if m.group(1) == "tenant_id" else "x0000", spec.path)


def _id(spec: RouteSpec) -> str:
    return f"{spec.method} {spec.path}"


def test_every_tenant_route_is_tenant_scoped() -> None:
    assert TENANT_ROUTES and all(r.path.startswith("/t/{tenant_id}/") for r in TENANT_ROUTES)
    assert all(r.role is not None for r in TENANT_ROUTES)
    assert {r.auth for r in ROUTES} <= {"admin", "tenant", "wecom", "public"}


@pytest.mark.parametrize("spec", TENANT_ROUTES, ids=_id)
def test_tenant_route_authorization(api: Api, spec: RouteSpec) -> None:
    api.create_tenant()
    other_admin = api.create_tenant("beta", corp_id="wwbeta0000000001")
    path = _path(spec)
    assert api.call(spec.method, path, {}).status_code == 401
    assert api.call(spec.method, path, {}, "sy_acme_forged-token").status_code == 401
    foreign = api.call(spec.method, path, {}, other_admin)
    assert foreign.status_code == 403 and foreign.json["error"]["code"] == "forbidden"
    assert spec.role is not None
    if spec.role in LOWER:
        staff_userid = None
        if LOWER[spec.role] == Role.STAFF:
            api.call("POST", f"/t/{TENANT}/staff", {"userid": "s1", "name": "S"}, api.token(TENANT, "admin"))
            staff_userid = "s1"
        weaker = api.token(TENANT, LOWER[spec.role].value, staff_userid)
        assert api.call(spec.method, path, {}, weaker).status_code == 403
    allowed = api.call(spec.method, path, {}, api.token(TENANT, spec.role.value if spec.role != Role.STAFF else "ops"))
    assert allowed.status_code not in (401, 403), allowed.body
    assert allowed.status_code < 500, allowed.body


@pytest.mark.parametrize("spec", ADMIN_ROUTES, ids=_id)
def test_admin_route_authorization(api: Api, spec: RouteSpec) -> None:
    tenant_admin = api.create_tenant()
    path = _path(spec)
    assert api.call(spec.method, path, {}).status_code == 401
    assert api.call(spec.method, path, {}, tenant_admin).status_code == 401
    assert api.call(spec.method, path, {}, "admin-wrong").status_code == 401
