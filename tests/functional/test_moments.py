"""Moments (朋友圈) steps through the real app and the sandbox (issue 14 §4): a plan's Moments step fires into the
step's tag and one add_moment_task per owner, tracked as the owner's 发表朋友圈 task; the staff member publishes on
the sandbox phone and task sync records the task published with the customers it reached. A fire twice makes one
post; a bad Moments step is a 400 that stores nothing."""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.console_client import signed_in
from tests.functional.test_sop_answers import run_job, setup_plan

MOMENT_STEP = {
    "id": "m1",
    "kind": "moment",
    "after_minutes": 60,
    "content_type": "content",
    "title": "开学季朋友圈",
    "message": {"text": "秋季班开课啦，欢迎试听～"},
}


def moment_plan(api: Api, token: str, step: dict[str, Any] | None = None) -> Any:
    body = {"name": "朋友圈种草", "trigger": {"type": "manual"}, "steps": [step or MOMENT_STEP]}
    return api.call("POST", f"/t/{TENANT}/plans", body, token)


def test_a_moment_step_fires_is_published_on_the_phone_and_synced_as_reached(api: Api) -> None:
    token, _, state = setup_plan(api)
    made = moment_plan(api, token)
    assert made.status_code == 201, made.body
    plan_id = made.json["plan_id"]
    assert made.json["steps"][0]["kind"] == "moment"
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    customers = [api.scan(state)[1].json["customer_id"] for _ in range(2)]
    for cid in customers:
        enrolled = api.call("POST", f"/t/{TENANT}/plans/{plan_id}/enrollments", {"customer_id": cid}, token)
        assert enrolled.status_code == 201, enrolled.body
    api.clock.advance(minutes=61)
    assert run_job(api, "backstop")["buckets_fired"] == 1  # one fire for both customers
    run_job(api, "backstop")  # the fire's retry (or a twin): nothing more
    world = api.sandbox.world
    posts = world.calls("externalcontact/add_moment_task")
    assert len(posts) == 1 and posts[0].payload["visible_range"]["sender_list"]["user_list"] == ["zhang"]
    assert world.calls("externalcontact/add_msg_template") == []
    [task] = [t for t in api.call("GET", f"/t/{TENANT}/tasks", token=token).json["items"] if t["kind"] == "moment"]
    assert task["status"] == "created" and sorted(task["customer_ids"]) == sorted(customers)
    assert task["text"] == "秋季班开课啦，欢迎试听～"
    zhang = signed_in(api, "staff", "zhang")
    day = zhang.get(f"/console/{TENANT}/my").body.decode()
    assert "发表朋友圈 · 2 位客户" in day
    page = zhang.dom(zhang.get(f"/console/{TENANT}/my/tasks/{task['task_id']}"))
    assert page.one("pre", id="task-text").text() == "秋季班开课啦，欢迎试听～"
    assert "客户朋友圈" in page.one("p", id="moment-howto").text()
    assert "未发表" in page.one("p", id="moment-results").text()
    ops = signed_in(api, "ops")
    assert "朋友圈" in ops.dom(ops.get(f"/console/{TENANT}/plans/{plan_id}")).one("td", data_key="type").text()
    api.clock.advance(seconds=10)
    run_job(api, "task_sync")  # the job is done: the task names the post; zhang has not published (未发表)
    waiting = api.call("GET", f"/t/{TENANT}/tasks/{task['task_id']}", token=token).json
    assert waiting["status"] == "created" and waiting["msgid"].startswith("mo:")
    [pending] = world.pending_moments(CORP, "zhang")
    assert pending["visible"] == 2
    world.publish_moment(CORP, pending["moment_id"], "zhang")  # 张老师 publishes on the phone
    api.clock.advance(minutes=1)
    run_job(api, "task_sync")
    synced = api.call("GET", f"/t/{TENANT}/tasks/{task['task_id']}", token=token).json
    assert synced["status"] == "sent" and synced["results"]["sent"] == 2
    assert synced["outcomes"] == dict.fromkeys(customers, "sent")
    page = zhang.dom(zhang.get(f"/console/{TENANT}/my/tasks/{task['task_id']}"))
    assert "已发表" in page.one("p", id="moment-results").text() and "送达 2 位客户" in page.text()


def test_a_bad_moment_step_is_refused_and_nothing_is_stored(api: Api) -> None:
    token, _, _ = setup_plan(api)
    before = api.call("GET", f"/t/{TENANT}/plans", token=token).json["items"]
    for bad in (
        {**MOMENT_STEP, "kind": "story"},
        {**MOMENT_STEP, "message": {"text": "字" * 2001}},
        {**MOMENT_STEP, "message": {"text": "x", "attachments": [{"msgtype": "file", "file": {"media_id": "m"}}]}},
    ):
        resp = moment_plan(api, token, bad)
        assert resp.status_code == 400, (bad, resp.body)
        assert resp.json["error"]["code"] and resp.json["error"]["message"]
    assert api.call("GET", f"/t/{TENANT}/plans", token=token).json["items"] == before
