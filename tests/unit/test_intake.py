"""Intake against the in-memory store and the in-process WeCom world: attribution, idempotency, merges, loss."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from chalicelib.domain.channels import Channel
from chalicelib.domain.customers import Stage
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import CustomerFilter, WelcomeOutcome
from tests.unit.conftest import CORP, Env, make_channel


def _customer(env: Env, customer_id: str):
    c = env.store.get_customer("unit", customer_id)
    assert c is not None
    return c


def _counters(env: Env, userid: str) -> dict[str, int]:
    return env.counters(userid, "2026-12-01")


def test_scan_creates_attributed_tagged_welcomed_customer(env: Env) -> None:
    ch = make_channel(env)
    fields, result = env.scan(ch.state)
    assert result.outcome == "created"
    assert result.welcome == WelcomeOutcome.SENT
    c = _customer(env, result.customer_id)
    assert c.owner_userid == "zhang"
    assert c.source_channel_id == ch.channel_id
    assert c.stage == Stage.NEW
    assert {t.tag_id for t in ch.tags} <= c.tags
    assert c.name.startswith("家长") and c.profile_synced
    assert [t.kind for t in c.touches] == ["new"]
    assert c.external_userid == fields["ExternalUserID"]
    welcomes = env.world.welcome_messages()
    assert len(welcomes) == 1 and welcomes[0]["text"] == "您好，资料包稍后发您"
    assert env.calls("externalcontact/mark_tag") == 1
    assert _counters(env, "zhang") == {"adds": 1, "n_new": 1, f"c#{ch.channel_id}": 1}


def test_duplicate_delivery_has_no_effect_and_makes_no_wecom_call(env: Env) -> None:
    ch = make_channel(env)
    fields, first = env.scan(ch.state)
    before = env.calls()
    again = env.deliver(fields)
    assert again.outcome == "duplicate" and again.customer_id == first.customer_id
    assert env.calls() == before
    assert _counters(env, "zhang")["n_new"] == 1
    assert len(_customer(env, first.customer_id).touches) == 1


def test_two_parents_scanning_in_the_same_second_are_two_customers(env: Env) -> None:
    ch = make_channel(env)
    _, a = env.scan(ch.state, external_userid="wmparentA000000000000000000001")
    _, b = env.scan(ch.state, external_userid="wmparentB000000000000000000002")
    assert a.outcome == b.outcome == "created"
    assert a.customer_id != b.customer_id
    assert _counters(env, "zhang")["n_new"] == 2


def test_concurrent_duplicates_have_one_effect(env: Env) -> None:
    ch = make_channel(env)
    fields = env.world.scan(CORP, ch.state, now=env.clock.epoch())
    results = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(env.deliver(fields).outcome)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["created", "duplicate", "duplicate", "duplicate"]
    assert len(env.world.welcome_messages()) == 1
    assert _counters(env, "zhang")["n_new"] == 1


def test_unknown_or_empty_state_is_organic(env: Env) -> None:
    env.world.register_corp(CORP)
    fields = env.world.event(
        CORP,
        "add_external_contact",
        userid="li",
        external_userid="wmorganic00000000000000000001",
        State="",
        now=env.clock.epoch(),
    )
    result = env.deliver(fields)
    c = _customer(env, result.customer_id)
    assert c.source_channel_id == "organic"
    assert result.welcome == WelcomeOutcome.NO_MESSAGE
    fields2 = env.world.event(
        CORP,
        "add_external_contact",
        userid="li",
        external_userid="wmorganic00000000000000000002",
        State="someone-elses-code",
        now=env.clock.epoch(),
    )
    assert _customer(env, env.deliver(fields2).customer_id).source_channel_id == "organic"


def test_customer_deletes_staff_then_readds(env: Env) -> None:
    ch = make_channel(env)
    fields, created = env.scan(ch.state)
    ext = fields["ExternalUserID"]
    env.clock.advance(hours=1)
    _, lost = env.event("del_follow_user", userid="zhang", external_userid=ext)
    assert lost.outcome == "lost"
    c = _customer(env, created.customer_id)
    assert c.stage == Stage.LOST and c.lost_by == "zhang" and c.lost_at
    assert _counters(env, "zhang")["n_lost"] == 1
    env.clock.advance(hours=1)
    other = make_channel(env, name="B站视频", source="bilibili")
    _, readd = env.scan(other.state, external_userid=ext)
    assert readd.outcome == "readd" and readd.customer_id == created.customer_id
    c = _customer(env, created.customer_id)
    assert c.stage == Stage.NEW and c.readds == 1 and c.lost_at is None
    assert c.source_channel_id == ch.channel_id  # first touch never changes
    assert [t.kind for t in c.touches] == ["new", "readd"] and c.touches[1].channel_id == other.channel_id
    assert _counters(env, "zhang")["n_new"] == 1 and _counters(env, "zhang")["n_readd"] == 1
    assert [f.type for f in env.store.timeline("unit", c.customer_id, limit=10)] == [
        "add_external_contact",
        "del_follow_user",
    ]


def test_staff_deletes_customer_ends_the_relation(env: Env) -> None:
    ch = make_channel(env)
    fields, created = env.scan(ch.state)
    _, ended = env.event("del_external_contact", userid="zhang", external_userid=fields["ExternalUserID"])
    assert ended.outcome == "ended"
    c = _customer(env, created.customer_id)
    assert c.relations[0].state == "ended" and c.relations[0].reason == "deleted_by_staff"
    assert c.stage == Stage.LOST


def test_transfer_deletion_is_not_a_loss(env: Env) -> None:
    ch = make_channel(env)
    fields, created = env.scan(ch.state)
    env.event(
        "del_external_contact", userid="zhang", external_userid=fields["ExternalUserID"], Source="DELETE_BY_TRANSFER"
    )
    c = _customer(env, created.customer_id)
    assert c.relations[0].reason == "transfer" and c.stage == Stage.NEW


def test_same_unionid_merges_into_the_known_customer(env: Env) -> None:
    ch = make_channel(env)
    env.world.register_contact(CORP, "wmfirst00000000000000000000001", unionid="oUNION-parent-1")
    env.world.register_contact(CORP, "wmsecond0000000000000000000002", unionid="oUNION-parent-1")
    _, first = env.scan(ch.state, external_userid="wmfirst00000000000000000000001")
    _, second = env.scan(ch.state, external_userid="wmsecond0000000000000000000002")
    assert second.outcome == "merged" and second.customer_id == first.customer_id
    c = _customer(env, first.customer_id)
    assert set(c.external_userids) == {"wmfirst00000000000000000000001", "wmsecond0000000000000000000002"}
    assert c.merges[0].by == "unionid"
    assert _counters(env, "zhang")["n_merge"] == 1 and _counters(env, "zhang")["n_new"] == 1
    # A later event for the merged external contact finds the merged customer through the ext alias.
    _, lost = env.event("del_follow_user", userid="zhang", external_userid="wmsecond0000000000000000000002")
    assert lost.customer_id == first.customer_id


def test_same_phone_merges(env: Env) -> None:
    ch = make_channel(env)
    env.world.register_corp(CORP, unionid=False)
    env.world.register_contact(CORP, "wmphoneA000000000000000000001", remark_mobiles=["+86 138-0013-8000"])
    env.world.register_contact(CORP, "wmphoneB000000000000000000002", remark_mobiles=["13800138000"])
    _, a = env.scan(ch.state, external_userid="wmphoneA000000000000000000001")
    _, b = env.scan(ch.state, external_userid="wmphoneB000000000000000000002")
    assert b.outcome == "merged" and b.customer_id == a.customer_id
    c = _customer(env, a.customer_id)
    assert c.merges[0].by == "phone" and c.phone_masked == "138****8000"


def test_welcome_already_delivered_is_accepted_without_retry(env: Env) -> None:
    ch = make_channel(env)
    env.world.inject("externalcontact/send_welcome_msg", 41051)
    _, result = env.scan(ch.state)
    assert result.welcome == WelcomeOutcome.ALREADY_DELIVERED
    assert env.calls("externalcontact/send_welcome_msg") == 1


def test_wecom_profile_failure_does_not_block_intake(env: Env) -> None:
    ch = make_channel(env)
    env.world.inject("externalcontact/get", 45009)
    _, result = env.scan(ch.state)
    assert result.outcome == "created"
    c = _customer(env, result.customer_id)
    assert not c.profile_synced and c.name == ""


def test_round_robin_points_the_code_at_the_next_staff(env: Env) -> None:
    ch = make_channel(env, staff={"mode": "round_robin", "userids": ["zhang", "li"]})
    owners = [env.scan(ch.state)[1] for _ in range(4)]
    assert [_customer(env, r.customer_id).owner_userid for r in owners] == ["zhang", "li", "zhang", "li"]


def test_daily_caps_skip_full_staff_and_fall_back_to_backup(env: Env) -> None:
    ch = make_channel(
        env,
        staff={
            "mode": "round_robin",
            "userids": ["zhang", "li"],
            "backup_userid": "wang",
            "daily_caps": {"zhang": 1, "li": 2},
        },
    )
    owners = [_customer(env, env.scan(ch.state)[1].customer_id).owner_userid for _ in range(5)]
    assert owners == ["zhang", "li", "li", "wang", "wang"]
    assert set(env.store.get_channel("unit", ch.channel_id).full) == {"zhang", "li"}


def test_staff_daily_cap_applies_across_channels(env: Env) -> None:
    env.svc.staff.update("unit", "zhang", {"daily_cap": 1})
    ch = make_channel(env, staff={"mode": "single", "userids": ["zhang"], "backup_userid": "li"})
    owners = [_customer(env, env.scan(ch.state)[1].customer_id).owner_userid for _ in range(3)]
    assert owners == ["zhang", "li", "li"]


def test_referral_code_attributes_to_the_referrer(env: Env) -> None:
    ch = make_channel(env)
    _, referrer = env.scan(ch.state)
    ref = env.svc.channels.referral_for(env.tenant, referrer.customer_id, {})
    _, friend = env.scan(ref.state)
    c = _customer(env, friend.customer_id)
    # Stored: the code's random id alone (intentionally no referrer id); shown: the referrer, read from the code.
    assert c.referrer_customer_id is None and c.source_channel_id == ref.channel_id
    assert referrer.customer_id[1:] not in ref.channel_id and len(ref.state) <= 30
    assert env.svc.customers.detail("unit", friend.customer_id)["referrer_customer_id"] == referrer.customer_id
    listed = env.svc.customers.find("unit", CustomerFilter(channel_id=ref.channel_id), cursor=None, limit=10).items
    assert [c.referrer_customer_id for c in listed] == [referrer.customer_id]
    assert env.svc.channels.referral_for(env.tenant, referrer.customer_id, {}).config_id == ref.config_id


def test_a_referral_code_raced_for_is_registered_once(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two first calls: the conditional claim gives both the same id, and the channel's conditional create keeps
    one code; the call that loses answers with the winner's code."""
    _, referrer = env.scan(make_channel(env).state)
    cid = referrer.customer_id
    assert env.store.claim_referral_code("unit", cid, "rf_rival") == "rf_rival"  # a rival call claimed first
    assert env.store.claim_referral_code("unit", cid, "rf_late") == "rf_rival"  # the first claim holds
    create = env.store.create_channel

    def rival_registers_first(tenant_id: str, channel: Channel) -> None:
        create(tenant_id, replace(channel, config_id="rival-way"))
        create(tenant_id, channel)

    monkeypatch.setattr(env.store, "create_channel", rival_registers_first)
    code = env.svc.channels.referral_for(env.tenant, cid, {})
    assert code.channel_id == "rf_rival" and code.config_id == "rival-way"
    monkeypatch.setattr(env.store, "create_channel", create)
    assert env.svc.channels.referral_for(env.tenant, cid, {}) == code
    listed = env.svc.channels.list("unit", kind="referral", cursor=None, limit=10).items
    assert [ch.channel_id for ch in listed] == ["rf_rival"]


def test_unhandled_events_are_recorded_as_ignored_once(env: Env) -> None:
    env.world.register_corp(CORP)
    fields = env.world.event(CORP, "create", event="change_external_chat", now=env.clock.epoch(), ChatId="wrchat1")
    assert env.deliver(fields).outcome == "ignored"
    assert env.deliver(fields).outcome == "duplicate"
    assert env.ignored_count() == 1


def test_event_for_unknown_customer_is_ignored(env: Env) -> None:
    env.world.register_corp(CORP)
    fields = env.world.event(
        CORP, "del_follow_user", userid="zhang", external_userid="wmnobody0000000000000000001", now=env.clock.epoch()
    )
    result = env.deliver(fields)
    assert result.outcome == "ignored" and result.reason == "unknown_customer"
    assert env.customer_count() == 0


def test_edit_syncs_wecom_tags_and_learns_the_phone(env: Env) -> None:
    ch = make_channel(env)
    ext = "wmedited000000000000000000001"
    intent = env.svc.tags.taxonomy("unit").group_named("报课意向度")
    assert intent is not None
    high = intent.find("高")
    assert high is not None
    triggered = env.svc.plans.create(
        env.tenant,
        {
            "name": "高意向跟进",
            "trigger": {"type": "tag", "tag_id": high.tag_id},
            "steps": [{"id": "s1", "after_minutes": 30, "content_type": "service", "message": {"text": "课程介绍"}}],
        },
    )
    env.svc.plans.publish(env.tenant, triggered.plan_id)  # live before any intake reads the plans (cached 30 s)
    env.world.register_contact(CORP, ext, remark_mobiles=["13912345678"])
    env.world.inject("externalcontact/get", 45009)  # the profile (and phone) stay unknown at add time
    _fields, created = env.scan(ch.state, external_userid=ext)
    assert _customer(env, created.customer_id).phone_masked == ""
    taxonomy = env.svc.tags.taxonomy("unit")
    intent = taxonomy.group_named("报课意向度")
    assert intent is not None
    high = intent.find("高")
    assert high is not None
    env.svc.tags.resolve(env.tenant, [high.tag_id])  # mirror the group so WeCom knows the tag
    wecom_high = env.svc.tags.taxonomy("unit").tag(high.tag_id).wecom_id
    env.world.handle(
        "/cgi-bin/externalcontact/mark_tag",
        {"access_token": _token(env)},
        {"userid": "zhang", "external_userid": ext, "add_tag": [wecom_high]},
    )
    _, edited = env.event("edit_external_contact", userid="zhang", external_userid=ext)
    assert edited.outcome == "updated"
    enrollment = env.store.get_enrollment("unit", created.customer_id, triggered.plan_id)
    assert enrollment is not None and enrollment.source == "tag"  # the tag staff added in WeCom triggered it
    c = _customer(env, created.customer_id)
    assert high.tag_id in c.tags and c.phone_masked == "139****5678"
    assert any(a.startswith("phone:") for a in c.aliases)


def _token(env: Env) -> str:
    answer = env.world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": "unit-secret"}, None)
    return str(answer["access_token"])


def test_erased_customer_is_not_recreated_by_a_late_retry(env: Env) -> None:
    ch = make_channel(env)
    fields, created = env.scan(ch.state)
    env.clock.advance(minutes=1)
    summary = env.svc.customers.erase(env.tenant, created.customer_id)
    assert summary["erased"] and env.store.get_customer("unit", created.customer_id) is None
    assert env.deliver(fields).outcome == "ignored"  # WeCom's late retry of the original add
    assert env.store.get_customer("unit", created.customer_id) is None
    env.clock.advance(minutes=1)
    _, again = env.scan(ch.state, external_userid=fields["ExternalUserID"])  # the parent adds us again later
    assert again.outcome == "created"


def test_tenants_never_meet(env: Env) -> None:
    other: Tenant = env.svc.tenants.create(
        tenant_id="other",
        name="别家",
        corp_id="wwother000000001",
        wecom={"token": "t", "encoding_aes_key": "b" * 43, "secret": "s"},
    )
    ch = make_channel(env)
    fields, created = env.scan(ch.state)
    from chalicelib.domain.contact_events import event_from_fields

    result = env.svc.intake.handle(other, event_from_fields(fields))
    assert result.customer_id != created.customer_id  # same external id, different tenant, different customer
    assert env.store.get_customer("other", created.customer_id) is None


def test_a_channel_with_a_plan_enrolls_its_new_customers(env: Env) -> None:
    from chalicelib.domain.plans import PlanStatus

    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "新客7天培育",
            "trigger": {"type": "manual"},
            "steps": [{"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "你好"}}],
        },
    )
    env.svc.plans.publish(env.tenant, plan.plan_id)
    published = env.svc.plans.current_plan("unit", plan.plan_id)
    assert published is not None and published.status == PlanStatus.PUBLISHED
    ch = make_channel(env, plan_id=plan.plan_id)
    _, result = env.scan(ch.state)
    enrollment = env.store.get_enrollment("unit", result.customer_id, plan.plan_id)
    assert enrollment is not None and enrollment.source == "channel" and enrollment.status == "active"


def test_a_plan_triggered_by_a_channel_enrolls_customers_added_through_it(env: Env) -> None:
    ch = make_channel(env)
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "抖音新客",
            "trigger": {"type": "channel", "channel_id": ch.channel_id},
            "steps": [{"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "你好"}}],
        },
    )
    env.svc.plans.publish(env.tenant, plan.plan_id)
    other = make_channel(env, name="B站", source="bilibili")
    _, mine = env.scan(ch.state)
    _, theirs = env.scan(other.state)
    assert env.store.get_enrollment("unit", mine.customer_id, plan.plan_id).source == "channel"
    assert env.store.get_enrollment("unit", theirs.customer_id, plan.plan_id) is None
