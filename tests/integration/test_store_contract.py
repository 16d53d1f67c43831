"""Every repository method, run against DynamoDB Local and against the in-memory fake: one contract for both."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.channels import ChannelRepository
from chalicelib.adapters.dynamodb.customers import CustomerRepository
from chalicelib.adapters.dynamodb.erasure import ErasureRepository
from chalicelib.adapters.dynamodb.staff import StaffRepository, TagRepository
from chalicelib.adapters.dynamodb.tenants import TenantRepository
from chalicelib.adapters.dynamodb.timeline import TimelineRepository
from chalicelib.domain.channels import Assignment, Channel, ChannelTag
from chalicelib.domain.customers import Attribution, Customer, Relation, Stage
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta
from chalicelib.domain.messages import Attachment, Message
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import Tag, TagGroup
from chalicelib.domain.tenants import Role, Tenant, TokenRecord
from chalicelib.errors import ConflictError, InvalidError
from chalicelib.ports import CustomerFilter, IntakeKeys
from tests.integration.contract.registry import covers


def tenant(tid: str = "acme") -> Tenant:
    return Tenant(
        tid, "Acme 教育", "wwacme", "Asia/Shanghai", "tok", "k" * 43, "sec", "salt", "2026-12-01T08:00:00+08:00"
    )


def customer(cid: str, added_at: str, **kw: Any) -> Customer:
    base: dict[str, Any] = dict(
        customer_id=cid,
        external_userid=f"wm{cid}",
        owner_userid="zhang",
        source_channel_id="ch_a",
        stage=Stage.NEW,
        added_at=added_at,
        created_at=added_at,
        updated_at=added_at,
        external_userids=(f"wm{cid}",),
        touches=(Attribution("ch_a", "zhang", added_at, "new"),),
        relations=(Relation("zhang", f"wm{cid}", "active", added_at),),
        applied=("d1",),
        version=1,
    )
    base.update(kw)
    return Customer(**base)


KEYS = IntakeKeys("e1", None, "zhang", "2026-12-01")


def counter(n: int = 1) -> StaffDayDelta:
    return StaffDayDelta("zhang", "2026-12-01", {"adds": n, "n_new": n})


@covers(
    TenantRepository.create_tenant,
    TenantRepository.get_tenant,
    TenantRepository.put_tenant,
    TenantRepository.list_tenants,
    TenantRepository.put_token,
    TenantRepository.get_token,
    TenantRepository.list_tokens,
    TenantRepository.delete_token,
)
def test_tenants_and_tokens(store: Any) -> None:
    store.create_tenant(tenant())
    with pytest.raises(ConflictError):
        store.create_tenant(tenant())
    assert store.get_tenant("acme") == tenant()
    assert store.get_tenant("nobody") is None
    store.put_tenant(replace(tenant(), name="改名"))
    assert store.get_tenant("acme").name == "改名"
    with pytest.raises(ConflictError):
        store.put_tenant(tenant("ghost"))  # updates never create
    store.create_tenant(tenant("beta"))
    first = store.list_tenants(cursor=None, limit=1)
    rest = store.list_tenants(cursor=first.next_cursor, limit=5)
    assert [t.tenant_id for t in first.items + rest.items] == ["acme", "beta"] and rest.next_cursor is None
    rec = TokenRecord("acme", "h" * 64, "tk_1", Role.OPS, None, "2026-12-01T08:00:00+08:00", "ops")
    store.put_token(rec)
    assert store.get_token("acme", "h" * 64) == rec
    assert store.get_token("other", "h" * 64) is None
    assert store.list_tokens("acme") == [rec]
    store.delete_token("acme", "h" * 64)
    assert store.get_token("acme", "h" * 64) is None


@covers(
    StaffRepository.create_staff,
    StaffRepository.put_staff,
    StaffRepository.get_staff,
    StaffRepository.list_staff,
    StaffRepository.delete_staff,
)
def test_staff(store: Any) -> None:
    s = Staff("zhang", "张老师", daily_cap=5)
    store.create_staff("acme", s)
    with pytest.raises(ConflictError):
        store.create_staff("acme", s)
    store.put_staff("acme", replace(s, active=False))
    assert store.get_staff("acme", "zhang") == replace(s, active=False)
    assert store.get_staff("other", "zhang") is None
    assert store.list_staff("acme") == [replace(s, active=False)]
    store.delete_staff("acme", "zhang")
    assert store.list_staff("acme") == []


@covers(TagRepository.taxonomy, TagRepository.put_tag_group, TagRepository.delete_tag_group)
def test_tag_groups(store: Any) -> None:
    g = TagGroup("tg_1", "意向度", True, (Tag("t_1", "高", "w1"), Tag("t_2", "低")))
    store.put_tag_group("acme", g)
    assert store.taxonomy("acme").groups == (g,)
    assert store.taxonomy("other").groups == ()
    store.delete_tag_group("acme", "tg_1")
    assert store.taxonomy("acme").groups == ()


def _channel(cid: str = "ch_abc1") -> Channel:
    return Channel(
        cid,
        "抖音",
        "douyin",
        assignment=Assignment("round_robin", ("zhang", "li"), "wang", {"li": 3}),
        welcome=Message("hi", (Attachment("link", {"title": "t", "url": "https://x"}),)),
        tags=(ChannelTag("t_1", "来源", "抖音", "w1"),),
        config_id="cfg",
        qr_code="qr",
        version=1,
    )


@covers(
    ChannelRepository.create_channel,
    ChannelRepository.get_channel,
    ChannelRepository.put_channel,
    ChannelRepository.delete_channel,
    ChannelRepository.mark_channel_full,
)
def test_channels_versions_and_full_sets(store: Any) -> None:
    ch = _channel()
    store.create_channel("acme", ch)
    with pytest.raises(ConflictError):
        store.create_channel("acme", ch)
    assert store.get_channel("acme", ch.channel_id) == ch
    store.mark_channel_full("acme", ch.channel_id, "zhang", "2026-12-01")
    store.mark_channel_full("acme", ch.channel_id, "li", "2026-12-01")
    got = store.get_channel("acme", ch.channel_id)
    assert got.full_today("2026-12-01") == {"zhang", "li"} and got.full_today("2026-12-02") == frozenset()
    updated = replace(ch, name="抖音2", version=2)
    store.put_channel("acme", updated, expected_version=1)
    with pytest.raises(ConflictError):
        store.put_channel("acme", replace(ch, version=3), expected_version=1)
    got = store.get_channel("acme", ch.channel_id)
    assert got.name == "抖音2" and got.full_today("2026-12-01") == {"zhang", "li"}  # update keeps full sets
    assert store.get_channel("other", ch.channel_id) is None
    store.delete_channel("acme", ch.channel_id)
    assert store.get_channel("acme", ch.channel_id) is None


def test_a_link_channel_round_trips_pending_then_done(store: Any) -> None:
    """A link channel (获客链接) is stored pending (no link_id), then done with its link's id and URL."""
    pending = replace(_channel("ch_link1"), kind="link", config_id="", qr_code="")
    store.create_channel("acme", pending)
    assert store.get_channel("acme", "ch_link1") == pending
    done = replace(pending, link_id="cawcde01", link_url="https://work.weixin.qq.com/ca/cawcde01", version=2)
    store.put_channel("acme", done, expected_version=1)
    got = store.get_channel("acme", "ch_link1")
    assert got == done and got.public()["url"].endswith("?customer_channel=ch_link1")
    listed = store.list_channels("acme", kind="standard", cursor=None, limit=10).items
    assert [c.channel_id for c in listed] == ["ch_link1"]  # in the ad channels' list, beside QR codes


@covers(ChannelRepository.list_channels)
def test_channel_listing_pages_and_kinds(store: Any) -> None:
    for i in range(5):
        store.create_channel("acme", _channel(f"ch_{i:04d}"))
    store.create_channel("acme", _channel("rf_ref1"))
    first = store.list_channels("acme", kind="standard", cursor=None, limit=2)
    seen = [c.channel_id for c in first.items]
    cursor = first.next_cursor
    while cursor:
        page = store.list_channels("acme", kind="standard", cursor=cursor, limit=2)
        seen += [c.channel_id for c in page.items]
        cursor = page.next_cursor
    assert seen == [f"ch_{i:04d}" for i in range(5)]
    assert [c.channel_id for c in store.list_channels("acme", kind="referral", cursor=None, limit=10).items] == [
        "rf_ref1"
    ]
    with pytest.raises(InvalidError):
        store.list_channels("other", kind="standard", cursor=first.next_cursor, limit=2)  # cursor of another tenant


@covers(CustomerRepository.create_customer, CustomerRepository.load_customer)
def test_customer_create_is_conditional_and_counts_once(store: Any) -> None:
    c = customer("c1", "2026-12-01T10:00:00+08:00")
    store.create_customer("acme", c, counter())
    with pytest.raises(ConflictError):
        store.create_customer("acme", c, counter())
    assert store.load_customer("acme", "c1", 1, "d1") == (c, False)
    snap = store.load_intake("acme", KEYS)
    assert snap.counters.get("n_new") == 1 and snap.channel is None and snap.alias is None


@covers(CustomerRepository.create_customer)
def test_concurrent_creates_have_one_winner(store: Any) -> None:
    c = customer("c1", "2026-12-01T10:00:00+08:00")
    outcomes: list[str] = []

    def create() -> None:
        try:
            store.create_customer("acme", c, counter())
            outcomes.append("won")
        except ConflictError:
            outcomes.append("lost")

    threads = [threading.Thread(target=create) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 4 + ["won"]
    assert store.load_intake("acme", KEYS).counters["n_new"] == 1


@covers(CustomerRepository.save_event, CustomerRepository.load_customer, TimelineRepository.timeline)
def test_save_event_guards_fact_and_version(store: Any) -> None:
    c = customer("c1", "2026-12-01T10:00:00+08:00")
    store.create_customer("acme", c, counter())
    fact = Fact("acme", "c1", 1764560000, "f1", "del_follow_user", "2026-12-01T11:00:00+08:00", "zhang")
    lost = replace(c, stage=Stage.LOST, version=2)
    store.save_event(
        "acme", lost, expected_version=1, fact=fact, counter=StaffDayDelta("zhang", "2026-12-01", {"n_lost": 1})
    )
    with pytest.raises(ConflictError):  # same fact again
        store.save_event("acme", replace(lost, version=3), expected_version=2, fact=fact, counter=None)
    with pytest.raises(ConflictError):  # stale version
        store.save_event(
            "acme", replace(lost, version=3), expected_version=1, fact=replace(fact, digest="f2"), counter=None
        )
    got, fact_exists = store.load_customer("acme", "c1", fact.create_time, "f1")
    assert got == lost and fact_exists
    assert store.timeline("acme", "c1", limit=10) == [fact]
    assert store.load_intake("acme", KEYS).counters == {"adds": 1, "n_new": 1, "n_lost": 1}


@covers(CustomerRepository.load_intake)
def test_intake_snapshot_reads_channel_staff_and_alias_together(store: Any) -> None:
    store.create_channel("acme", _channel())
    store.create_staff("acme", Staff("zhang", "张老师"))
    store.put_alias("acme", Alias("ext", "e1", "c9"))
    snap = store.load_intake("acme", IntakeKeys("e1", "ch_abc1", "zhang", "2026-12-01"))
    assert snap.channel == _channel() and snap.staff == Staff("zhang", "张老师")
    assert snap.alias == Alias("ext", "e1", "c9") and snap.counters == {}
    assert store.load_intake("acme", IntakeKeys("e1", None, "zhang", "2026-12-01", include_alias=False)).alias is None


@covers(CustomerRepository.put_alias, CustomerRepository.find_alias)
def test_aliases_claim_and_tombstones(store: Any) -> None:
    store.put_alias("acme", Alias("union", "u1", "c1"))
    store.put_alias("acme", Alias("union", "u1", "c1"))  # idempotent for the same customer
    with pytest.raises(ConflictError):
        store.put_alias("acme", Alias("union", "u1", "c2"))
    assert store.find_alias("acme", "union", "u1") == Alias("union", "u1", "c1")
    assert store.find_alias("other", "union", "u1") is None


@covers(CustomerRepository.list_customers, CustomerRepository.get_customers)
def test_list_customers_filters_and_pages_newest_first(store: Any) -> None:
    for i in range(7):
        c = customer(
            f"c{i}",
            f"2026-12-0{1 + i}T10:00:00+08:00",
            stage=Stage.LOST if i % 2 else Stage.NEW,
            owner_userid="li" if i < 3 else "zhang",
            tags=frozenset({"t_vip"}) if i == 4 else frozenset(),
            source_channel_id="organic" if i == 6 else "ch_a",
        )
        store.create_customer("acme", c, counter())
    store.create_customer("other", customer("cx", "2026-12-03T10:00:00+08:00"), counter())
    ids: list[str] = []
    cursor = None
    while True:
        page = store.list_customers("acme", CustomerFilter(), cursor=cursor, limit=3)
        ids += [c.customer_id for c in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert ids == [f"c{i}" for i in reversed(range(7))]

    def only(**kw: Any) -> list[str]:
        return [c.customer_id for c in store.list_customers("acme", CustomerFilter(**kw), cursor=None, limit=50).items]

    assert set(store.get_customers("acme", [f"c{i}" for i in range(7)] + ["nobody"])) == {f"c{i}" for i in range(7)}
    assert store.get_customers("other", ["c1"]) == {}
    assert only(stage="lost") == ["c5", "c3", "c1"]
    assert only(owner_userid="li") == ["c2", "c1", "c0"]
    assert only(tag="t_vip") == ["c4"]
    assert only(channel_id="organic") == ["c6"]
    # 2026-12-03T10:00+08:00 is 02:00Z; the bounds are UTC keys, from inclusive, to exclusive.
    assert only(added_from="2026-12-03T02:00:00Z", added_to="2026-12-05T02:00:00Z") == ["c3", "c2"]
    with pytest.raises(InvalidError):
        store.list_customers("acme", CustomerFilter(), cursor="not-a-cursor", limit=3)


@covers(ErasureRepository.erase_customer)
def test_erase_deletes_the_partition_and_leaves_bare_tombstones(store: Any) -> None:
    c = customer("c1", "2026-12-01T10:00:00+08:00")
    store.create_customer("acme", c, counter())
    fact = Fact("acme", "c1", 1764560000, "f1", "del_follow_user", "2026-12-01T11:00:00+08:00", "zhang")
    store.save_event("acme", replace(c, version=2), expected_version=1, fact=fact, counter=None)
    store.put_alias("acme", Alias("union", "u1", "c1"))
    deleted = store.erase_customer(
        "acme", "c1", tombstones=[Alias("union", "u1", "", 1764570000), Alias("ext", "e1", "", 1764570000)]
    )
    assert deleted == 2
    assert store.get_customer("acme", "c1") is None and store.timeline("acme", "c1", limit=10) == []
    assert store.find_alias("acme", "union", "u1") == Alias("union", "u1", "", 1764570000)
    assert store.find_alias("acme", "ext", "e1") == Alias("ext", "e1", "", 1764570000)
    snap = store.load_intake("acme", KEYS)
    assert snap.counters == {"adds": 1, "n_new": 1}  # anonymous aggregates stay
    assert snap.alias == Alias("ext", "e1", "", 1764570000)  # the tombstone, as intake reads it


@covers(CustomerRepository.record_ignored)
def test_ignored_events_are_recorded_once(store: Any) -> None:
    fact = Fact("acme", "", 1764560000, "g1", "change_external_chat/create", "2026-12-01T11:00:00+08:00")
    assert store.record_ignored("acme", fact, date="2026-12-01", reason="unhandled_event") is True
    assert store.record_ignored("acme", fact, date="2026-12-01", reason="unhandled_event") is False


@covers(CustomerRepository.get_customers)
def test_get_customers_reads_more_than_one_batch(store: Any) -> None:
    ids = [f"c{i:03d}" for i in range(130)]  # BatchGetItem takes at most 100 keys a call
    for cid in ids:
        store.create_customer("acme", customer(cid, "2026-12-01T10:00:00+08:00"), counter())
    assert sorted(store.get_customers("acme", ids)) == ids


def test_get_enrollments_reads_many_and_only_that_plan(store: Any) -> None:
    from chalicelib.domain.sop import Enrollment, Subject

    ids = [f"c{i:03d}" for i in range(130)]
    for cid in ids[:120]:
        e = Enrollment(Subject.customer(cid), "pl_a", 1, f"en_{cid}", "2026-12-01T10:00:00+08:00")
        assert store.put_enrollment("acme", e, reentry="never")
    store.put_enrollment(
        "acme", Enrollment(Subject.customer("c999"), "pl_b", 1, "en_x", "2026-12-01T10:00:00+08:00"), reentry="never"
    )
    found = store.get_enrollments("acme", [*ids, "c999"], "pl_a")
    assert sorted(found) == ids[:120] and found["c007"].enrollment_id == "en_c007"
    assert store.get_enrollments("other", ids, "pl_a") == {}  # tenants never meet
