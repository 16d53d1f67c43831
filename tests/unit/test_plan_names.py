"""Plan names are unique per tenant (issue 7 §5): create, rename and import refuse a name another plan holds with a
409 naming that plan, unless an import explicitly asks to be a new version of it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.plans import plan_to_json
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from tests.unit.conftest import Env

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "新客7天培育.csv"


def _doc(name: str, text: str = "同学你好～") -> dict[str, Any]:
    return {
        "name": name,
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": text}}],
    }


def _import(env: Env, **params: str) -> Any:
    return env.svc.plans.import_sheet(env.tenant, SAMPLE.read_bytes(), "text/csv", params)


def test_create_refuses_a_name_another_plan_holds_naming_it(env: Env) -> None:
    first = env.svc.plans.create(env.tenant, _doc("新客7天培育"))
    for same in ("新客7天培育", "  新客7天培育 "):
        with pytest.raises(ConflictError) as taken:
            env.svc.plans.create(env.tenant, _doc(same, "另一个"))
        assert taken.value.code == "plan_name_taken" and taken.value.details["plan_id"] == first.plan_id
    latin = env.svc.plans.create(env.tenant, _doc("Trial Push"))
    with pytest.raises(ConflictError) as folded:  # case and full-width forms are the same name
        env.svc.plans.create(env.tenant, _doc("ｔｒｉａｌ push"))
    assert folded.value.details["plan_id"] == latin.plan_id
    assert len(env.svc.plans.find("unit", status=None, cursor=None, limit=10).items) == 2


def test_concurrent_creates_of_one_name_make_one_plan(env: Env) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            outcomes.append(env.svc.plans.create(env.tenant, _doc("同名计划")).plan_id)
        except ConflictError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("plan_name_taken") == 3
    assert len(env.svc.plans.find("unit", status=None, cursor=None, limit=10).items) == 1


def test_a_rename_moves_the_name_and_refuses_a_taken_one(env: Env) -> None:
    a = env.svc.plans.create(env.tenant, _doc("计划甲"))
    b = env.svc.plans.create(env.tenant, _doc("计划乙"))
    with pytest.raises(ConflictError) as taken:
        env.svc.plans.update(env.tenant, b.plan_id, {"name": "计划甲"})
    assert taken.value.code == "plan_name_taken" and taken.value.details["plan_id"] == a.plan_id
    assert env.svc.plans.get("unit", b.plan_id).name == "计划乙"
    renamed = env.svc.plans.update(env.tenant, a.plan_id, {"name": "计划丙"})
    assert renamed.name == "计划丙"
    assert env.svc.plans.update(env.tenant, b.plan_id, {"name": "计划甲"}).name == "计划甲"  # freed by the rename
    assert env.svc.plans.update(env.tenant, b.plan_id, {"steps": _doc("x", "改了")["steps"]}).name == "计划甲"


def test_an_import_under_a_taken_name_is_a_409_unless_it_asks_for_a_new_version(env: Env) -> None:
    first, _ = _import(env, name="新客7天培育")
    env.svc.plans.publish(env.tenant, first.plan_id)
    with pytest.raises(ConflictError) as taken:
        _import(env, name="新客7天培育")
    assert taken.value.code == "plan_name_taken" and taken.value.details["plan_id"] == first.plan_id
    edited = env.svc.plans.update(env.tenant, first.plan_id, {"priority": 5})  # version 2, live
    again, report = _import(env, name="新客7天培育", on_conflict="new_version")
    assert (again.plan_id, again.version, report["as_new_version_of"]) == (first.plan_id, 3, first.plan_id)
    assert edited.version == 2 and again.priority == 0  # the sheet's document replaced the plan's
    other = env.svc.plans.create(env.tenant, _doc("沉默唤醒"))
    chosen, report = _import(env, name="沉默唤醒", as_new_version_of=other.plan_id)
    assert (chosen.plan_id, chosen.version, report["as_new_version_of"]) == (other.plan_id, 1, other.plan_id)
    assert plan_to_json(chosen)["steps"] == plan_to_json(again)["steps"]  # a draft changes in place
    with pytest.raises(NotFoundError):
        _import(env, name="x", as_new_version_of="pl_nope")
    with pytest.raises(InvalidError) as bad:
        _import(env, name="x", on_conflict="overwrite")
    assert bad.value.code == "invalid" and "error, new_version" in bad.value.message
    fresh, report = _import(env, name="全新计划", on_conflict="new_version")  # no holder: a new plan
    assert fresh.plan_id not in (first.plan_id, other.plan_id) and "as_new_version_of" not in report


def test_a_plan_made_before_names_were_claimed_still_holds_its_name(env: Env) -> None:
    legacy = env.svc.plans.create(env.tenant, _doc("老计划"))
    env.store.plan_names.clear()  # as if created before claims existed: a head, no claim
    with pytest.raises(ConflictError) as taken:
        env.svc.plans.create(env.tenant, _doc("老计划"))
    assert taken.value.details["plan_id"] == legacy.plan_id
    again, report = _import(env, name="老计划", on_conflict="new_version")
    assert again.plan_id == legacy.plan_id and report["as_new_version_of"] == legacy.plan_id
    renamed = env.svc.plans.update(env.tenant, legacy.plan_id, {"name": "老计划（新）"})  # now it has a claim
    assert env.store.plan_name_owner("unit", "老计划（新）") == renamed.plan_id
    assert env.svc.plans.create(env.tenant, _doc("老计划")).name == "老计划"  # the old name is free
