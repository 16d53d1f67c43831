"""The group sync: a new tenant's first sync imports its 300 groups and their members, as a job with progress that
resumes from its cursor after a crash; one sync runs at a time; the daily sync turns drift the callbacks missed
into history with the scene unknown.

WeCom's groups are the world's (devstack/wecom_world: groupchat/list and groupchat/get through the real client),
except where a test needs a crash in the middle of a page or a WeCom that refuses everything (FakeGroupChats)."""

from __future__ import annotations

import pytest

from chalicelib import bootstrap
from chalicelib.domain.group_events import UNKNOWN_SCENE
from chalicelib.errors import NotFoundError, UpstreamError
from chalicelib.jobs import sop as sop_jobs
from chalicelib.services.groups.members import member_key
from chalicelib.services.groups.sync import FIRST, PERIODIC
from chalicelib.services.identities import credentials
from chalicelib.services.tenants import TenantService
from tests.fakes import FixedClock, SeqIds
from tests.fakes.store import FakeStore
from tests.fakes.wecom_groups_g2 import FakeChatMember
from tests.unit.conftest import CORP, WECOM
from tests.unit.groups_g2 import GroupEnv, make_group_env

GROUPS = 300
GET, LIST = "externalcontact/groupchat/get", "externalcontact/groupchat/list"


def _fake_world(env: GroupEnv, groups: int = GROUPS) -> None:
    for n in range(groups):
        members = tuple(
            FakeChatMember(f"wm{n:04d}x{i:02d}", join_time=1_700_000_000 + i, state="ch_poster", invitor="zhang")
            for i in range(3)
        )
        env.chats.create(f"wr{n:05d}", owner="zhang", name=f"XX教育·考研·{n}期", members=members)


def _world(env: GroupEnv) -> list[str]:
    """300 groups in the WeCom world before the tenant connected (owner and 3 parents each, no callback); in the
    eighth, a 4th parent came through a 「加入群聊」 code. Their chat ids, oldest first."""
    chats = [
        env.world.seed_group(
            CORP, owner="zhang", name=f"XX教育·考研·{n}期", members=[f"wm{n:04d}x{i:02d}" for i in range(3)]
        )["chat_id"]
        for n in range(GROUPS)
    ]
    config_id = env.svc.wecom.add_join_way(
        credentials(env.tenant), chat_ids=[chats[7]], state="ch_poster", room_base_name="XX", room_base_id=1
    )
    env.world.group_join(CORP, config_id=config_id, external_userid="wm0007x03")
    return chats


@pytest.fixture
def env() -> GroupEnv:
    return make_group_env(world_groups=True)


@pytest.fixture
def fake_env() -> GroupEnv:
    env = make_group_env()
    _fake_world(env)
    return env


def test_a_new_tenant_starts_its_first_sync_and_the_backstop_imports_300_groups(env: GroupEnv) -> None:
    chats = _world(env)
    job = env.store.current_group_sync("unit")
    assert job is not None and job["reason"] == FIRST and job["status"] == "running"
    assert env.world.calls(LIST) == []
    report = env.svc.group_sync.tick(env.tenant, budget_seconds=60)
    job = env.svc.group_sync.status("unit", job["job_id"])
    assert job["status"] == "done" and job["pages"] == 3 and job["groups_seen"] == GROUPS and job["changed"] == GROUPS
    assert report == {"group_syncs": 1, "groups_synced": GROUPS}
    assert len(env.world.calls(GET)) == GROUPS
    page = env.store.list_groups("unit", cursor=None, limit=1000)
    assert len(page.items) == GROUPS
    assert sorted(g.state.member_count for g in page.items) == [4] * (GROUPS - 1) + [5]
    member = env.member("wm0007x03", chats[7])
    assert member is not None and member.state == "ch_poster" and member.join_scene == UNKNOWN_SCENE
    seeded = env.member("wm0007x01", chats[7])
    assert seeded is not None and seeded.invitor == "zhang" and seeded.state == ""
    assert len(env.heard) == GROUPS * 4 + 1  # every member found joined once (the owner included)


def test_a_crashed_sync_resumes_from_its_cursor_and_writes_nothing_twice(fake_env: GroupEnv) -> None:
    env = fake_env  # a crash that is not WeCom's, halfway through a page
    job = env.store.current_group_sync("unit")
    env.chats.crash_after_gets = 150  # dies halfway through the second page
    with pytest.raises(RuntimeError):
        env.svc.group_sync.advance(env.tenant, job["job_id"], budget_seconds=60)
    saved = env.svc.group_sync.status("unit", job["job_id"])
    assert saved["pages"] == 1 and saved["groups_seen"] == 100 and saved["cursor"] == "100"
    env.chats.crash_after_gets = None
    lists = env.chats.lists
    done = env.svc.group_sync.advance(env.tenant, job["job_id"], budget_seconds=60)
    assert done["status"] == "done" and done["pages"] == 3 and done["groups_seen"] == GROUPS
    assert done["changed"] == GROUPS - 50  # the crashed page's first 50 groups were reconciled before it died
    assert env.chats.lists == lists + 2  # from the saved cursor: the first page is not listed again
    assert len(env.heard) == GROUPS * 4  # the half-done page's joins were not told twice
    key = member_key(env.tenant, "wm0120x00")
    assert len(env.store.member_changes("unit", "wr00120", key)) == 1


def test_one_sync_runs_at_a_time_and_progress_is_visible(fake_env: GroupEnv) -> None:
    env = fake_env
    first = env.store.current_group_sync("unit")
    env.chats.unavailable = True
    again = env.svc.group_sync.start(env.tenant)  # WeCom refuses: the running job is answered, not a 5xx
    assert again["job_id"] == first["job_id"] and again["last_error"] == "upstream_error"
    env.chats.unavailable = False
    assert env.svc.group_sync.start(env.tenant)["job_id"] == first["job_id"]
    with pytest.raises(NotFoundError):
        env.svc.group_sync.status("unit", "gs_nope")
    with pytest.raises(NotFoundError):
        env.svc.group_sync.status("other", first["job_id"])  # tenants never meet


def test_the_daily_sync_reconciles_drift(env: GroupEnv) -> None:
    chats = _world(env)
    env.svc.group_sync.tick(env.tenant, budget_seconds=60)
    assert env.svc.group_sync.tick(env.tenant, budget_seconds=60) == {"group_syncs": 0}  # done for today
    env.world.group_join(CORP, chat_id=chats[3], external_userid="wmlate")  # callbacks lost
    env.world.group_leave(CORP, chats[4], external_userid="wm0004x00")
    env.heard.clear()
    env.clock.advance(days=1)
    env.svc.group_sync.tick(env.tenant, budget_seconds=60)
    job = env.store.current_group_sync("unit")
    assert job["reason"] == PERIODIC and job["status"] == "done" and job["changed"] == 2
    late, gone = env.member("wmlate", chats[3]), env.member("wm0004x00", chats[4])
    assert late is not None and late.in_group and late.join_scene == UNKNOWN_SCENE
    assert gone is not None and not gone.in_group and gone.quit_scene == UNKNOWN_SCENE
    assert sorted((s.type, s.kind) for s in env.heard) == [("group_joined", "unknown"), ("group_left", "unknown")]


def test_the_backstop_runs_the_first_sync(env: GroupEnv) -> None:
    _world(env)
    bootstrap.override(env.svc)
    try:
        sop_jobs.backstop()
    finally:
        bootstrap.override(None)
    job = env.store.current_group_sync("unit")
    assert job["status"] == "done" and job["groups_seen"] == GROUPS


def test_a_tenant_is_created_even_when_its_first_sync_cannot_start() -> None:
    started: list[str] = []

    def refuse(tenant: object) -> None:
        raise UpstreamError("storage refused")

    store = FakeStore()
    tenants = TenantService(store, FixedClock(), SeqIds(), on_created=(refuse, lambda t: started.append(t.tenant_id)))
    tenants.create(tenant_id="second", name="示例教育", corp_id=CORP, wecom=WECOM)
    assert store.get_tenant("second") is not None  # the backstop starts the first sync for it later
    assert started == ["second"]  # one start refused never keeps the next from starting


def test_the_sweep_marks_a_group_dismissed_whose_callback_was_lost(env: GroupEnv) -> None:
    chats = _world(env)
    env.svc.group_sync.tick(env.tenant, budget_seconds=60)
    env.world.group_change(CORP, "dismiss", chat_id=chats[9])  # the callback never arrives
    env.clock.advance(days=1)
    gets = len(env.world.calls(GET))
    env.svc.group_sync.tick(env.tenant, budget_seconds=60)
    job = env.store.current_group_sync("unit")
    assert job["status"] == "done" and job["dismissed"] == 1 and job["changed"] == 1 and job["errors"] == 0
    assert len(env.world.calls(GET)) == gets + GROUPS - 1 + 1  # the listed ones, and the missing one read on its own
    assert env.world.calls(GET)[-1].errcode == 40050  # WeCom: chatid不存在
    assert env.state(chats[9]).status == "dismissed" and env.state(chats[8]).status == "active"
