"""The console's 社群 reads: groups gathered by cohort, each live code's rotation (now, fill, next, rotated out),
the camp plans and a camp's calendar by day, a group's leaderboard; staff see their own groups and no codes."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.group_codes import GroupCode
from chalicelib.domain.group_naming import NamingTemplate
from chalicelib.domain.group_rotation import FULL, NEXT, NOW, RETIRED, rotation
from chalicelib.domain.groups import Group, GroupState
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.services.group_board import GroupBoard
from chalicelib.services.group_codes import GroupCodeService
from chalicelib.services.groups.setup import GroupFilter, GroupService
from tests.fakes import SeqIds
from tests.fakes.wecom_groups_g5 import FakeJoinWays
from tests.unit.group_plan_env import TID, GroupEnv, step


class Board:
    """A leaderboard read that answers what the points service would, for the groups given."""

    def __init__(self, boards: dict[str, list[dict[str, Any]]]) -> None:
        self.boards = boards

    def leaderboard(self, tenant_id: str, chat_id: str, *, limit: int) -> dict[str, Any]:
        return {"chat_id": chat_id, "items": self.boards.get(chat_id, [])[:limit]}


@pytest.fixture
def env() -> GroupEnv:
    env = GroupEnv()
    env.store.put_group_naming(TID, NamingTemplate(institution="思语考研"))
    for chat_id in ("wr1", "wr2", "wr3"):
        env.group(chat_id, cohort="3期")
    env.group("wr9", owner="li", cohort="4期", cohort_start="2026-12-15")
    env.group("wr0", cohort="", cohort_start=None)
    return env


def _board(env: GroupEnv, boards: dict[str, list[dict[str, Any]]] | None = None) -> GroupBoard:
    codes = GroupCodeService(env.store, FakeJoinWays(), env.clock, SeqIds())
    return GroupBoard(
        GroupService(env.store), codes, env.store, env.plans, Board(boards or {}), env.simulator, env.clock
    )


def test_the_overview_gathers_groups_by_cohort_with_codes_and_camps(env: GroupEnv) -> None:
    board = _board(env)
    codes = GroupCodeService(env.store, FakeJoinWays(), env.clock, SeqIds())
    body = {
        "name": "数学冲刺3期",
        "positioning": "数学冲刺",
        "cohort": "3",
        "chat_ids": ["wr1", "wr2"],
        "queue": ["wr3"],
    }
    codes.create(env.tenant, {**body, "rotate_at": 200})
    camp = env.plan([step("open", 0, "20:00", phase="开营"), step("d1", 1, "19:30", phase="正课")])
    overview = board.overview(TID, GroupFilter(), cursor=None, limit=20)
    assert [(c.name, sorted(g.chat_id for g in c.groups)) for c in overview.cohorts] == [
        ("3期", ["wr1", "wr2", "wr3"]),
        ("4期", ["wr9"]),
        ("", ["wr0"]),
    ]
    [code] = overview.codes
    assert [(s.chat_id, s.role, s.percent) for s in code.slots] == [
        ("wr1", NOW, 50),
        ("wr2", NOW, 50),
        ("wr3", NEXT, 50),
    ]
    assert [p.plan_id for p in overview.camps] == [camp.plan_id]
    staff = board.overview(TID, GroupFilter(staff="li"), cursor=None, limit=20)
    assert [g.chat_id for c in staff.cohorts for g in c.groups] == ["wr9"] and staff.codes == []


def test_rotation_reads_full_waiting_and_rotated_groups_in_order() -> None:
    code = GroupCode("gc_1", "码", "XX", 1, chat_ids=("a", "b"), queue=("c", "d"), retired=("x", "y"), full=("b",),
                     rotate_at=400)  # fmt: skip
    groups = {"a": Group("a", GroupState(name="一群", member_count=100)), "b": Group("b", GroupState(member_count=450))}
    slots = rotation(code, groups)
    assert [(s.chat_id, s.role, s.order) for s in slots] == [
        ("a", NOW, 0), ("b", FULL, 0), ("c", NEXT, 1), ("d", NEXT, 2), ("y", RETIRED, 0), ("x", RETIRED, 0),
    ]  # fmt: skip
    assert (slots[0].name, slots[0].percent, slots[1].percent, slots[2].members) == ("一群", 25, 100, None)
    assert slots[3].role_label == "候补 第 2 位" and slots[1].name == "b"


def test_a_camp_calendar_is_laid_out_by_day_from_the_cohort_start(env: GroupEnv) -> None:
    camp = env.plan([step("warm", -1, "20:00", phase="预热"), step("open", 0, "20:00", phase="开营"),
                     step("open2", 0, "21:00", phase="开营"), step("d1", 1, "19:30", phase="正课")])  # fmt: skip
    cal = _board(env).calendar(env.tenant, camp.plan_id, "2026-12-08")
    assert [(d.date, d.day, d.phase, [i["step_id"] for i in d.items]) for d in cal["days"]] == [
        ("2026-12-07", -1, "预热", ["warm"]),
        ("2026-12-08", 0, "开营", ["open", "open2"]),
        ("2026-12-09", 1, "正课", ["d1"]),
    ]
    today = _board(env).calendar(env.tenant, camp.plan_id, None)  # no day 0 given: today (the clock's)
    assert today["days"][0].date == "2026-11-30"
    with pytest.raises(InvalidError):
        _board(env).calendar(env.tenant, camp.plan_id, "12/08")
    with pytest.raises(NotFoundError):
        _board(env).calendar(env.tenant, "pl_none", None)


def test_a_groups_page_has_its_leaderboard_and_staff_see_only_theirs(env: GroupEnv) -> None:
    rows = [{"rank": 1, "customer_id": "cu_a", "points": 70, "checkins": 7, "streak": 7}]
    board = _board(env, {"wr1": rows})
    page = board.group(TID, "wr1", staff=None)
    assert page["group"].chat_id == "wr1" and page["leaderboard"] == rows
    assert board.group(TID, "wr9", staff="li")["leaderboard"] == []
    with pytest.raises(NotFoundError):
        board.group(TID, "wr1", staff="li")


def test_a_camps_enrollment_form_offers_its_audience_with_each_refusal(env: GroupEnv) -> None:
    env.group("wr5", type="service")  # not in the audience (study groups): not offered
    env.dismiss("wr2")  # dismissed: not offered
    camp = env.plan([step("open", 0, "20:00", phase="开营")])
    cal = _board(env).calendar(env.tenant, camp.plan_id, "2026-12-08")
    offered = {c.group.chat_id: c.refusal for c in cal["candidates"]}
    assert cal["enrollable"] is True
    assert offered == {"wr1": None, "wr3": None, "wr9": None, "wr0": "no_cohort_start"}


def test_a_draft_camp_offers_no_enrollment(env: GroupEnv) -> None:
    draft = env.plans.create(env.tenant, {"name": "草稿营", "kind": "group", "trigger": {"type": "manual"},
                                    "group_audience": {"types": ["study"]},
                                    "steps": [step("open", 0, "20:00")]})  # fmt: skip
    cal = _board(env).calendar(env.tenant, draft.plan_id, "2026-12-08")
    assert cal["enrollable"] is False and cal["candidates"] == []


def test_the_code_form_offers_free_groups_and_an_edit_its_queue_first(env: GroupEnv) -> None:
    board = _board(env)
    fresh = board.code_editor(TID, None)
    assert fresh.code is None and fresh.naming.institution == "思语考研"
    assert sorted(g.chat_id for g in fresh.groups) == ["wr0", "wr1", "wr2", "wr3", "wr9"]
    body = {"name": "码", "positioning": "数学冲刺", "cohort": "3", "chat_ids": ["wr1"], "queue": ["wr3", "wr2"]}
    made = board.codes.create(env.tenant, body)  # type: ignore[attr-defined]
    edit = board.code_editor(TID, made.code_id)
    assert edit.code is not None and edit.code.code_id == made.code_id
    assert [g.chat_id for g in edit.groups] == ["wr3", "wr2", "wr0", "wr9"]  # its queue in order, then the free
    assert sorted(g.chat_id for g in board.code_editor(TID, None).groups) == ["wr0", "wr9"]
    with pytest.raises(NotFoundError):
        board.code_editor(TID, "gc_none")
