"""ConsoleAuth with in-memory fakes: sessions, one-use links and OAuth states, and where a sign-in may lead; plus
the console's form parsing (urlencoded and multipart) and the sandbox's OAuth codes (5 minutes, one use)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.console.forms import parse_form
from chalicelib.domain.console import safe_next
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Role, Tenant, TokenRecord
from chalicelib.errors import ForbiddenError, InvalidError, UnauthorizedError
from chalicelib.ports import WeComCredentials
from chalicelib.services.console_auth import ConsoleAuth, SignInRefusedError
from devstack.wecom_world import WeComWorld
from devstack.wecom_world.api import ApiError
from devstack.wecom_world.oauth import issue_code
from tests.fakes import FixedClock, SeqIds
from tests.fakes.store import FakeStore

TENANT = Tenant("acme", "示例教育", "wwacme", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "", agent_id=1000002)


class Tenants:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id: str) -> Tenant:
        if tenant_id != self.tenant.tenant_id:
            raise ForbiddenError("no such tenant")
        return self.tenant

    def authenticate(self, tenant_id: str, bearer: str | None, needed: Role) -> TokenRecord:
        if bearer != "sy_acme_good":
            raise UnauthorizedError("unknown token")
        return TokenRecord(tenant_id, "h", "tk_1", Role.OPS, None, "")


class OAuth:
    def __init__(self) -> None:
        self.codes = {"code-zhang": "zhang", "code-wang": "wang"}

    def user_id_from_code(self, creds: WeComCredentials, code: str) -> str:
        return self.codes.pop(code)


@pytest.fixture
def parts() -> tuple[ConsoleAuth, FakeStore, FixedClock]:
    store, clock = FakeStore(), FixedClock()
    store.put_staff("acme", Staff("zhang", "张老师"))
    auth = ConsoleAuth(
        store, Tenants(TENANT), OAuth(), clock, SeqIds(), console_url="https://c.example/", oauth_url="https://w/a"
    )
    return auth, store, clock


def test_a_token_session_lives_twelve_hours_in_its_tenant_only(parts: Any) -> None:
    auth, _, clock = parts
    sid, session = auth.sign_in_with_token("acme", "sy_acme_good")
    assert session.role == "ops" and session.userid is None and session.via == "token"
    assert auth.session("acme", sid) == session
    assert auth.session("beta", sid) is None and auth.session("acme", "nope") is None
    with pytest.raises(UnauthorizedError):
        auth.sign_in_with_token("acme", "sy_acme_bad")
    clock.advance(hours=12)
    assert auth.session("acme", sid) is None


def test_sign_out_ends_the_session(parts: Any) -> None:
    auth, _, _ = parts
    sid, _ = auth.sign_in_with_token("acme", "sy_acme_good")
    auth.sign_out("acme", sid)
    assert auth.session("acme", sid) is None


def test_a_link_signs_in_once_within_fifteen_minutes(parts: Any) -> None:
    auth, _, clock = parts
    link = auth.create_link("acme", role="staff", userid="zhang")
    assert link["url"] == "https://c.example" + link["path"]
    secret = parse_qs(urlsplit(link["path"]).query)["k"][0]
    _, session = auth.redeem_link("acme", secret)
    assert session.role == "staff" and session.staff_scope == "zhang"
    with pytest.raises(SignInRefusedError):
        auth.redeem_link("acme", secret)
    late = parse_qs(urlsplit(auth.create_link("acme", role="ops")["path"]).query)["k"][0]
    clock.advance(minutes=15)
    with pytest.raises(SignInRefusedError):
        auth.redeem_link("acme", late)
    with pytest.raises(InvalidError):
        auth.create_link("acme", role="staff", userid="nobody")
    with pytest.raises(InvalidError):
        auth.create_link("acme", role="ops", userid="zhang")


def test_oauth_round_trip_for_staff_only(parts: Any) -> None:
    auth, _, _ = parts
    url = auth.oauth_start("acme", "/console/acme/my")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://w/a?") and url.endswith("#wechat_redirect")
    assert query["redirect_uri"] == ["https://c.example/console/acme/oauth/callback"]
    state = query["state"][0].split("#")[0]
    _, session, nxt = auth.oauth_finish("acme", "code-zhang", state)
    assert session.userid == "zhang" and session.role == "staff" and nxt == "/console/acme/my"
    with pytest.raises(SignInRefusedError):
        auth.oauth_finish("acme", "code-zhang", state)  # the state is spent
    other = parse_qs(urlsplit(auth.oauth_start("acme", None)).query)["state"][0].split("#")[0]
    with pytest.raises(SignInRefusedError):
        auth.oauth_finish("acme", "code-wang", other)  # a corp member who is not the tenant's staff


def test_oauth_needs_the_tenants_app(parts: Any) -> None:
    auth, _, _ = parts
    auth.tenants.tenant = replace(TENANT, agent_id=0)
    with pytest.raises(SignInRefusedError):
        auth.oauth_start("acme", None)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/acme/plans?x=1", "/console/acme/plans?x=1"),
        ("/console/beta/plans", "/console/acme/"),
        ("https://evil.example/console/acme", "/console/acme/"),
        ("//evil.example/console/acme", "/console/acme/"),
        ("/console/acme//evil.example", "/console/acme/"),
        (None, "/console/acme/"),
    ],
)
def test_a_sign_in_leads_only_into_its_tenants_console(target: str | None, expected: str) -> None:
    assert safe_next("acme", target) == expected


def test_forms_urlencoded_and_multipart() -> None:
    form = parse_form("application/x-www-form-urlencoded", b"a=1&tag=x&tag=y&name=%E5%BC%A0")
    assert form.fields == [("a", "1"), ("tag", "x"), ("tag", "y"), ("name", "张")]
    body = (
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\n\xe6\xb5\x8b\r\n'
        b'--b\r\nContent-Disposition: form-data; name="sheet"; filename="p.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nday,time\r\n1,09:00\r\n--b--\r\n"
    )
    multi = parse_form("multipart/form-data; boundary=b", body)
    assert multi.fields == [("title", "测")]
    assert multi.files["sheet"].filename == "p.csv" and multi.files["sheet"].data == b"day,time\r\n1,09:00"
    with pytest.raises(InvalidError):
        parse_form("application/json", b"{}")


def test_sandbox_oauth_codes_live_five_minutes_and_one_use() -> None:
    now = [1_764_640_805.0]
    world = WeComWorld(clock=lambda: now[0])
    world.corp("wwacme").members["zhang"] = "张老师"
    code = issue_code(world, "wwacme", "zhang")
    handler = world._apis.handlers["auth/getuserinfo"]
    assert handler(world, world.corp("wwacme"), {"code": code})["userid"] == "zhang"
    with pytest.raises(ApiError) as used:
        handler(world, world.corp("wwacme"), {"code": code})
    assert used.value.errcode == 40029
    late = issue_code(world, "wwacme", "zhang")
    now[0] += 301
    with pytest.raises(ApiError) as expired:
        handler(world, world.corp("wwacme"), {"code": late})
    assert expired.value.errcode == 40029
