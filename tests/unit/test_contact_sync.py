"""The contact sync (issue 14 §1): a tenant's existing WeCom contacts imported quietly (no welcome, no plan, no count
of today's adds), 撞单 through the identity aliases, resumable after a crash, waiting out WeCom's rate limits, and
the reconcile that catches what Siyu missed while it was down (missed adds, lost contacts, tags edited in WeCom).

Services over the fake store, the real WeCom client over the in-process WeCom world (tests/unit/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import jobs
from chalicelib.domain.customers import Stage, customer_id_for
from chalicelib.domain.signals import ADDED, LOST, TAG, Signal
from chalicelib.errors import NotFoundError
from chalicelib.services.contact_sync import FIRST_ID, ContactSync, contact_sync_of
from chalicelib.services.identities import credentials
from chalicelib.services.jobs import jobs_of
from devstack.wecom_world.state import Follow
from tests.unit.conftest import CORP, Env, make_channel

BATCH = "externalcontact/batch/get_by_user"
WELCOME = "externalcontact/send_welcome_msg"


@pytest.fixture
def heard(env: Env) -> list[Signal]:
    got: list[Signal] = []
    env.svc.signals.subscribe((ADDED, LOST, TAG), "test", lambda t, s, sig: got.append(sig))
    return got


def _sync(env: Env) -> ContactSync:
    return contact_sync_of(env.svc)


def _run(env: Env, sync: ContactSync | None = None) -> dict[str, Any]:
    sync = sync or _sync(env)
    job = sync.start(env.tenant)
    return sync.advance(env.tenant, job["job_id"], budget_seconds=600)


def _wecom_tag(env: Env, name: str) -> tuple[str, str]:
    """(Siyu tag id, WeCom tag id) of the tag named ``name``."""
    taxonomy = env.store.taxonomy("unit")
    tag = next(t for g in taxonomy.groups for t in g.tags if t.name == name)
    return tag.tag_id, tag.wecom_id


def _customer(env: Env, external_userid: str) -> Any:
    return env.store.get_customer("unit", customer_id_for(env.tenant.hmac_hex("ext:" + external_userid)))


def test_a_first_sync_imports_existing_contacts_quietly_with_channel_and_tags(env: Env, heard: list[Signal]) -> None:
    channel = make_channel(env)
    tag_id, wecom_tag = _wecom_tag(env, "抖音")
    old = int(env.clock.epoch()) - 86_400 * 30
    zhang = env.world.seed_contacts(CORP, "zhang", 150, state=channel.channel_id, tags=[wecom_tag], createtime=old)
    li = env.world.seed_contacts(CORP, "li", 30, createtime=old)
    job = _run(env)
    assert job["job_id"] == FIRST_ID and job["reason"] == "first" and job["status"] == "done"
    assert job["seen"] == 180 and job["counts"]["created"] == 180 and job["pages"] == 2
    assert env.customer_count() == 180
    first = _customer(env, zhang[0])
    assert first.source_channel_id == channel.channel_id and first.owner_userid == "zhang"
    assert tag_id in first.tags and first.profile_synced
    assert _customer(env, li[0]).source_channel_id == "organic"
    # Not new: no welcome, no "added" signal (so no plan), no count of the day's adds.
    assert env.calls(WELCOME) == 0 and heard == []
    assert all(not n for counts in env.store.counters.values() for n in counts.values())


def test_a_second_run_changes_nothing(env: Env) -> None:
    env.world.seed_contacts(CORP, "zhang", 120, phones=True, createtime=1_700_000_000)
    _run(env)
    customers = dict(env.store.customers)
    second = _run(env)
    assert second["job_id"] != FIRST_ID and second["reason"] == "manual"
    assert second["counts"]["unchanged"] == 120
    assert sum(n for k, n in second["counts"].items() if k != "unchanged") == 0
    assert env.store.customers == customers


def test_a_contact_whose_phone_siyu_knows_is_merged_not_duplicated(env: Env) -> None:
    env.world.register_contact(CORP, "wmknown0001", remark_mobiles=["13900001111"], unionid="")
    env.scan("", external_userid="wmknown0001", userid="zhang")  # the callback came: Siyu knows them
    env.world.register_contact(CORP, "wmsecond001", remark_mobiles=["13900001111"], unionid="")
    env.world.event(CORP, "add_external_contact", userid="li", external_userid="wmsecond001", now=1_700_000_000)
    job = _run(env)
    assert job["counts"]["merged"] == 1 and job["counts"]["unchanged"] == 1 and env.customer_count() == 1
    merged = _customer(env, "wmknown0001")
    assert {r.userid for r in merged.active_relations} == {"zhang", "li"}
    assert _run(env)["counts"]["merged"] == 0 and env.customer_count() == 1


def test_userid_batches_of_100_and_pages_of_100(env: Env) -> None:
    for n in range(130):
        env.world.seed_contacts(CORP, f"t{n:03d}", 2, createtime=1_700_000_000)
    job = _run(env)
    assert job["seen"] == 260 and job["counts"]["created"] == 260
    batches = [len(c.payload["userid_list"]) for c in env.world.calls(BATCH)]
    assert max(batches) == 100 and batches.count(100) == 2  # 100 staff (200 relations: 2 pages), then 33
    assert len(job["staff"]) == 130


def test_rate_limit_stops_the_slice_and_the_job_resumes_after_the_backoff(env: Env) -> None:
    env.world.seed_contacts(CORP, "zhang", 250, createtime=1_700_000_000)
    sync = _sync(env)
    job = sync.claim(env.tenant)
    job = sync.advance(env.tenant, job["job_id"], budget_seconds=600)  # the staff list, then 3 pages
    assert job["status"] == "done"
    env.world.seed_contacts(CORP, "li", 250, createtime=1_700_000_000)
    env.world.inject(BATCH, 45009)
    job = sync.claim(env.tenant)
    job = sync.advance(env.tenant, job["job_id"], budget_seconds=600)
    assert job["status"] == "running" and job["waiting"] and job["retry_at"] == int(env.clock.epoch()) + 60
    assert "等待企业微信频率限制解除" in jobs.contact_sync_view(job).stage
    calls = len(env.world.calls(BATCH))
    env.clock.advance(seconds=30)
    assert sync.tick(env.tenant, budget_seconds=600)["contact_syncs"] == 1
    assert len(env.world.calls(BATCH)) == calls  # still blocked: no call spent
    env.world.inject(BATCH, 45033)
    env.clock.advance(seconds=31)
    job = sync.advance(env.tenant, job["job_id"], budget_seconds=600)
    assert job["waiting"] and job["retry_at"] == int(env.clock.epoch()) + 120  # doubled
    env.clock.advance(seconds=121)
    sync.tick(env.tenant, budget_seconds=600)
    job = sync.status("unit", job["job_id"])
    assert job["status"] == "done" and not job["waiting"] and job["counts"]["created"] == 250
    assert env.customer_count() == 500


def test_the_reconcile_catches_a_missed_add_a_lost_contact_and_tags_edited_in_wecom(
    env: Env, heard: list[Signal]
) -> None:
    channel = make_channel(env)
    tag_id, wecom_tag = _wecom_tag(env, "抖音")
    old = env.world.seed_contacts(CORP, "zhang", 5, createtime=1_700_000_000)
    first = _run(env)
    assert first["counts"]["created"] == 5
    env.clock.advance(hours=25)
    # While Siyu was down: a scan of the channel's code, zhang deleting a customer and tagging another in WeCom.
    missed = env.world.scan(CORP, channel.channel_id, now=env.clock.epoch())["ExternalUserID"]
    env.world.event(CORP, "del_external_contact", userid="zhang", external_userid=old[1], now=env.clock.epoch())
    env.svc.wecom.mark_tag(
        credentials(env.tenant), userid="zhang", external_userid=old[2], add_tag=[wecom_tag], remove_tag=[]
    )
    report = _sync(env).tick(env.tenant, budget_seconds=600)  # the day's reconcile
    assert report["contact_syncs"] == 1
    job = _sync(env).status("unit", jobs.CONTACT_SYNC_PREFIX + "day20261202")  # the tenant's local date
    counts = job["counts"]
    assert job["reason"] == "periodic" and job["status"] == "done"
    assert (counts["missed_add"], counts["lost"], counts["tags"], counts["created"]) == (1, 1, 1, 0)
    added = _customer(env, missed)
    assert added.source_channel_id == channel.channel_id, added.tags
    assert tag_id in added.tags, (added.tags, tag_id)
    assert env.calls(WELCOME) == 0  # its welcome code is long gone
    date = env.clock.now().astimezone(env.tenant.zone).date().isoformat()
    assert env.counters("zhang", date)["adds"] == 1  # a missed add is an add of its day
    assert _customer(env, old[1]).stage == Stage.LOST
    assert tag_id in _customer(env, old[2]).tags
    assert [s.type for s in heard].count(ADDED) == 1 and [s.type for s in heard].count(LOST) == 1
    assert _sync(env).tick(env.tenant, budget_seconds=600) == {"contact_syncs": 0}  # one a day
    again = _run(env)["counts"]
    assert again["unchanged"] == 5 and sum(again.values()) == 5  # the lost one is no longer listed


def test_an_erased_customer_is_not_brought_back(env: Env) -> None:
    ids = env.world.seed_contacts(CORP, "zhang", 3, createtime=1_700_000_000)
    _run(env)
    env.svc.customers.erase(env.tenant, _customer(env, ids[0]).customer_id)
    job = _run(env)
    assert job["counts"]["skipped"] == 1 and job["counts"]["created"] == 0
    assert _customer(env, ids[0]) is None


def test_status_of_an_unknown_job_is_not_found_and_the_jobs_page_lists_the_sync(env: Env) -> None:
    env.world.seed_contacts(CORP, "zhang", 3, createtime=1_700_000_000)
    job = _run(env)
    with pytest.raises(NotFoundError):
        _sync(env).status("unit", "cs_nope")
    with pytest.raises(NotFoundError):
        _sync(env).status("unit", "bj_0000")
    views = jobs_of(env.svc).list("unit")
    assert [v.job_id for v in views if v.kind == jobs.CONTACT_SYNC] == [FIRST_ID]
    view = jobs_of(env.svc).get("unit", job["job_id"])
    assert view.percent == 100 and view.title == "客户同步 · 首次同步"
    assert ("导入新客户", 3) in [(c.label, c.value) for c in view.counts]


def test_connecting_queues_the_first_sync_and_the_backstop_starts_one_a_tenant_lacks(env: Env) -> None:
    env.world.seed_contacts(CORP, "zhang", 3, createtime=1_700_000_000)
    queued = env.store.get_job("unit", FIRST_ID)
    assert queued is not None and queued["status"] == "running" and queued["seq"] == 0  # connecting queued it
    assert env.customer_count() == 0  # no WeCom call while the tenant was being created
    assert _sync(env).tick(env.tenant, budget_seconds=60)["contacts_synced"] == 3
    assert _sync(env).tick(env.tenant, budget_seconds=60) == {"contact_syncs": 0}  # done; the reconcile is tomorrow's
    # A tenant connected before the contact sync existed has no first sync: the backstop starts it.
    del env.store._sop()["jobs"][("unit", FIRST_ID)]
    env.world.seed_contacts(CORP, "li", 2, createtime=1_700_000_000)
    assert _sync(env).tick(env.tenant, budget_seconds=60)["contacts_synced"] == 5
    assert env.store.get_job("unit", FIRST_ID)["status"] == "done" and env.customer_count() == 5


def test_a_relation_the_corp_assigned_is_linked_quietly_never_a_new_add(env: Env, heard: list[Signal]) -> None:
    """A hand-over done in WeCom (在职/离职继承: follow_info.add_way 202) while Siyu was not looking: the reconcile
    moves the customer to the new staff member without counting, welcoming or enrolling anyone."""
    old = env.world.seed_contacts(CORP, "zhang", 2, createtime=1_700_000_000)
    _run(env)
    env.clock.advance(hours=25)
    with env.world.lock:  # WeCom's admin hands old[0] over to li: zhang's relation moves (devstack handover.py)
        relations = env.world.corp(CORP).follows[old[0]]
        relations["zhang"].active = False
        relations["li"] = Follow("li", old[0], "", int(env.clock.epoch()), add_way=202)
    job = _sync(env).tick(env.tenant, budget_seconds=600)
    assert job["contact_syncs"] == 1
    counts = _sync(env).status("unit", jobs.CONTACT_SYNC_PREFIX + "day20261202")["counts"]
    assert (counts["linked"], counts["missed_add"], counts["transferred"], counts["lost"]) == (1, 0, 1, 0)
    moved = _customer(env, old[0])
    assert moved.owner_userid == "li" and [r.userid for r in moved.active_relations] == ["li"]
    date = env.clock.now().astimezone(env.tenant.zone).date().isoformat()
    assert env.counters("li", date).get("adds", 0) == 0 and not {ADDED, LOST} & {s.type for s in heard}
    assert moved.stage != Stage.LOST
    assert env.calls(WELCOME) == 0


def _corp_tags(env: Env, group: str, names: list[str]) -> dict[str, str]:
    """A tag group the school makes in WeCom's admin, not through Siyu: tag name -> WeCom tag id."""
    return env.svc.wecom.add_corp_tags(credentials(env.tenant), group_name=group, tag_names=names).tags


def _siyu_tag(env: Env, wecom_id: str) -> Any:
    return next(t for g in env.store.taxonomy("unit").groups for t in g.tags if t.wecom_id == wecom_id)


def test_the_first_sync_keeps_tags_the_school_made_in_wecom_before_siyu(env: Env, heard: list[Signal]) -> None:
    made = _corp_tags(env, "校区", ["海淀校区", "朝阳校区"])
    assert not any(g.name == "校区" for g in env.store.taxonomy("unit").groups)  # Siyu does not know them yet
    ids = env.world.seed_contacts(CORP, "zhang", 3, tags=[made["海淀校区"]], createtime=1_700_000_000)
    job = _run(env)
    assert job["status"] == "done" and job["counts"]["tags_imported"] == 2 and job["counts"]["created"] == 3
    group = env.store.taxonomy("unit").group_named("校区")
    assert group is not None and not group.exclusive and group.wecom_group_id
    assert {t.name: t.wecom_id for t in group.tags} == made
    haidian = _siyu_tag(env, made["海淀校区"]).tag_id
    assert all(haidian in _customer(env, i).tags for i in ids)
    assert heard == []  # imported customers come with their tags: not a tagging that sets off plans
    assert ("导入企业微信标签", 2) in [(c.label, c.value) for c in jobs.contact_sync_view(job).counts]
    calls = env.calls("externalcontact/add_corp_tag")
    again = _run(env)
    assert again["counts"]["tags_imported"] == 0 and again["counts"]["unchanged"] == 3
    assert env.store.taxonomy("unit").group_named("校区") == group  # nothing added twice
    assert env.calls("externalcontact/add_corp_tag") == calls  # nothing written back to WeCom


def test_the_reconcile_imports_a_tag_group_made_in_wecom_later(env: Env, heard: list[Signal]) -> None:
    ids = env.world.seed_contacts(CORP, "zhang", 2, createtime=1_700_000_000)
    assert _run(env)["counts"]["tags_imported"] == 0
    env.clock.advance(hours=25)
    made = _corp_tags(env, "续费意向", ["想续费"])
    env.svc.wecom.mark_tag(
        credentials(env.tenant), userid="zhang", external_userid=ids[0], add_tag=[made["想续费"]], remove_tag=[]
    )
    assert _sync(env).tick(env.tenant, budget_seconds=600)["contact_syncs"] == 1
    job = _sync(env).status("unit", jobs.CONTACT_SYNC_PREFIX + "day20261202")
    assert (job["counts"]["tags_imported"], job["counts"]["tags"]) == (1, 1)
    tag_id = _siyu_tag(env, made["想续费"]).tag_id
    assert tag_id in _customer(env, ids[0]).tags and tag_id not in _customer(env, ids[1]).tags
    assert [s.tag_ids for s in heard if s.type == TAG] == [(tag_id,)]  # a tagging in WeCom: tag plans see it


def test_a_crash_after_the_tags_were_imported_is_harmless(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _corp_tags(env, "校区", ["海淀校区"])
    sync = _sync(env)
    job = sync.claim(env.tenant)

    def dies(*args: Any, **kwargs: Any) -> list[str]:
        raise RuntimeError("the worker died")

    monkeypatch.setattr(sync.source, "get_follow_user_list", dies)
    with pytest.raises(RuntimeError):
        sync.advance(env.tenant, job["job_id"], budget_seconds=600)
    assert sync.status("unit", job["job_id"])["seq"] == 0  # the job was not saved
    monkeypatch.undo()
    done = sync.advance(env.tenant, job["job_id"], budget_seconds=600)
    assert done["status"] == "done" and done["counts"]["tags_imported"] == 0  # found known: nothing added twice
    groups = [g for g in env.store.taxonomy("unit").groups if g.name == "校区"]
    assert len(groups) == 1 and [t.wecom_id for t in groups[0].tags] == [made["海淀校区"]]
