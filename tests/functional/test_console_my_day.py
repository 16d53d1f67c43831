"""「我的今天」 through the real app: a staff member's tasks, follow-ups and hot leads; confirming a task with a
screenshot (kept in the blob store, shown to its owner and ops only); snoozing; and nobody else's tasks."""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import TENANT, Api
from tests.functional.console_client import ConsoleClient, signed_in
from tests.functional.test_staff_alerts import customer, reply, setup_tenant

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def follow_up(api: Api) -> tuple[str, str, str]:
    """zhang's customer replies positively: a follow-up task and a hot lead. Returns (admin token, cid, task id)."""
    token, secret = setup_tenant(api)
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "li", "name": "李老师"}, token).status_code == 201
    cid, _ = customer(api, token)
    reply(api, secret, cid)
    [task] = api.call("GET", f"/t/{TENANT}/tasks?userid=zhang", token=token).json["items"]
    assert task["kind"] == "follow_up"
    return token, cid, str(task["task_id"])


def image(client: ConsoleClient, path: str) -> Any:
    """GET an image as a browser's <img> or a tap on its link does (an Accept header that takes images)."""
    return client._send("GET", path, b"", {"Accept": "image/avif,image/webp,image/png,*/*;q=0.8"})


def rows(client: ConsoleClient, resp: Any, section: str) -> list[str]:
    dom = client.dom(resp)
    heading = dom.one("h2", id=section)
    assert heading.parent is not None
    return [li.text() for li in heading.parent.all("li")]


def test_my_day_shows_the_follow_up_and_the_hot_lead_and_a_confirmed_task_as_done(api: Api) -> None:
    _, cid, task_id = follow_up(api)
    zhang = signed_in(api, "staff", "zhang")
    day = zhang.get(f"/console/{TENANT}/my")
    assert day.status_code == 200
    [row] = rows(zhang, day, "h-follow")
    assert "一对一跟进 · 李妈妈" in row and "客户积极回复" in row and "待发送" in row
    [hot] = rows(zhang, day, "h-hot")
    assert "李妈妈" in hot and "热" in hot
    link = zhang.dom(day).one("a", href=f"/console/{TENANT}/customers/{cid}")
    assert link.text() == "李妈妈"

    page = zhang.get(f"/console/{TENANT}/my/tasks/{task_id}")
    assert page.status_code == 200
    dom = zhang.dom(page)
    [label] = [node for node in dom.all("label") if node.attrs.get("for") == "f-proof"]
    assert label.text().startswith("发送截图")
    assert dom.one("span", id="task-status").text() == "待发送"

    missing = zhang.post(f"/console/{TENANT}/my/tasks/{task_id}/confirm", {})
    assert missing.status_code == 400 and "截图" in zhang.dom(missing).one("small", id="proof-error").text()
    text = zhang.post(
        f"/console/{TENANT}/my/tasks/{task_id}/confirm", {}, files={"proof": ("p.png", "image/png", b"not an image")}
    )
    assert text.status_code == 400 and "PNG" in zhang.dom(text).one("small", id="proof-error").text()
    done = zhang.post(f"/console/{TENANT}/my/tasks/{task_id}/confirm", {}, files={"proof": ("s.png", "image/png", PNG)})
    assert done.status_code == 303
    after = zhang.get(zhang.local(done.headers["Location"]))
    dom = zhang.dom(after)
    assert dom.one("span", id="task-status").text() == "已完成"
    assert "已确认：任务已标记完成" in dom.one("p", class_="flash").text()
    assert dom.all("input", name="proof") == []  # nothing left to confirm
    proof_link = dom.one("a", href=f"/console/{TENANT}/tasks/{task_id}/proof")
    shown = image(zhang, proof_link.attrs["href"])
    assert shown.status_code == 200 and shown.body == PNG and shown.headers["Content-Type"] == "image/png"
    [row] = rows(zhang, zhang.get(f"/console/{TENANT}/my"), "h-follow")
    assert "已完成" in row
    task = api.call("GET", f"/t/{TENANT}/tasks/{task_id}", token=api.token(TENANT, "ops")).json
    assert task["status"] == "confirmed" and task["proof_url"] == f"/console/{TENANT}/tasks/{task_id}/proof"


def test_another_staff_member_cannot_open_confirm_or_see_the_proof_of_a_task(api: Api) -> None:
    _, _, task_id = follow_up(api)
    zhang = signed_in(api, "staff", "zhang")
    zhang.post(f"/console/{TENANT}/my/tasks/{task_id}/confirm", {}, files={"proof": ("s.png", "image/png", PNG)})
    li = signed_in(api, "staff", "li")
    assert li.get(f"/console/{TENANT}/my/tasks/{task_id}").status_code == 404
    assert image(li, f"/console/{TENANT}/tasks/{task_id}/proof").status_code == 404
    refused = li.post(f"/console/{TENANT}/my/tasks/{task_id}/confirm", {}, files={"proof": ("x.png", "image/png", PNG)})
    assert refused.status_code == 404
    assert rows(li, li.get(f"/console/{TENANT}/my"), "h-follow") == []
    assert rows(li, li.get(f"/console/{TENANT}/my"), "h-hot") == []
    no_csrf = zhang.post(f"/console/{TENANT}/my/tasks/{task_id}/snooze", {"minutes": "60"}, csrf=False)
    assert no_csrf.status_code == 403
    ops = signed_in(api, "ops")
    assert image(ops, f"/console/{TENANT}/tasks/{task_id}/proof").body == PNG
    assert ops.dom(ops.get(f"/console/{TENANT}/my")).one("select", name="userid") is not None
    [row] = rows(ops, ops.get(f"/console/{TENANT}/my?userid=zhang"), "h-follow")
    assert "已完成" in row


def test_snooze_moves_the_task_and_a_bad_choice_is_refused(api: Api) -> None:
    token, _, task_id = follow_up(api)
    zhang = signed_in(api, "staff", "zhang")
    bad = zhang.post(f"/console/{TENANT}/my/tasks/{task_id}/snooze", {"minutes": "0"})
    assert bad.status_code == 400 and zhang.dom(bad).one("small", id="minutes-error").text()
    moved = zhang.post(f"/console/{TENANT}/my/tasks/{task_id}/snooze", {"minutes": "60"})
    assert moved.status_code == 303 and moved.headers["Location"].endswith(f"/console/{TENANT}/my")
    task = api.call("GET", f"/t/{TENANT}/tasks/{task_id}", token=token).json
    assert task["snoozed_until"] == "2026-12-01T11:00:05+08:00" == task["due_at"]  # the clock's 10:00:05 + 60
