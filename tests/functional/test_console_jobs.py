"""The console's jobs (issue 13 §2): a bulk enrollment started from the console (plan + filter) lands on its progress
page, whose JSON the page's script polls; the backstop finishes it and the bar fills. A group sync starts from the
console too. The overview shows today's numbers, and /dashboard opens the dashboard through a fresh short link."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.services import bulk as bulk_module
from chalicelib.services import rebuild_jobs as rebuild_module
from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.console_client import signed_in
from tests.functional.test_sop_answers import run_job

BASE = f"/console/{TENANT}"


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """A published manual plan, and three customers from one channel and one from another."""
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token).status_code == 201
    steps = [{"id": "s1", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}}]
    plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "沉默唤醒", "trigger": {"type": "manual"}, "steps": steps},
                    token)  # fmt: skip
    assert plan.status_code == 201, plan.body
    plan_id = plan.json["plan_id"]
    assert api.call("POST", f"/t/{TENANT}/plans/{plan_id}/publish", {}, token).status_code == 200
    channels = {}
    for name in ("抖音", "B站"):
        body = {"name": name, "source": "douyin", "staff": {"userids": ["zhang"]}, "welcome": {"text": "您好"}}
        channels[name] = api.call("POST", f"/t/{TENANT}/channels", body, token).json
    wanted = [api.scan(channels["抖音"]["state"])[1].json["customer_id"] for _ in range(3)]
    other = api.scan(channels["B站"]["state"])[1].json["customer_id"]
    return {"token": token, "plan_id": plan_id, "channel": channels["抖音"]["channel_id"], "wanted": wanted,
            "other": other}  # fmt: skip


def _poll(client: Any, url: str) -> dict[str, Any]:
    resp = client.get(f"{url}.json")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(resp.body)
    return body


def test_a_bulk_enrollment_started_from_the_console_shows_its_progress_until_done(
    api: Api, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_module, "SLICE_SECONDS", 0.0)  # the start only records the job: it is seen running
    ops = signed_in(api)
    board = ops.dom(ops.get(f"{BASE}/jobs?channel={world['channel']}"))
    options = [o.attrs.get("value") for o in board.one("select", name="plan_id").all("option")]
    assert world["plan_id"] in options
    channel = board.one("select", name="channel")  # the customer list's filter kept
    assert [o.attrs["value"] for o in channel.all("option") if "selected" in o.attrs] == [world["channel"]]
    started = ops.post(f"{BASE}/jobs/bulk", {"plan_id": world["plan_id"], "channel": world["channel"]})
    assert started.status_code == 303
    url = ops.local(started.headers["Location"])
    assert url.startswith(f"{BASE}/jobs/bj_")
    running = ops.get(url)
    page = ops.dom(running)
    bar = page.one("progress", id="job-bar")
    assert "value" not in bar.attrs  # no total known yet: an indeterminate bar
    assert page.one("div", class_="job-progress").attrs["data-poll"] == f"{url}.json"
    assert page.one("meta", http_equiv="refresh").attrs["content"] == "3"  # without JavaScript: the page refreshes
    assert any(a.attrs.get("href") == url and a.text() == "刷新" for a in page.all("a"))
    assert "已开始批量入组" in page.one("p", class_="flash").text()
    polled = _poll(ops, url)
    assert polled["running"] is True and polled["finished"] is False and polled["percent"] is None
    listed = ops.dom(ops.get(f"{BASE}/jobs"))
    assert any(a.attrs.get("href") == url for a in listed.all("a"))
    run_job(api, "backstop")  # the backstop carries running jobs on
    done = _poll(ops, url)
    assert done["finished"] is True and (done["total"], done["done"]) == (100, 100)
    assert {c["label"]: c["value"] for c in done["counts"]}["已入组"] == 3
    assert "已入组 3" in done["text"] and done["text"].startswith("已完成 · 已扫描客户")
    logged = ops.dom(ops.get(f"{BASE}/jobs"))  # a finished job stays in the log, marked done
    row = next(tr for tr in logged.all("tr") if any(a.attrs.get("href") == url for a in tr.all("a")))
    assert "已完成" in row.text() and row.one("progress").attrs["value"] == "100"
    finished = ops.dom(ops.get(url))
    assert finished.one("progress", id="job-bar").attrs["value"] == "100"
    assert not finished.all("meta", http_equiv="refresh")
    for cid in world["wanted"]:
        enrolled = api.call("GET", f"/t/{TENANT}/customers/{cid}/enrollments", token=world["token"]).json["items"]
        assert [e["plan_id"] for e in enrolled] == [world["plan_id"]]
    assert (
        api.call("GET", f"/t/{TENANT}/customers/{world['other']}/enrollments", token=world["token"]).json["items"] == []
    )


def test_a_bulk_form_without_a_plan_is_shown_again_with_the_error(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    again = ops.post(f"{BASE}/jobs/bulk", {"plan_id": "", "channel": world["channel"]})
    assert again.status_code == 400
    dom = ops.dom(again)
    assert "请选择计划" in dom.one("small", id="plan_id-error").text()
    kept = dom.one("select", name="channel")
    assert [o.attrs["value"] for o in kept.all("option") if "selected" in o.attrs] == [world["channel"]]
    bad_day = ops.post(f"{BASE}/jobs/bulk", {"plan_id": world["plan_id"], "added_to": "31/12"})
    assert bad_day.status_code == 400 and ops.dom(bad_day).one("small", id="added_to-error")
    assert ops.post(f"{BASE}/jobs/bulk", {"plan_id": world["plan_id"]}, csrf=False).status_code == 403
    assert ops.get(f"{BASE}/jobs/bj_nothing").status_code == 404
    assert ops.get(f"{BASE}/jobs/zz_nothing.json").status_code == 404
    staff = signed_in(api, role="staff", userid="zhang")
    assert staff.post(f"{BASE}/jobs/bulk", {"plan_id": world["plan_id"]}).status_code == 403
    for cid in world["wanted"]:  # nothing was started by any of these
        assert api.call("GET", f"/t/{TENANT}/customers/{cid}/enrollments", token=world["token"]).json["items"] == []


def test_a_group_sync_started_from_the_console_imports_the_groups(api: Api, world: dict[str, Any]) -> None:
    for n in range(3):
        api.sandbox.world.seed_group(CORP, owner="zhang", name=f"考研数学·3期·{n}", members=[f"wm{n}a", f"wm{n}b"])
    ops = signed_in(api)
    started = ops.post(f"{BASE}/jobs/group-sync", {})
    assert started.status_code == 303
    url = ops.local(started.headers["Location"])
    assert url.startswith(f"{BASE}/jobs/gs_")
    progress = _poll(ops, url)
    assert progress["finished"] is True and progress["percent"] == 100
    assert {c["label"]: c["value"] for c in progress["counts"]}["已读取社群"] == 3
    groups = api.call("GET", f"/t/{TENANT}/groups", token=world["token"]).json["items"]
    assert len(groups) == 3
    listed = ops.dom(ops.get(f"{BASE}/jobs"))
    assert any(a.attrs.get("href") == url for a in listed.all("a"))


def test_the_overview_shows_todays_numbers_and_the_dashboard_link_opens_it(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    home = ops.dom(ops.get(BASE))
    figures = {li.one("span").text(): li.one("strong").text() for li in home.one("ul", class_="figures").all("li")}
    assert figures["新客户"] == "4"  # the four scans of the fixture, today
    assert any(a.attrs.get("href") == f"{BASE}/dashboard" for a in home.all("a"))
    opened = ops.get(f"{BASE}/dashboard")
    assert opened.status_code == 303
    target = ops.local(opened.headers["Location"])
    assert target.startswith(f"/t/{TENANT}/dashboard?k=")
    page = api.call("GET", target)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    by_channel = ops.local(ops.get(f"{BASE}/dashboard?by=channel&value=ch_x&k=forged&x=1").headers["Location"])
    assert by_channel.startswith(f"/t/{TENANT}/dashboard?k=") and by_channel.endswith("&by=channel&value=ch_x")
    viewer = signed_in(api, role="viewer")
    shown = viewer.dom(viewer.get(BASE))
    assert shown.one("ul", class_="figures") and not any(
        a.attrs.get("href") == f"{BASE}/dashboard" for a in shown.all("a")
    )
    staff = signed_in(api, role="staff", userid="zhang")
    assert ops.local(staff.get(BASE).headers["Location"]) == f"{BASE}/my"
    assert staff.get(f"{BASE}/dashboard").status_code == 403


def test_an_admin_rebuilds_the_metrics_of_a_range_as_a_job(
    api: Api, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild_module, "SLICE_SECONDS", 0.0)  # seen running first, then the backstop finishes it
    ops = signed_in(api)
    assert not ops.dom(ops.get(f"{BASE}/jobs")).all("form", action=f"{BASE}/jobs/rebuild")  # the admin's, as in the API
    assert (
        ops.post(f"{BASE}/jobs/rebuild", {"rebuild_from": "2026-11-30", "rebuild_to": "2026-12-01"}).status_code == 403
    )
    admin = signed_in(api, role="admin")
    bad = admin.post(f"{BASE}/jobs/rebuild", {"rebuild_from": "2026-12-01", "rebuild_to": "2026-11-01"})
    assert bad.status_code == 400 and admin.dom(bad).one("small", id="rebuild_to-error")
    started = admin.post(f"{BASE}/jobs/rebuild", {"rebuild_from": "2026-11-30", "rebuild_to": "2026-12-01"})
    assert started.status_code == 303
    url = admin.local(started.headers["Location"])
    assert url.startswith(f"{BASE}/jobs/rb_")
    running = _poll(admin, url)
    assert running["finished"] is False and (running["total"], running["done"]) == (100, 0)  # its days are known
    assert admin.dom(admin.get(url)).one("progress", id="job-bar").attrs["value"] == "0"
    run_job(api, "backstop")
    done = _poll(admin, url)
    assert done["finished"] is True and done["percent"] == 100
    counts = {c["label"]: c["value"] for c in done["counts"]}
    assert counts["已重算天数"] == 2 and counts["读取的事实"] >= 4  # the fixture's four adds, today
    home = ops.dom(ops.get(BASE))
    figures = {li.one("span").text(): li.one("strong").text() for li in home.one("ul", class_="figures").all("li")}
    assert figures["新客户"] == "4"  # rebuilt from the fact log: the same figures
