"""客户同步 in the console (issue 14 §1): ops start the first sync, then a reconcile; the page lists the runs with
their counts; the run's progress is the 任务进度 page; a viewer sees the runs but cannot start one."""

from __future__ import annotations

import pytest

from chalicelib.services import contact_sync as contact_sync_module
from tests.functional.conftest import CORP, TENANT, Api
from tests.functional.console_client import signed_in
from tests.functional.test_sop_answers import run_job

BASE = f"/console/{TENANT}"


def test_ops_start_the_first_sync_and_then_a_reconcile_from_the_console(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.create_tenant()
    api.sandbox.world.seed_contacts(CORP, "zhang", 12, createtime=1_700_000_000)
    monkeypatch.setattr(contact_sync_module, "SLICE_SECONDS", 0.0)  # the start only records the job
    ops = signed_in(api)
    page = ops.dom(ops.get(f"{BASE}/contact-sync"))
    queued = page.one("tbody").one("tr")  # connecting the tenant queued its first sync; the backstop or ops run it
    assert "首次同步" in queued.text() and "进行中" in queued.text()
    assert page.one("form", action=f"{BASE}/contact-sync").one("button").text() == "开始首次同步"
    assert ops.post(f"{BASE}/contact-sync", {}, csrf=False).status_code == 403
    started = ops.post(f"{BASE}/contact-sync", {})
    assert started.status_code == 303
    url = ops.local(started.headers["Location"])
    assert url == f"{BASE}/jobs/cs_first"
    running = ops.dom(ops.get(url))
    assert "首次同步已开始" in running.one("p", class_="flash").text()
    assert "第 1 步（共 4 步）" in running.text()
    run_job(api, "backstop")
    done = ops.dom(ops.get(f"{BASE}/contact-sync"))
    row = next(tr for tr in done.all("tr") if any(a.attrs.get("href") == url for a in tr.all("a")))
    assert "已完成" in row.text() and "导入新客户 12" in row.text()
    assert done.one("form", action=f"{BASE}/contact-sync").one("button").text() == "开始核对"
    again = ops.post(f"{BASE}/contact-sync", {})
    assert again.status_code == 303 and ops.local(again.headers["Location"]) != url
    viewer = signed_in(api, role="viewer")
    assert viewer.get(f"{BASE}/contact-sync").status_code == 200
    assert not viewer.dom(viewer.get(f"{BASE}/contact-sync")).all("form", action=f"{BASE}/contact-sync")
    assert viewer.post(f"{BASE}/contact-sync", {}).status_code == 403
