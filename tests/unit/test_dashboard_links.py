"""Dashboard links and the page's query, on the in-memory store and a fixed clock: a link opens its own tenant's
page until it expires, only its hash is kept, and each bad parameter is named."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.dashboard import DashboardQuery, link_expiry, parse_query
from chalicelib.domain.tenants import Tenant, hash_token
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.dashboard import DashboardService, LinkRefusedError, MetricsUnavailableError
from tests.fakes import FixedClock, SeqIds
from tests.fakes.metrics_view import StubMetrics
from tests.fakes.store import FakeStore

TODAY = date(2026, 12, 1)


class Tenants:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, tenant_id: str) -> Tenant | None:
        return self.store.get_tenant(tenant_id)


def tenant(tid: str) -> Tenant:
    return Tenant(
        tid, "示例教育", f"ww{tid}", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "2026-12-01T08:00:00+08:00"
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC))  # 10:00:05 in Shanghai


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    s.create_tenant(tenant("acme"))
    s.create_tenant(tenant("beta"))
    return s


@pytest.fixture
def service(store: FakeStore, clock: FixedClock) -> DashboardService:
    return DashboardService(store, Tenants(store), clock, SeqIds(), StubMetrics())


def key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["k"][0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, DashboardQuery("2026-11-25", "2026-12-01")),
        ({"from": "2026-11-01"}, DashboardQuery("2026-11-01", "2026-11-07")),
        ({"to": "2026-11-10"}, DashboardQuery("2026-11-04", "2026-11-10")),
        ({"from": "2026-09-01", "to": "2026-12-01"}, DashboardQuery("2026-09-01", "2026-12-01")),  # 92 days
        (
            {"by": "staff", "period": "month", "value": "zhang"},
            DashboardQuery("2026-11-25", "2026-12-01", "staff", "month", "zhang"),
        ),
        ({"by": "", "period": "", "isappinstalled": "0"}, DashboardQuery("2026-11-25", "2026-12-01")),
    ],
)
def test_the_query_has_defaults_and_bounds(params: dict[str, str], expected: DashboardQuery) -> None:
    assert parse_query(params, TODAY) == expected


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "2026-13-01"}, "开始日期（from）应为 YYYY-MM-DD"),
        ({"to": "tomorrow"}, "结束日期（to）应为 YYYY-MM-DD"),
        ({"from": "2026-12-1"}, "开始日期（from）应为 YYYY-MM-DD"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "开始日期不能晚于结束日期"),
        ({"from": "2026-08-31", "to": "2026-12-01"}, "最多 92 天"),
        ({"by": "region"}, "维度（by）只能是：channel（渠道）"),
        ({"period": "year"}, "周期（period）只能是：day（按日）"),
        ({"value": "x" * 129}, "维度值（value）最长 128"),
    ],
)
def test_each_bad_parameter_is_named(params: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidError) as caught:
        parse_query(params, TODAY)
    assert says in caught.value.message


def test_a_link_lasts_1_to_168_hours() -> None:
    assert link_expiry(1000.5, 1) == 1000 + 3600
    assert link_expiry(0, 168) == 168 * 3600
    for hours in (0, 169, -1):
        with pytest.raises(InvalidError):
            link_expiry(0, hours)


def test_a_link_is_stored_as_its_hash_and_opens_its_tenants_page(
    service: DashboardService, store: FakeStore, clock: FixedClock
) -> None:
    made = service.create_link("acme", ttl_hours=2, created_by="tk_1")
    url = urlsplit(made["url"])
    assert url.path == "/t/acme/dashboard"
    key = key_of(made["url"])
    assert made["expires_at"] == "2026-12-01T12:00:05+08:00"
    stored = store.get_dashboard_link("acme", hash_token(key))
    assert stored is not None and stored.created_by == "tk_1" and stored.link_id == made["link_id"]
    assert key not in repr(store._dashboard_links())  # only the hash is kept
    page = service.open("acme", {"k": key, "by": "group", "period": "week"})
    assert (page.view.date_from, page.view.date_to, page.view.by) == ("2026-11-25", "2026-12-01", "group")
    assert page.query.period == "week" and page.key == key


def test_a_link_opens_until_its_expiry_by_the_clock(service: DashboardService, clock: FixedClock) -> None:
    key = key_of(service.create_link("acme", ttl_hours=1)["url"])
    clock.advance(minutes=59, seconds=59)
    assert service.open("acme", {"k": key}).view.tenant_name == "示例教育"
    clock.advance(seconds=1)
    with pytest.raises(LinkRefusedError) as caught:
        service.open("acme", {"k": key})
    assert caught.value.expired and caught.value.status == 403


def test_a_link_opens_no_other_tenants_page(service: DashboardService) -> None:
    key = key_of(service.create_link("acme")["url"])
    for tenant_id, params in (
        ("beta", {"k": key}),  # another tenant's page
        ("nobody", {"k": key}),  # a tenant that does not exist: the same refusal
        ("acme", {"k": key + "x"}),
        ("acme", {"k": ""}),
        ("acme", {}),
        ("acme", {"k": "x" * 500}),
    ):
        with pytest.raises(LinkRefusedError) as caught:
            service.open(tenant_id, params)
        assert not caught.value.expired


def test_the_link_is_checked_before_the_query(service: DashboardService) -> None:
    with pytest.raises(LinkRefusedError):
        service.open("acme", {"k": "forged", "from": "garbage"})
    key = key_of(service.create_link("acme")["url"])
    with pytest.raises(InvalidError):
        service.open("acme", {"k": key, "from": "garbage"})


def test_links_need_their_tenant_and_the_page_needs_a_metrics_read(store: FakeStore, clock: FixedClock) -> None:
    bare = DashboardService(store, Tenants(store), clock, SeqIds())
    with pytest.raises(NotFoundError):
        bare.create_link("nobody")
    key = key_of(bare.create_link("acme")["url"])
    with pytest.raises(MetricsUnavailableError):
        bare.open("acme", {"k": key})


def test_two_links_are_two_keys(service: DashboardService) -> None:
    first, second = service.create_link("acme"), service.create_link("acme")
    assert key_of(first["url"]) != key_of(second["url"]) and first["link_id"] != second["link_id"]


def test_a_live_link_authorizes_its_tenant_only(service: DashboardService, clock: FixedClock) -> None:
    """What the CSV exports the page links to check: the link in place of a token."""
    key = key_of(service.create_link("acme", ttl_hours=1)["url"])
    assert service.authorize("acme", key).tenant_id == "acme"
    with pytest.raises(LinkRefusedError):
        service.authorize("beta", key)
    clock.advance(hours=1)
    with pytest.raises(LinkRefusedError):
        service.authorize("acme", key)


def test_live_links_are_listed_without_their_keys_and_a_revoked_one_stops_at_once(
    service: DashboardService, clock: FixedClock
) -> None:
    short = service.create_link("acme", ttl_hours=1, created_by="tk_ops")
    clock.advance(minutes=1)
    long = service.create_link("acme", ttl_hours=48)
    service.create_link("beta")
    listed = service.list_links("acme")
    assert [x["link_id"] for x in listed] == [short["link_id"], long["link_id"]]  # oldest first, own tenant only
    assert listed[0] == {
        "link_id": short["link_id"],
        "created_at": "2026-12-01T10:00:05+08:00",
        "expires_at": "2026-12-01T11:00:05+08:00",
        "created_by": "tk_ops",
    }
    assert key_of(short["url"]) not in repr(listed) and "hash" not in repr(listed)
    clock.advance(hours=1)
    assert [x["link_id"] for x in service.list_links("acme")] == [long["link_id"]]  # the expired one is not live
    with pytest.raises(NotFoundError):
        service.revoke_link("acme", short["link_id"])  # expired already
    with pytest.raises(NotFoundError):
        service.revoke_link("beta", long["link_id"])  # another tenant's
    service.revoke_link("acme", long["link_id"])
    with pytest.raises(LinkRefusedError):
        service.open("acme", {"k": key_of(long["url"])})
    assert service.list_links("acme") == []


def test_a_link_shared_in_wechat_keeps_opening_though_wechat_appends_its_own_from() -> None:
    for marker in ("singlemessage", "groupmessage", "timeline"):
        shared = parse_query({"k": "key", "from": marker, "isappinstalled": "0"}, TODAY)
        assert shared == parse_query({"k": "key"}, TODAY)  # the default range, as if it were not there
    with pytest.raises(InvalidError):
        parse_query({"from": "yesterday"}, TODAY)  # anything else that is no date is still refused by name
