"""GET /t/{tenant}/tasks pages through every task with next_cursor instead of cutting the list off at ``limit``."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib import bootstrap
from chalicelib.domain.sop import StaffTask
from tests.functional.conftest import TENANT, Api


def _seed(api: Api, count: int) -> str:
    """``count`` tasks for zhang and as many for li, due a minute apart; returns zhang's staff token."""
    admin = api.create_tenant()
    for userid, name in (("zhang", "张老师"), ("li", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, admin).status_code == 201
    store = bootstrap.services().store
    for i in range(count):
        for userid in ("zhang", "li"):
            due = f"2026-12-01T11:{i:02d}:00+08:00"
            store.create_task(TENANT, StaffTask(f"tk_{userid}{i:02d}", userid, "mass", "created", due, api.clock.iso()))
    return api.token(TENANT, "staff", "zhang")


def _walk(api: Api, token: str, query: str) -> list[dict[str, Any]]:
    pages, cursor = [], None
    for _ in range(20):
        resp = api.call("GET", f"/t/{TENANT}/tasks?{query}" + (f"&cursor={cursor}" if cursor else ""), token=token)
        assert resp.status_code == 200, resp.body
        pages.append(resp.json["items"])
        cursor = resp.json["next_cursor"]
        if cursor is None:
            return [t for page in pages for t in page]
    raise AssertionError("next_cursor never ended")


def test_a_staff_member_pages_through_all_their_tasks(api: Api) -> None:
    zhang = _seed(api, 7)
    first = api.call("GET", f"/t/{TENANT}/tasks?limit=3", token=zhang).json
    assert len(first["items"]) == 3 and first["next_cursor"]  # more than a page: the list says so
    listed = _walk(api, zhang, "limit=3")
    assert [t["task_id"] for t in listed] == [f"tk_zhang{i:02d}" for i in range(7)]  # all, once, by due time
    assert _walk(api, zhang, "limit=3&userid=li") == listed  # a staff token still sees only its own


def test_a_bad_or_foreign_cursor_is_a_400(api: Api) -> None:
    zhang = _seed(api, 2)
    admin = api.token(TENANT, "admin")
    key = {"pk": "T#beta#TASK#tk_x", "sk": "TASK", "gsi1pk": "T#beta#TASKS", "gsi1sk": "2026-12-01T03:00:00Z#tk_x"}
    foreign = base64.urlsafe_b64encode(json.dumps({a: {"S": v} for a, v in key.items()}).encode()).decode()
    for cursor in ("bm90LWpzb24", foreign.rstrip("="), "e30"):
        resp = api.call("GET", f"/t/{TENANT}/tasks?cursor={cursor}", token=admin)
        assert resp.status_code == 400 and resp.json["error"]["code"], resp.body
    resp = api.call("GET", f"/t/{TENANT}/tasks?cursor=not%20base64!", token=zhang)
    assert resp.status_code == 400 and resp.json["error"]["code"]


def test_a_reshaped_or_reused_cursor_is_a_400_not_a_database_error(api: Api) -> None:
    zhang = _seed(api, 4)

    def b64(key: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")

    own = {"S": f"T#{TENANT}#TASKS"}
    for forged in ({"gsi1pk": own}, {"gsi1pk": own, "gsi1sk": {"N": "1"}, "pk": {"S": "x"}, "sk": {"S": "TASK"}}):
        resp = api.call("GET", f"/t/{TENANT}/tasks?cursor={b64(forged)}", token=zhang)
        assert resp.status_code == 400 and resp.json["error"]["code"], resp.body
    late = "due_from=2026-12-01T11:02:00%2B08:00&limit=1"
    cursor = api.call("GET", f"/t/{TENANT}/tasks?{late}", token=zhang).json["next_cursor"]
    assert cursor
    early = api.call("GET", f"/t/{TENANT}/tasks?due_to=2026-12-01T11:01:00%2B08:00&cursor={cursor}", token=zhang)
    assert early.status_code == 400 and early.json["error"]["code"], early.body
    rest = api.call("GET", f"/t/{TENANT}/tasks?{late}&cursor={cursor}", token=zhang).json
    assert [t["task_id"] for t in rest["items"]] == ["tk_zhang03"]
