"""The plan repository contract, run against DynamoDB Local and against the in-memory fake (one contract for both)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.plans import PlanRepository
from chalicelib.domain.messages import Attachment, Message
from chalicelib.domain.plans import (
    Audience,
    ExitRule,
    Lateness,
    Plan,
    PlanStatus,
    Silence,
    Step,
    Trigger,
)
from chalicelib.errors import ConflictError, InvalidError
from tests.integration.contract.registry import covers

# `store` (DynamoDB Local and the fake) comes from tests/integration/conftest.py.

NOW = "2026-12-01T20:00:00+08:00"


def plan(plan_id: str = "pl_contract01", **over: Any) -> Plan:
    """A plan using every part of the document, so a lossy mapping shows up."""
    base: dict[str, Any] = dict(
        plan_id=plan_id,
        version=1,
        name="新客7天培育",
        status=PlanStatus.DRAFT,
        trigger=Trigger("channel", channel_id="ch_x"),
        steps=(
            Step("s1", "service", Message("同学你好～"), after_minutes=5, notes="破冰话术", title="破冰"),
            Step(
                "s2",
                "marketing",
                Message("9.9元体验", (Attachment("link", {"title": "题库", "url": "https://example.com"}),)),
                day=1,
                at="20:00",
                executor="zhang",
                lateness=Lateness(30, "skip"),
                on_cap="drop",
            ),
        ),
        audience=Audience(tags_none=("t_enrolled01",), stages=("new",), channels=("ch_x",), recheck_at_fire=False),
        exits=(ExitRule("order", kind="trial"), ExitRule("tag", tag_id="t_bought01"), ExitRule("negative_reply")),
        silence=Silence(7, "pl_silent"),
        reentry="after_completion",
        priority=10,
        created_at=NOW,
        updated_at=NOW,
        goal="for new leads who need a plan, through daily practice, reach a trial purchase",
        current_version=1,
        rev=1,
        holdout_percent=10,
    )
    base.update(over)
    return Plan(**base)


@covers(PlanRepository.create_plan, PlanRepository.get_plan)
def test_create_and_read_back_losslessly(store: Any) -> None:
    p = plan()
    store.create_plan("acme", p)
    assert store.get_plan("acme", p.plan_id) == p
    assert store.get_plan("acme", p.plan_id, 1) == p
    assert store.get_plan("acme", p.plan_id, 2) is None
    assert store.get_plan("acme", "pl_missing") is None
    assert store.get_plan("other", p.plan_id) is None  # tenants never meet
    with pytest.raises(ConflictError):
        store.create_plan("acme", replace(p, name="重复"))
    assert store.list_plan_versions("acme", p.plan_id) == [p]
    assert store.list_plan_versions("acme", "pl_missing") == []


@covers(PlanRepository.save_plan)
def test_a_draft_changes_in_place_and_stale_revs_lose(store: Any) -> None:
    p = plan()
    store.create_plan("acme", p)
    edited = replace(p, name="改名", rev=2)
    store.save_plan("acme", edited, expected_rev=1, write_version=True)
    assert store.get_plan("acme", p.plan_id) == edited
    assert store.get_plan("acme", p.plan_id, 1) == edited
    with pytest.raises(ConflictError):
        store.save_plan("acme", replace(p, name="旧的", rev=2), expected_rev=1, write_version=True)
    with pytest.raises(ConflictError):
        store.save_plan("acme", replace(p, plan_id="pl_ghost"), expected_rev=0, write_version=False)  # no head
    assert store.get_plan("acme", p.plan_id).name == "改名"


@covers(PlanRepository.save_plan, PlanRepository.list_plan_versions, PlanRepository.get_plan)
def test_versions_are_pinned_and_published_ones_immutable(store: Any) -> None:
    p = plan()
    store.create_plan("acme", p)
    v1 = replace(p, status=PlanStatus.PUBLISHED, published_at=NOW, rev=2)
    store.save_plan("acme", v1, expected_rev=1, write_version=True)  # publish: the version records when
    later = "2026-12-02T09:00:00+08:00"
    v2 = replace(v1, version=2, current_version=2, name="第二版", updated_at=later, published_at=later, rev=3)
    store.save_plan("acme", v2, expected_rev=2, write_version=True)
    assert store.get_plan("acme", p.plan_id) == v2
    old = store.get_plan("acme", p.plan_id, 1)
    assert old == replace(v1, current_version=2, rev=3)  # content of v1, the plan's status and rev
    with pytest.raises(ConflictError):  # rewriting a published version fails even with the right rev
        store.save_plan("acme", replace(v1, name="篡改", rev=4, current_version=2), expected_rev=3, write_version=True)
    paused = replace(v2, status=PlanStatus.PAUSED, rev=4)
    store.save_plan("acme", paused, expected_rev=3, write_version=False)
    assert store.get_plan("acme", p.plan_id, 1).status == PlanStatus.PAUSED  # one status for every version
    versions = store.list_plan_versions("acme", p.plan_id)
    assert [(v.version, v.name, v.status, v.current_version) for v in versions] == [
        (1, "新客7天培育", PlanStatus.PAUSED, 2),
        (2, "第二版", PlanStatus.PAUSED, 2),
    ]


@covers(PlanRepository.list_plans)
def test_listing_pages_filters_and_stays_in_the_tenant(store: Any) -> None:
    ids = [f"pl_list{i:04d}" for i in range(5)]
    for i, plan_id in enumerate(ids):
        status = PlanStatus.PUBLISHED if i % 2 else PlanStatus.DRAFT
        store.create_plan("acme", plan(plan_id, status=status, name=f"计划{i}"))  # names are unique per tenant
    store.create_plan("beta", plan("pl_beta0001"))
    first = store.list_plans("acme", status=None, cursor=None, limit=2)
    assert [p.plan_id for p in first.items] == ids[:2] and first.next_cursor
    seen = [p.plan_id for p in first.items]
    cursor = first.next_cursor
    while cursor:
        page = store.list_plans("acme", status=None, cursor=cursor, limit=2)
        seen += [p.plan_id for p in page.items]
        cursor = page.next_cursor
    assert seen == ids
    published = store.list_plans("acme", status="published", cursor=None, limit=10)
    assert [p.plan_id for p in published.items] == [ids[1], ids[3]] and published.next_cursor is None
    drafts = store.list_plans("acme", status="draft", cursor=None, limit=1)
    assert [p.plan_id for p in drafts.items] == [ids[0]]
    rest = store.list_plans("acme", status="draft", cursor=drafts.next_cursor, limit=5)
    assert [p.plan_id for p in rest.items] == [ids[2], ids[4]]
    assert [p.plan_id for p in store.list_plans("beta", status=None, cursor=None, limit=10).items] == ["pl_beta0001"]
    with pytest.raises(InvalidError):  # a cursor of another tenant's listing is refused
        store.list_plans("beta", status=None, cursor=first.next_cursor, limit=2)


def test_keys_are_tenant_scoped() -> None:
    assert k.plan_sk("pl_1") == "PLAN#pl_1" and k.tenant_pk("acme") == "T#acme"
    assert k.plan_pk("acme", "pl_1") == "T#acme#PL#pl_1" and k.plan_version_sk(12) == "V#000012"


@covers(PlanRepository.plan_name_owner, PlanRepository.create_plan, PlanRepository.save_plan)
def test_a_name_is_claimed_once_per_tenant_and_moves_with_a_rename(store: Any) -> None:
    p = plan()
    store.create_plan("acme", p)
    assert store.plan_name_owner("acme", "新客7天培育") == p.plan_id
    assert store.plan_name_owner("acme", " 新客7天培育 ") == p.plan_id  # trimmed, NFKC, case-folded
    assert store.plan_name_owner("beta", "新客7天培育") is None
    with pytest.raises(ConflictError) as taken:
        store.create_plan("acme", plan("pl_second01"))
    assert taken.value.code == "plan_name_taken" and taken.value.details["plan_id"] == p.plan_id
    assert store.get_plan("acme", "pl_second01") is None  # nothing of the loser was written
    store.create_plan("beta", plan("pl_second01"))  # another tenant may use the name
    other = plan("pl_other001", name="沉默唤醒")
    store.create_plan("acme", other)
    renamed = replace(p, name="新客培育（二）", rev=2)
    store.save_plan("acme", renamed, expected_rev=1, write_version=True, renamed_from=p.name)
    assert store.plan_name_owner("acme", "新客培育（二）") == p.plan_id
    assert store.plan_name_owner("acme", "新客7天培育") is None  # the old name is free again
    store.create_plan("acme", plan("pl_third001"))
    with pytest.raises(ConflictError) as clash:  # a rename to a name another plan holds changes nothing
        store.save_plan(
            "acme",
            replace(renamed, name="沉默唤醒", rev=3),
            expected_rev=2,
            write_version=True,
            renamed_from=renamed.name,
        )
    assert clash.value.code == "plan_name_taken" and clash.value.details["plan_id"] == other.plan_id
    assert store.get_plan("acme", p.plan_id) == renamed
    assert store.plan_name_owner("acme", "新客培育（二）") == p.plan_id
    with pytest.raises(ConflictError) as stale:  # a stale rev loses as before, and is not a name clash
        store.save_plan(
            "acme", replace(p, name="又一个", rev=2), expected_rev=1, write_version=True, renamed_from=p.name
        )
    assert stale.value.code != "plan_name_taken" and store.plan_name_owner("acme", "又一个") is None
    listed = store.list_plans("acme", status=None, cursor=None, limit=10)
    assert sorted(x.plan_id for x in listed.items) == sorted([p.plan_id, other.plan_id, "pl_third001"])
