"""A sheet uploaded in the console (PlanService.upload): the plan, or the sheet's rows with each problem next to
its row, the form's problems by field, and nothing stored."""

from __future__ import annotations

from chalicelib.domain.plan_diff import ADDED, CHANGED
from tests.unit.conftest import Env

GOOD = "天数,时间,内容类型,内容,执行人\n0,20:00,服务,你好,owner\n1,09:00,互动,每日一练,zhang\n"
BAD = "SOP 新客\n天数,时间,内容类型,内容,执行人\n0,20:00,服务,你好,owner\n\n1,25:00,宣传,每日一练,nobody\n"


def _upload(env: Env, text: str, **params: str) -> object:
    return env.svc.plans.upload(env.tenant, text.encode(), "text/csv", {"name": "新客7天培育", **params})


def test_a_good_sheet_makes_a_draft(env: Env) -> None:
    result = env.svc.plans.upload(env.tenant, GOOD.encode(), "text/csv", {"name": "新客7天培育"})
    assert result.plan is not None and result.plan.version == 1 and len(result.plan.steps) == 2
    assert result.report is not None and result.report["steps"] == 2 and not result.rows


def test_a_bad_row_is_shown_with_its_problems_and_nothing_is_stored(env: Env) -> None:
    result = env.svc.plans.upload(env.tenant, BAD.encode(), "text/csv", {"name": "新客7天培育"})
    assert result.plan is None and result.header_row == 2
    assert result.header == ("天数", "时间", "内容类型", "内容", "执行人")
    assert [(r.number, r.cells[:2]) for r in result.rows] == [(3, ("0", "20:00")), (5, ("1", "25:00"))]
    good, bad = result.rows
    assert not good.problems and result.bad_rows == 1
    assert {p.column for p in bad.problems} == {"时间", "内容类型", "执行人"}
    assert env.svc.plans.find("unit", status=None, cursor=None, limit=10).items == []


def test_form_problems_go_to_their_fields_and_a_taken_name_names_its_holder(env: Env) -> None:
    missing = env.svc.plans.upload(env.tenant, GOOD.encode(), "text/csv", {"priority": "high"})
    assert set(missing.fields) == {"name", "priority"} and missing.plan is None
    first = env.svc.plans.upload(env.tenant, GOOD.encode(), "text/csv", {"name": "新客7天培育"})
    taken = env.svc.plans.upload(env.tenant, GOOD.encode(), "text/csv", {"name": "新客7天培育"})
    assert first.plan is not None and taken.holder == first.plan.plan_id and "name" in taken.fields
    assert [r.number for r in taken.rows] == [2, 3]  # the sheet is shown back, without problems


def test_an_unreadable_upload_is_one_problem(env: Env) -> None:
    wrong = env.svc.plans.upload(env.tenant, b"%PDF-1.4", "application/pdf", {"name": "x"})
    headless = env.svc.plans.upload(env.tenant, b"a,b\n1,2\n", "text/csv", {"name": "x"})
    assert wrong.problems and not wrong.rows
    assert headless.plan is None and "no header row" in headless.rows[0].problems[0].message


def test_the_diff_between_two_versions_of_a_plan(env: Env) -> None:
    plan = env.svc.plans.upload(env.tenant, GOOD.encode(), "text/csv", {"name": "新客7天培育"}).plan
    assert plan is not None
    env.svc.plans.publish(env.tenant, plan.plan_id)
    edited = GOOD.replace("每日一练", "每日一练·Day1") + "2,20:00,营销,9.9元体验,owner\n"
    env.svc.plans.upload(env.tenant, edited.encode(), "text/csv", {"name": "x", "as_new_version_of": plan.plan_id})
    diff = env.svc.plans.diff("unit", plan.plan_id, 1)
    assert (diff.from_version, diff.to_version) == (1, 2)
    assert [(s.step_id, s.change) for s in diff.steps] == [("s2", CHANGED), ("s3", ADDED)]
    assert diff.plan_fields[0].field == "name"
