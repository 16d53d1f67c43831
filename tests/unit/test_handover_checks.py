"""客户交接's input checks and what a reissued task carries: both staff members must be staff a hand-over can name
(离职继承 also takes a member Siyu no longer lists whom WeCom holds customers for); the new owner's reissued task
carries the old task's whole message; a Moments task (朋友圈) is never reissued as a 1:1 text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain import handover as ho
from chalicelib.domain.jobs import handover_view
from chalicelib.domain.sop import CUSTOMER, StaffTask
from chalicelib.domain.staff import Staff
from chalicelib.errors import InvalidError
from chalicelib.services.handover import HandoverService, handover_of
from tests.unit.conftest import CORP, Env, make_channel

DAY = 86_400
TRANSFER = "externalcontact/transfer_customer"
UNASSIGNED = "externalcontact/get_unassigned_list"


def _svc(env: Env) -> HandoverService:
    return handover_of(env.svc)


def _req(**kw: Any) -> ho.Request:
    return ho.request_of({"handover_userid": "zhang", "takeover_userid": "li", **kw})


def _handover_jobs(env: Env) -> list[dict[str, Any]]:
    return [j for j in env.store.running_jobs("unit") if j["kind"] == ho.HANDOVER]


def _customer_with_plan(env: Env) -> str:
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "新客破冰",
            "trigger": {"type": "manual"},
            "steps": [
                {
                    "id": "s1",
                    "after_minutes": 0,
                    "content_type": "service",
                    "message": {"text": "资料包发你～"},
                    "notes": "先问候，再发资料包",
                },
                {"id": "s2", "day": 2, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
            ],
        },
    )
    published = env.svc.plans.publish(env.tenant, plan.plan_id)
    channel = make_channel(env, plan_id=published.plan_id)
    return str(env.scan(channel.state)[1].customer_id)


def _zhangs_tasks(env: Env, cid: str) -> list[StaffTask]:
    rows = env.store.list_tasks("unit", userid="zhang", status=None, due_from=None, due_to=None, limit=50)
    return [t for t in rows if cid in t.customer_ids]


def _lis_tasks(env: Env) -> list[StaffTask]:
    return env.store.list_tasks("unit", userid="li", status=None, due_from=None, due_to=None, limit=50)


def _take_over(env: Env) -> dict[str, Any]:
    job = _svc(env).start(env.tenant, _req())
    env.clock.advance(seconds=DAY + 1)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    return _svc(env).status("unit", job["job_id"])


# --- who may be named ---------------------------------------------------------------------------------------------


def _staff(userid: str, *, active: bool = True) -> Staff:
    return Staff(userid=userid, name="老师", active=active)


@pytest.mark.parametrize(
    ("mode", "handover", "takeover", "held", "field"),
    [
        (ho.TRANSFER, None, _staff("li"), False, "handover_userid"),
        (ho.TRANSFER, None, _staff("li"), True, "handover_userid"),  # WeCom's list counts for 离职继承 only
        (ho.RESIGNED, None, _staff("li"), False, "handover_userid"),
        (ho.TRANSFER, _staff("zhang"), None, False, "takeover_userid"),
        (ho.TRANSFER, _staff("zhang"), _staff("li", active=False), False, "takeover_userid"),
        (ho.RESIGNED, _staff("zhang"), _staff("li", active=False), False, "takeover_userid"),
    ],
)
def test_staff_a_hand_over_cannot_name_are_refused_naming_the_field(
    mode: str, handover: Staff | None, takeover: Staff | None, held: bool, field: str
) -> None:
    with pytest.raises(InvalidError) as refused:
        ho.check_staff(_req(mode=mode), handover, takeover, held_by_wecom=held)
    assert refused.value.code == "invalid" and refused.value.status == 400
    assert field in refused.value.message


@pytest.mark.parametrize(
    ("mode", "handover", "held"),
    [
        (ho.TRANSFER, _staff("zhang"), False),
        (ho.TRANSFER, _staff("zhang", active=False), False),  # paused in Siyu, still employed: may hand over
        (ho.RESIGNED, _staff("zhang", active=False), False),
        (ho.RESIGNED, None, True),  # removed from Siyu, on WeCom's unassigned list
    ],
)
def test_staff_a_hand_over_can_name_pass(mode: str, handover: Staff | None, held: bool) -> None:
    ho.check_staff(_req(mode=mode), handover, _staff("li"), held_by_wecom=held)


def test_the_same_staff_member_on_both_sides_is_invalid() -> None:
    with pytest.raises(InvalidError) as refused:
        ho.request_of({"handover_userid": "zhang", "takeover_userid": "zhang"})
    assert refused.value.code == "invalid" and "takeover_userid" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"handover_userid": "ghost", "takeover_userid": "li"},
        {"handover_userid": "zhang", "takeover_userid": "ghost"},
        {"handover_userid": "ghost", "takeover_userid": "li", "mode": "resigned"},
        {"handover_userid": "zhang", "takeover_userid": "wang"},  # wang is paused: takes no customers
    ],
)
def test_start_and_preview_refuse_unknown_staff_and_store_nothing(env: Env, body: dict[str, Any]) -> None:
    env.svc.staff.update("unit", "wang", {"active": False})
    make_channel(env)
    req = ho.request_of(body)
    for run in (_svc(env).preview, _svc(env).start):
        with pytest.raises(InvalidError) as refused:
            run(env.tenant, req)
        assert refused.value.code == "invalid"
    assert _handover_jobs(env) == [] and env.calls(TRANSFER) == 0
    assert env.calls("externalcontact/resigned/transfer_customer") == 0
    if body.get("mode") != "resigned":
        assert env.calls(UNASSIGNED) == 0  # WeCom is asked only about a resigned member Siyu does not list


def test_a_resigned_member_siyu_no_longer_lists_is_handed_over_when_wecom_holds_their_customers(env: Env) -> None:
    channel = make_channel(env)
    ids = [env.scan(channel.state)[1].customer_id for _ in range(2)]
    env.world.resign(CORP, "zhang")
    env.svc.staff.delete("unit", "zhang")  # the admin removed the member who left
    assert _svc(env).preview(env.tenant, _req(mode="resigned"))["unassigned_in_wecom"] == 2
    job = _svc(env).start(env.tenant, _req(mode="resigned"))
    assert ho.counts(job["customers"]) == {"waiting": 2}
    env.clock.advance(seconds=DAY + 1)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    assert {env.store.get_customer("unit", c).owner_userid for c in ids} == {"li"}


# --- what a reissued task carries -----------------------------------------------------------------------------


def test_the_reissued_task_carries_the_old_tasks_whole_message(env: Env) -> None:
    cid = _customer_with_plan(env)
    [old] = _zhangs_tasks(env, cid)
    assert old.notes and old.plan_id and old.step_id  # the step's notes (话术), plan and step (its attachments)
    _take_over(env)
    [new] = _lis_tasks(env)
    assert (new.kind, new.customer_ids, new.reason) == ("follow_up", (cid,), "handover")
    message = ("text", "notes", "plan_id", "step_id", "bucket_id")
    assert {k: getattr(new, k) for k in message} == {k: getattr(old, k) for k in message}


def test_a_moments_task_is_not_reissued_and_the_timeline_and_job_say_so(env: Env) -> None:
    cid = _customer_with_plan(env)
    [mass] = _zhangs_tasks(env, cid)
    moment = replace(
        mass,
        task_id="tk_moment",
        kind=ho.MOMENT,
        text="本周课堂精彩瞬间",
        recipients=(cid,),
        recipient_kind=CUSTOMER,
        msgid=None,
        outcomes="",
    )
    assert env.store.create_task("unit", moment)
    preview = _svc(env).preview(env.tenant, _req())
    assert preview["open_tasks"] == 2 and preview["moment_tasks_not_reissued"] == 1
    job = _take_over(env)
    [new] = _lis_tasks(env)  # the mass task only: no 1:1 text for the Moments post
    assert new.text == mass.text
    kept = env.store.get_task("unit", "tk_moment")
    assert kept.customer_ids == (cid,) and kept.userid == "zhang"  # left as it was
    [entry] = [f for f in env.store.timeline("unit", cid, limit=20) if f.type == "handover"]
    assert entry.detail["moments_not_reissued"] == ["tk_moment"] and entry.detail["tasks"] == [mass.task_id]
    assert job["customers"][cid] == {"state": ho.TAKEN_OVER, "moments_kept": 1}
    public = ho.public_job(job)
    assert public["moment_tasks_not_reissued"] == 1
    assert public["customers"][0]["moment_tasks_not_reissued"] == 1
    assert {c.label: c.value for c in handover_view(job).counts}["朋友圈任务未转交"] == 1  # on 任务进度
    # A replayed settle changes nothing.
    _svc(env).effects.settle(env.tenant, job, cid, ho.TAKEN_OVER)
    assert len(_lis_tasks(env)) == 1 and env.store.get_task("unit", "tk_moment").customer_ids == (cid,)
