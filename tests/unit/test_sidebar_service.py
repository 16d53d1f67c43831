"""The chat sidebar's service (services/sidebar.py) on the in-memory store and the in-process WeCom world: the
agentConfig it signs verifies in the world, the customer view and its owner-only rule, and the next touch's step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.domain.channels import Channel
from chalicelib.domain.customers import Customer, Stage, customer_id_for
from chalicelib.domain.facts import Alias
from chalicelib.domain.library import Script
from chalicelib.domain.messages import Message
from chalicelib.domain.metrics.holdout import in_holdout
from chalicelib.domain.plans import Plan, PlanStatus, Step, Trigger
from chalicelib.domain.sidebar import upcoming_step
from chalicelib.domain.sop import EXITED, Enrollment, Subject, Touch
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import Tag, TagGroup
from chalicelib.domain.tenants import Tenant
from chalicelib.services.sidebar import SidebarService
from devstack.wecom_world import WeComWorld, WorldTransport
from tests.fakes import FixedClock, SeqIds
from tests.fakes.store import FakeStore

CORP = "wwsidebar0000001"
EXT = "wmParentSidebar01"
PAGE = "https://siyu.example/console/t1/sidebar"
TENANT = Tenant(
    tenant_id="t1",
    name="侧边栏教育",
    corp_id=CORP,
    timezone="Asia/Shanghai",
    wecom_token="tok",
    wecom_aes_key="a" * 43,
    wecom_secret="app-secret",
    salt="salt-t1",
    created_at="2026-11-01T09:00:00+08:00",
)
ADDED = "2026-11-30T09:00:00+08:00"


def with_agent(tenant: Tenant) -> Tenant:
    return replace(tenant, agent_id=1000002)


class Scripts:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def for_stage(self, tenant_id: str, stage: str) -> list[Script]:
        self.asked.append((tenant_id, stage))
        return [Script("sc_1", stage, "icebreak", "开场", f"{stage} 的话术")]


class Env:
    def __init__(self) -> None:
        self.clock = FixedClock(datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC))
        self.world = WeComWorld(clock=self.clock.epoch)
        self.store = FakeStore()
        self.scripts = Scripts()
        client = WeComClient(WorldTransport(self.world), sleep=lambda s: None, monotonic=self.clock.epoch)
        self.svc = SidebarService(
            self.store,
            client,
            self.clock,
            SeqIds(),
            console_url="https://siyu.example/",
            jssdk_url="https://siyu.example/sandbox/jssdk.js",
            scripts=self.scripts,
        )

    def customer(self, ext: str = EXT, owner: str = "zhang", **fields: Any) -> Customer:
        cid = customer_id_for(TENANT.hmac_hex("ext:" + ext))
        customer = Customer(
            customer_id=cid,
            external_userid=ext,
            owner_userid=owner,
            source_channel_id="ch_poster",
            stage=Stage.NURTURING,
            added_at=ADDED,
            created_at=ADDED,
            updated_at=ADDED,
            name="王妈妈",
            phone_masked="138****5678",
            **fields,
        )
        self.store.customers[(TENANT.tenant_id, cid)] = customer
        return customer

    def plan(self, plan_id: str = "pl_nurture", steps: int = 3) -> Plan:
        plan = Plan(
            plan_id=plan_id,
            version=1,
            name=f"新客培育 {plan_id}",
            status=PlanStatus.PUBLISHED,
            trigger=Trigger("manual"),
            steps=tuple(
                Step(
                    id=f"s{i}",
                    content_type="interactive",
                    message=Message(text=f"第{i}天的内容"),
                    day=i,
                    at="19:30",
                    notes=f"第{i}天话术：先问孩子的年级",
                    title=f"第{i}天",
                )
                for i in range(1, steps + 1)
            ),
        )
        self.store.create_plan(TENANT.tenant_id, plan)
        return plan

    def enroll(self, customer: Customer, plan: Plan, enrollment_id: str = "en_1", **fields: Any) -> Enrollment:
        enrollment = Enrollment(
            Subject.customer(customer.customer_id), plan.plan_id, plan.version, enrollment_id, ADDED, **fields
        )
        self.store.put_enrollment(TENANT.tenant_id, enrollment, reentry="always")
        return enrollment

    def sent(self, customer: Customer, plan: Plan, step: str, day: int, enrollment_id: str = "en_1") -> None:
        bucket = f"{plan.plan_id}.{plan.version}.{step}.2026120{day}1130"
        due = f"2026-12-0{day}T19:30:00+08:00"
        touch = Touch(bucket, Subject.customer(customer.customer_id), enrollment_id, step, 0, due)
        self.store.take_quota(
            TENANT.tenant_id,
            customer.customer_id,
            month="2026-12",
            day_key=None,
            day_cap=None,
            month_cap=31,
            touch=touch,
        )


@pytest.fixture
def env() -> Env:
    return Env()


# --- agentConfig ---------------------------------------------------------------------------------------------------


def test_the_agent_config_verifies_in_wecom_for_the_page_it_was_made_for(env: Env) -> None:
    config = env.svc.agent_config(with_agent(TENANT), PAGE + "#chat").public()
    assert config["corpid"] == CORP and config["agentid"] == "1000002"
    assert config["timestamp"] == int(env.clock.epoch())  # the Clock's time, not the machine's
    assert config["jsApiList"] == ["getCurExternalContact"]
    params = {k: str(v) for k, v in config.items() if k in ("timestamp", "nonceStr", "signature")}
    assert env.world.verify_js_signature(CORP, "agent_config", params | {"url": PAGE}) == ""
    assert env.world.verify_js_signature(CORP, "agent_config", params | {"url": PAGE + "?x=1"}) == "invalid signature"


def test_each_page_gets_its_own_nonce_from_one_cached_ticket(env: Env) -> None:
    first = env.svc.agent_config(with_agent(TENANT), PAGE)
    second = env.svc.agent_config(with_agent(TENANT), PAGE)
    assert first.nonce_str != second.nonce_str and first.nonce_str.isalnum() and len(first.nonce_str) == 16
    assert len(env.world.calls("ticket/get")) == 1


def test_a_tenant_without_an_agent_id_cannot_sign(env: Env) -> None:
    with pytest.raises(errors.InvalidError):
        env.svc.agent_config(replace(TENANT, agent_id=0), PAGE)
    frame = env.svc.frame(TENANT, {})
    assert frame.config is None and "AgentId" in frame.problem
    assert env.world.calls("ticket/get") == []


def test_the_frame_is_signed_for_the_pages_public_url(env: Env) -> None:
    frame = env.svc.frame(with_agent(TENANT), {"b": "2", "a": "x y"})
    assert frame.url == "https://siyu.example/console/t1/sidebar?a=x+y&b=2"
    assert frame.jssdk_url == "https://siyu.example/sandbox/jssdk.js" and frame.config is not None
    params = {k: str(v) for k, v in frame.config.public().items() if k in ("timestamp", "nonceStr", "signature")}
    assert env.world.verify_js_signature(CORP, "agent_config", params | {"url": frame.url}) == ""


def test_wecom_refusing_the_ticket_is_said_on_the_page_not_raised(env: Env) -> None:
    env.world.inject("ticket/get", 45009)
    frame = env.svc.frame(with_agent(TENANT), {})
    assert frame.config is None and "稍后" in frame.problem


# --- the customer --------------------------------------------------------------------------------------------------


def test_the_owner_sees_profile_tags_stage_and_timeline(env: Env) -> None:
    env.store.put_tag_group("t1", TagGroup("tg_grade", "年级", tags=(Tag("tag_g3", "三年级"),)))
    customer = env.customer(tags=frozenset({"tag_g3", "tag_gone"}))
    view = env.svc.customer(TENANT, EXT, staff_scope="zhang")
    assert view.customer == customer and view.customer.phone_masked == "138****5678"
    assert (view.owner_name, view.channel_name) == ("", "")  # neither is in the store
    assert [(t.group, t.name) for t in view.tags] == [("年级", "三年级"), ("", "tag_gone")]
    assert [e["type"] for e in view.timeline] == ["add_external_contact"]
    assert view.timeline_more is False
    assert [(s.scene, s.text) for s in view.scripts] == [("icebreak", "nurturing 的话术")]
    assert env.scripts.asked == [("t1", "nurturing")]


def test_the_owner_and_the_source_channel_are_named(env: Env) -> None:
    env.customer()
    env.store.create_staff("t1", Staff("zhang", "张老师"))
    env.store.create_channel("t1", Channel("ch_poster", "地铁海报", "offline_poster"))
    view = env.svc.customer(TENANT, EXT, staff_scope="zhang")
    assert (view.owner_name, view.channel_name) == ("张老师", "地铁海报")


def test_another_staff_members_customer_is_forbidden_and_ops_see_everyone(env: Env) -> None:
    env.customer(owner="li")
    with pytest.raises(errors.ForbiddenError):
        env.svc.customer(TENANT, EXT, staff_scope="zhang")
    assert env.svc.customer(TENANT, EXT, staff_scope=None).customer.owner_userid == "li"


@pytest.mark.parametrize("ext", ["", "zhang", "wm", "wm has space", "xmParent0001", "wm" + "a" * 63])
def test_what_is_not_an_external_userid_is_refused(env: Env, ext: str) -> None:
    with pytest.raises(errors.InvalidError):
        env.svc.customer(TENANT, ext, staff_scope="zhang")


def test_an_unknown_contact_is_not_found(env: Env) -> None:
    env.customer()
    with pytest.raises(errors.NotFoundError):
        env.svc.customer(TENANT, "wmSomeoneElse01", staff_scope="zhang")


def test_a_contact_merged_into_another_customer_finds_that_customer(env: Env) -> None:
    customer = env.customer()
    second = "wmSecondAccount01"
    env.store.put_alias("t1", Alias("ext", TENANT.hmac_hex("ext:" + second), customer.customer_id))
    assert env.svc.customer(TENANT, second, staff_scope="zhang").customer == customer
    env.store.put_alias("t1", Alias("ext", TENANT.hmac_hex("ext:" + second), customer.customer_id, erased_at=1))
    with pytest.raises(errors.NotFoundError):
        env.svc.customer(TENANT, second, staff_scope="zhang")


# --- active plans and the next touch -------------------------------------------------------------------------------


def test_a_new_run_touches_with_its_first_step_next(env: Env) -> None:
    customer, plan = env.customer(), env.plan()
    env.enroll(customer, plan)
    (active,) = env.svc.customer(TENANT, EXT, staff_scope="zhang").plans
    assert (active.plan_id, active.name, active.version) == ("pl_nurture", "新客培育 pl_nurture", 1)
    assert active.next_touch is not None
    assert (active.next_touch.step_id, active.next_touch.notes) == ("s1", "第1天话术：先问孩子的年级")
    assert active.next_touch.position == 1
    assert active.next_touch.text == "第1天的内容"


def test_the_step_after_the_newest_touch_is_next_and_none_after_the_last(env: Env) -> None:
    customer, plan = env.customer(), env.plan()
    env.enroll(customer, plan)
    env.sent(customer, plan, "s1", 1)
    (active,) = env.svc.customer(TENANT, EXT, staff_scope="zhang").plans
    assert active.next_touch is not None and (active.next_touch.step_id, active.next_touch.position) == ("s2", 2)
    env.sent(customer, plan, "s2", 2)
    env.sent(customer, plan, "s3", 3)
    (active,) = env.svc.customer(TENANT, EXT, staff_scope="zhang").plans
    assert active.next_touch is None


def test_a_step_naming_a_library_script_says_that_script(env: Env) -> None:
    customer, plan = env.customer(), env.plan()
    env.store.create_script("t1", Script("sc_ice", "nurturing", "icebreak", "破冰开场", "您好，我是张老师～"))
    steps = (replace(plan.steps[0], notes="", script_id="sc_ice"), *plan.steps[1:])
    env.store.plan_versions[("t1", plan.plan_id, 1)] = replace(plan, steps=steps)
    env.enroll(customer, plan)
    (active,) = env.svc.customer(TENANT, EXT, staff_scope="zhang").plans
    assert active.next_touch is not None and active.next_touch.notes == "您好，我是张老师～"
    assert active.next_touch.text == "第1天的内容"


def test_a_plans_holdout_shows_no_script(env: Env) -> None:
    """A customer in the plan's holdout (对照组) gets none of its touches: staff are not handed its script either."""
    plan = env.plan()
    ext = next(  # a customer the 50% holdout holds out
        e
        for e in (f"wmHoldout{n:04d}" for n in range(100))
        if in_holdout("t1", plan.plan_id, customer_id_for(TENANT.hmac_hex("ext:" + e)), 50)
    )
    customer = env.customer(ext)
    env.store.plan_versions[("t1", plan.plan_id, 1)] = replace(plan, holdout_percent=50)
    env.enroll(customer, plan)
    (active,) = env.svc.customer(TENANT, ext, staff_scope="zhang").plans
    assert active.held_out and active.next_touch is None
    env.store.plan_versions[("t1", plan.plan_id, 1)] = replace(plan, holdout_percent=0)
    (active,) = env.svc.customer(TENANT, ext, staff_scope="zhang").plans
    assert not active.held_out and active.next_touch is not None


def test_only_active_runs_are_listed(env: Env) -> None:
    customer = env.customer()
    env.enroll(customer, env.plan("pl_ended"), "en_old", status=EXITED, ended_at="2026-11-30T10:00:00+08:00")
    env.enroll(customer, env.plan("pl_live"), "en_live")
    view = env.svc.customer(TENANT, EXT, staff_scope="zhang")
    assert [p.plan_id for p in view.plans] == ["pl_live"]


def test_a_partly_read_history_without_the_run_shows_no_step_rather_than_a_wrong_one() -> None:
    plan = Env().plan()
    other = {"type": "touch", "detail": {"touch": "en_other#s2#0", "step_id": "s2"}}
    checkin = {"type": "checkin", "detail": {}}
    assert upcoming_step(plan, "en_1", [checkin, other], whole_story=False) is None
    first = upcoming_step(plan, "en_1", [checkin, other], whole_story=True)
    assert first is not None and first.id == "s1"
    mine = {"type": "touch", "detail": {"touch": "en_1#s1#0", "step_id": "s1"}}
    step = upcoming_step(plan, "en_1", [other, mine], whole_story=False)
    assert step is not None and step.id == "s2"
    enrolled = {"type": "enrolled", "detail": {"enrollment_id": "en_1"}}
    step = upcoming_step(plan, "en_1", [checkin, enrolled, mine], whole_story=False)
    assert step is not None and step.id == "s1"  # the newest of the run's entries decides: a re-entry starts over
