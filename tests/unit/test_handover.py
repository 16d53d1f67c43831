"""客户交接 with the in-memory store and the in-process WeCom world: the request's rules, the dry run's numbers, the job
(100 customers a call, resumable without a second call for a customer), each outcome (taken over, refused, limit
exceeded) and what moves with a customer taken over (owner, open tasks without a double send)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest

from chalicelib import errors
from chalicelib.domain import handover as ho
from chalicelib.errors import InvalidError
from chalicelib.ports.handover import HandoverPort
from chalicelib.services import handover as handover_module
from chalicelib.services.handover import HandoverService, handover_of
from tests.unit.conftest import CORP, Env, make_channel

DAY = 86_400
TRANSFER = "externalcontact/transfer_customer"


def _plan(env: Env) -> Any:
    plan = env.svc.plans.create(
        env.tenant,
        {
            "name": "新客破冰",
            "trigger": {"type": "manual"},
            "steps": [
                {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "资料包发你～"}},
                {"id": "s2", "day": 2, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
            ],
        },
    )
    return env.svc.plans.publish(env.tenant, plan.plan_id)


def _customers(env: Env, n: int, *, plan: bool = False) -> list[str]:
    channel = make_channel(env, plan_id=_plan(env).plan_id) if plan else make_channel(env)
    return [env.scan(channel.state)[1].customer_id for _ in range(n)]


def _svc(env: Env) -> HandoverService:
    return handover_of(env.svc)


def _req(**kw: Any) -> ho.Request:
    return ho.request_of({"handover_userid": "zhang", "takeover_userid": "li", **kw})


def _pass_24h(env: Env) -> None:
    env.clock.advance(seconds=DAY + 1)


@pytest.mark.parametrize(
    "body",
    [
        {"takeover_userid": "li"},
        {"handover_userid": "zhang", "takeover_userid": "zhang"},
        {"handover_userid": "zhang", "takeover_userid": "li", "mode": "fired"},
        {"handover_userid": "zhang", "takeover_userid": "li", "filter": {"owner": "wang"}},
        {"handover_userid": "zhang", "takeover_userid": "li", "success_msg": "好" * 201},
        {"handover_userid": "zhang", "takeover_userid": "li", "mode": "resigned", "success_msg": "你好"},
    ],
)
def test_a_bad_request_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidError):
        ho.request_of(body)


def test_the_dry_run_counts_what_would_move_and_stores_nothing(env: Env) -> None:
    ids = _customers(env, 3, plan=True)  # each: an active enrollment, its next touch queued, one open task
    lost = ids[2]
    env.event("del_follow_user", userid="zhang", external_userid=env.store.get_customer("unit", lost).external_userid)
    preview = _svc(env).preview(env.tenant, _req())
    assert preview["customers"] == 2 and preview["skipped"] == {"lost": 1}
    assert preview["active_enrollments"] == 2 and preview["queued_touches"] == 2
    assert preview["open_tasks"] == 2 and preview["open_task_customers"] == 2
    assert preview["wecom_calls"] == 1 and preview["truncated"] is False and preview["estimated"] is False
    assert [j for j in env.store.running_jobs("unit") if j["kind"] == "handover"] == [] and env.calls(TRANSFER) == 0
    assert _svc(env).preview(env.tenant, _req(filter={"stage": "converted"}))["customers"] == 0


def test_customers_go_100_a_call_and_are_taken_over_after_24_hours(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(ho, "BATCH", 2)
    ids = _customers(env, 5)
    job = _svc(env).start(env.tenant, _req(success_msg="您好，之后由李老师为您服务"))
    calls = env.world.calls(TRANSFER)
    assert [len(c.payload["external_userid"]) for c in calls] == [2, 2, 1]
    assert calls[0].payload["transfer_success_msg"] == "您好，之后由李老师为您服务"
    assert job["status"] == "running" and job["phase"] == "follow"
    assert ho.counts(job["customers"]) == {"waiting": 5}
    assert {env.store.get_customer("unit", c).owner_userid for c in ids} == {"zhang"}  # nothing moves while waiting
    _pass_24h(env)
    assert _svc(env).continue_running(env.tenant, budget_seconds=10) == 1
    done = _svc(env).status("unit", job["job_id"])
    assert done["status"] == "done" and ho.counts(done["customers"]) == {"taken_over": 5}
    for cid in ids:
        c = env.store.get_customer("unit", cid)
        assert c.owner_userid == "li" and [r.userid for r in c.active_relations] == ["li"]
        assert [f.type for f in env.store.timeline("unit", cid, limit=20)].count("handover") == 1
    assert len(env.world.calls(TRANSFER)) == 3  # nothing called again


def test_an_open_task_moves_to_the_new_owner_without_a_double_send(env: Env) -> None:
    a, b = _customers(env, 2, plan=True)
    [task_a] = [
        t
        for t in env.store.list_tasks("unit", userid="zhang", status="created", due_from=None, due_to=None, limit=50)
        if a in t.customer_ids
    ]
    [task_b] = [
        t
        for t in env.store.list_tasks("unit", userid="zhang", status="created", due_from=None, due_to=None, limit=50)
        if b in t.customer_ids
    ]
    # zhang already sent b's message (task sync's per-customer result): b's task is left alone.
    assert env.store.save_task("unit", replace(task_b, outcomes="1"), expected_status="created")
    job = _svc(env).start(env.tenant, _req())
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    assert env.store.get_task("unit", task_a.task_id).customer_ids == ()  # the old task no longer carries a
    assert env.store.get_task("unit", task_b.task_id).customer_ids == (b,)  # b was sent to: kept, not reissued
    reissued = env.store.list_tasks("unit", userid="li", status=None, due_from=None, due_to=None, limit=50)
    assert [(t.kind, t.customer_ids, t.text, t.reason) for t in reissued] == [
        ("follow_up", (a,), task_a.text, "handover")
    ]
    # Settling again (a replayed poll) changes nothing.
    _svc(env).effects.settle(env.tenant, _svc(env).status("unit", job["job_id"]), a, ho.TAKEN_OVER)
    assert len(env.store.list_tasks("unit", userid="li", status=None, due_from=None, due_to=None, limit=50)) == 1
    # The enrollment stays active, and its next touch will go to li (the fire reads the owner then).
    assert [e.status for e in env.store.enrollments_of("unit", a)] == ["active"]


def test_a_refusal_told_twice_has_one_effect(env: Env) -> None:
    [cid] = _customers(env, 1)
    ext = env.store.get_customer("unit", cid).external_userid
    job = _svc(env).start(env.tenant, _req())
    [fields] = env.world.refuse_transfer(CORP, ext)
    assert env.deliver(fields).outcome == "noted"
    assert env.deliver(fields).outcome == "duplicate"
    after = _svc(env).status("unit", job["job_id"])
    assert after["status"] == "done" and ho.counts(after["customers"]) == {"refused": 1}
    c = env.store.get_customer("unit", cid)
    assert c.owner_userid == "zhang" and [r.userid for r in c.active_relations] == ["zhang"]
    notes = [f for f in env.store.timeline("unit", cid, limit=20) if f.type == "handover"]
    assert [f.detail["outcome"] for f in notes] == ["refused"]
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)  # nothing left to follow
    assert env.store.get_customer("unit", cid).owner_userid == "zhang"


def test_a_full_takeover_staff_member_leaves_the_customer_with_the_old_owner(env: Env) -> None:
    [cid] = _customers(env, 1)
    env.world.set_customer_limit(CORP, "li", 0)
    job = _svc(env).start(env.tenant, _req())
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)  # the poll finds status 4
    after = _svc(env).status("unit", job["job_id"])
    assert ho.counts(after["customers"]) == {"limit_exceeded": 1} and after["status"] == "done"
    assert env.store.get_customer("unit", cid).owner_userid == "zhang"
    [fields] = env.world.transfer_callbacks(CORP)  # the callback after the poll: nothing more happens
    env.deliver(fields)
    notes = [f for f in env.store.timeline("unit", cid, limit=20) if f.type == "handover"]
    assert [f.detail["outcome"] for f in notes] == ["limit_exceeded"]


def test_a_run_that_dies_after_the_call_resumes_without_calling_again(env: Env, monkeypatch: Any) -> None:
    ids = _customers(env, 3)
    real = cast(HandoverPort, env.svc.wecom).transfer_customers

    def answer_lost(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # WeCom took the call...
        raise errors.WeComTransportError("connection reset")  # ...and its answer never came back

    monkeypatch.setattr(env.svc.wecom, "transfer_customers", answer_lost)
    job = _svc(env).start(env.tenant, _req())
    assert ho.counts(job["customers"]) == {"calling": 3}
    monkeypatch.undo()
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    resumed = _svc(env).status("unit", job["job_id"])
    assert ho.counts(resumed["customers"]) == {"waiting": 3}
    assert len(env.world.calls(TRANSFER)) == 1  # asked transfer_result, not WeCom to hand them over again
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    assert {env.store.get_customer("unit", c).owner_userid for c in ids} == {"li"}


def test_a_rate_limited_call_is_made_again_later(env: Env) -> None:
    _customers(env, 2)
    env.world.inject(TRANSFER, 45009)
    job = _svc(env).start(env.tenant, _req())
    assert ho.counts(job["customers"]) == {"calling": 2}
    _svc(env).continue_running(env.tenant, budget_seconds=10)  # WeCom holds none of them: called again
    assert ho.counts(_svc(env).status("unit", job["job_id"])["customers"]) == {"waiting": 2}
    assert [c.errcode for c in env.world.calls(TRANSFER)] == [45009, 0]


def test_a_customer_wecom_refuses_is_rejected_with_its_errcode(env: Env) -> None:
    [a, b] = _customers(env, 2)
    ext = env.store.get_customer("unit", a).external_userid
    env.world.event(CORP, "del_external_contact", userid="zhang", external_userid=ext)  # gone in WeCom, not in Siyu
    job = _svc(env).start(env.tenant, _req())
    assert job["customers"][a] == {"state": "rejected", "errcode": 84061}
    assert job["customers"][b]["state"] == "waiting"


def test_a_resigned_staff_members_customers_are_handed_over(env: Env) -> None:
    ids = _customers(env, 2)
    env.world.resign(CORP, "zhang")
    preview = _svc(env).preview(env.tenant, _req(mode="resigned"))
    assert preview["customers"] == 2 and preview["unassigned_in_wecom"] == 2
    job = _svc(env).start(env.tenant, _req(mode="resigned"))
    assert len(env.world.calls("externalcontact/resigned/transfer_customer")) == 1
    assert env.world.calls(TRANSFER) == []
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    assert ho.counts(_svc(env).status("unit", job["job_id"])["customers"]) == {"taken_over": 2}
    assert {env.store.get_customer("unit", c).owner_userid for c in ids} == {"li"}


def test_polls_are_bounded(env: Env) -> None:
    _customers(env, 1)
    _svc(env).start(env.tenant, _req())
    results = "externalcontact/transfer_result"
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    polled = env.calls(results)
    _svc(env).continue_running(env.tenant, budget_seconds=10)  # within POLL_SECONDS: not asked again
    assert env.calls(results) == polled
    env.clock.advance(seconds=handover_module.POLL_SECONDS)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    assert env.calls(results) == polled + 1


def test_a_customer_erased_during_a_hand_over_leaves_nothing_personal_in_the_job(env: Env) -> None:
    a, b = _customers(env, 2)
    ext = env.store.get_customer("unit", a).external_userid
    job = _svc(env).start(env.tenant, _req())
    assert ext not in str(job)  # the job keeps customer ids only
    env.svc.customers.erase(env.tenant, a)
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    done = _svc(env).status("unit", job["job_id"])
    assert done["customers"][a] == {"state": "skipped", "reason": "erased"}
    assert done["customers"][b]["state"] == "taken_over" and done["status"] == "done"
    assert env.store.get_customer("unit", a) is None


def test_the_jobs_page_shows_a_hand_over_with_its_counts(env: Env) -> None:
    from chalicelib.domain.jobs import HANDOVER, handover_view, kind_of

    _customers(env, 2)
    job = _svc(env).start(env.tenant, _req())
    assert kind_of(job["job_id"]) == HANDOVER
    view = handover_view(job)
    assert view.title == "客户交接 · zhang → li" and view.running and view.percent == 0
    counts = {c.label: c.value for c in view.counts}
    assert counts["已选客户"] == 2 and counts["等待接替（24 小时）"] == 2 and counts["接替完毕"] == 0
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    done = handover_view(_svc(env).status("unit", job["job_id"]))
    assert done.percent == 100 and {c.label: c.value for c in done.counts}["接替完毕"] == 2


def test_erasure_takes_the_customer_out_of_the_task_reissued_to_the_new_owner(env: Env) -> None:
    [cid] = _customers(env, 1, plan=True)
    job = _svc(env).start(env.tenant, _req())
    _pass_24h(env)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    [reissued] = env.store.list_tasks("unit", userid="li", status=None, due_from=None, due_to=None, limit=50)
    [entry] = [f for f in env.store.timeline("unit", cid, limit=20) if f.type == "handover"]
    assert [ho.reissued_task_id(job["job_id"], t, cid) for t in entry.detail["tasks"]] == [reissued.task_id]
    env.svc.customers.erase(env.tenant, cid)
    left = env.store.get_task("unit", reissued.task_id)
    assert left is None or cid not in left.customer_ids


def test_the_old_relations_end_by_transfer_is_neither_a_deletion_nor_a_loss(env: Env) -> None:
    [cid] = _customers(env, 1)
    heard: list[str] = []
    env.svc.signals.subscribe(("lost",), "test", lambda t, c, s: heard.append(str(s.kind)))
    _svc(env).start(env.tenant, _req())
    _pass_24h(env)
    [told] = env.world.transfer_callbacks(CORP)
    assert env.deliver(told).outcome == "transferred"
    assert env.deliver(told).outcome == "duplicate"
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    c = env.store.get_customer("unit", cid)
    assert c.owner_userid == "li" and c.stage.value == "new" and heard == []
    day = env.clock.now().astimezone(env.tenant.zone).date().isoformat()
    assert "n_deleted" not in env.counters("zhang", day)


def test_following_is_bounded_a_hand_over_wecom_never_settles_expires(env: Env) -> None:
    [cid] = _customers(env, 1)
    job = _svc(env).start(env.tenant, _req())
    env.world.corps[CORP].transfers[0].started_at = float("inf")  # WeCom never completes it
    env.clock.advance(days=ho.FOLLOW_DAYS, seconds=1)
    _svc(env).continue_running(env.tenant, budget_seconds=10)
    done = _svc(env).status("unit", job["job_id"])
    assert done["status"] == "done" and done["customers"][cid]["state"] == "expired"
    assert env.store.get_customer("unit", cid).owner_userid == "zhang"


def test_a_large_dry_run_estimates_enrollments_from_the_first_customers(env: Env, monkeypatch: Any) -> None:
    monkeypatch.setattr(handover_module, "PREVIEW_ENROLLMENT_READS", 2)
    _customers(env, 4, plan=True)
    preview = _svc(env).preview(env.tenant, _req())
    assert preview["customers"] == 4 and preview["estimated"] is True and preview["active_enrollments"] == 4
