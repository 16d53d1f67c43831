"""The console's 社群 page (issue 13 §2): groups by cohort after a sync from the sandbox, a live code's rotation (the
group it sends people to now, its fill, the next), a camp plan's calendar by day, a group's leaderboard from its
check-ins; a staff session sees only its own groups and no codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api
from tests.functional.console_client import signed_in

BASE = f"/console/{TENANT}"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Three groups of cohort 3期 (two zhang's, one li's) synced from the sandbox, a live code over the first with
    the second waiting, the 28-day camp published as a group plan, and two check-ins in the first group."""
    created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                  "wecom": WECOM}, ADMIN)  # fmt: skip
    token = api.token(TENANT, "admin")
    for userid, name in (("zhang", "张老师"), ("li", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    owners = {"数学冲刺·3期·01": "zhang", "数学冲刺·3期·02": "zhang", "英语冲刺·3期·03": "li"}
    for name, owner in owners.items():
        api.sandbox.world.seed_group(CORP, owner=owner, name=name, members=[f"wm{name[-2:]}{i}" for i in range(3)])
    assert api.call("POST", f"/t/{TENANT}/groups/sync", {}, token).status_code == 202
    groups = {g["name"]: g for g in api.call("GET", f"/t/{TENANT}/groups", token=token).json["items"]}
    chats = {name: groups[name]["chat_id"] for name in owners}
    for chat_id in chats.values():
        setup = {"rev": 0, "type": "study", "cohort": "3期", "cohort_start": "2026-12-09"}
        assert api.call("PUT", f"/t/{TENANT}/groups/{chat_id}/setup", setup, token).status_code == 200
    api.call("PUT", f"/t/{TENANT}/settings/group-naming", {"institution": "XX教育"}, token)
    first, second = chats["数学冲刺·3期·01"], chats["数学冲刺·3期·02"]
    code = api.call("POST", f"/t/{TENANT}/group-codes", {"name": "数学冲刺3期海报", "positioning": "数学冲刺",
                    "cohort": "3", "chat_ids": [first], "queue": [second], "rotate_at": 8}, token)  # fmt: skip
    assert code.status_code == 201, code.body
    raw = (SAMPLES / "28天训练营.csv").read_bytes()
    query = f"name={quote('28天训练营')}&kind=group&group_type=study"
    plan = api.call("POST", f"/t/{TENANT}/plans/import?{query}", raw, token, headers={"Content-Type": "text/csv"})
    assert plan.status_code == 201, plan.body
    assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
    channel = api.call("POST", f"/t/{TENANT}/channels", {"name": "打卡营", "source": "douyin",
                       "staff": {"userids": ["zhang"]}}, token).json  # fmt: skip
    customer = api.scan(channel["state"])[1].json["customer_id"]
    checkin = {"type": "checkin", "customer_id": customer, "chat_id": first}
    events = [{**checkin, "event_id": f"k-{n}", "occurred_at": f"2026-11-{28 + n}T09:00:00+08:00"} for n in range(2)]
    raw_events = json.dumps({"events": events}, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(created.json["events_secret"], stamp, raw_events)}
    assert api.call("POST", f"/t/{TENANT}/events", raw_events, headers=headers).status_code == 200
    return {"chats": chats, "first": first, "second": second, "plan_id": plan.json["plan_id"], "customer": customer}


def test_ops_see_groups_by_cohort_and_the_codes_rotation(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    page = ops.get(f"{BASE}/groups")
    assert page.status_code == 200
    dom = ops.dom(page)
    assert dom.one("section", aria_labelledby="cohorts-h").all("h3")[0].text().startswith("3期")
    names = {a.text() for a in dom.one("section", aria_labelledby="cohorts-h").all("a")}
    assert set(world["chats"]) <= names
    codes = dom.one("section", aria_labelledby="codes-h")
    rows = [[td.text() for td in tr.all("td")] for tr in codes.all("tr") if tr.all("td")]
    assert rows[0][0] == "数学冲刺·3期·01" and rows[0][1] == "正在引流"
    assert rows[1][0] == "数学冲刺·3期·02" and rows[1][1] == "候补 第 1 位"
    members = api.call("GET", f"/t/{TENANT}/groups/{world['first']}", token=api.token(TENANT, "viewer")).json
    count = members["member_count"]
    assert f"{count} / 8（{count * 100 // 8}%）" in rows[0][2]
    assert codes.all("progress")[0].attrs["value"] == str(count * 100 // 8)
    camps = dom.one("section", aria_labelledby="camps-h")
    assert [a.attrs["href"] for a in camps.all("a")] == [f"{BASE}/groups/camps/{world['plan_id']}"]
    only_li = signed_in(api, role="staff", userid="li")
    mine = only_li.dom(only_li.get(f"{BASE}/groups"))
    assert {a.text() for a in mine.one("section", aria_labelledby="cohorts-h").all("a")} == {"英语冲刺·3期·03"}
    assert not mine.all("section", aria_labelledby="codes-h")
    assert only_li.get(f"{BASE}/groups/{world['first']}").status_code == 404  # not theirs: the API's scoping


def test_a_groups_page_shows_its_leaderboard(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    dom = ops.dom(ops.get(f"{BASE}/groups/{world['first']}"))
    board = dom.one("section", aria_labelledby="board-h")
    [row] = [[td.text() for td in tr.all("td")] for tr in board.all("tr") if tr.all("td")]
    assert row[0] == "1" and row[1] == world["customer"] and row[3] == "2"  # rank, customer, check-ins
    empty = ops.dom(ops.get(f"{BASE}/groups/{world['second']}"))
    assert "还没有人打卡" in empty.one("section", aria_labelledby="board-h").text()


def test_a_camps_calendar_is_shown_by_day_for_a_cohort_start(api: Api, world: dict[str, Any]) -> None:
    ops = signed_in(api)
    url = f"{BASE}/groups/camps/{world['plan_id']}"
    page = ops.get(f"{url}?start=2026-12-09")
    assert page.status_code == 200
    dom = ops.dom(page)
    days = [s for s in dom.all("section") if s.all("ul", class_="camp-day")]
    assert len(days) >= 20
    headings = [s.one("h2").text() for s in days]
    assert any(h.startswith("2026-12-09") and "第 0 天" in h for h in headings)
    assert any("预热" in h for h in headings) and any("结营" in h for h in headings)
    assert dom.one("input", name="start").attrs["value"] == "2026-12-09"
    moved = ops.dom(ops.get(f"{url}?start=2026-12-16"))
    assert any(s.one("h2").text().startswith("2026-12-16") for s in moved.all("section") if s.all("h2"))
    assert ops.get(f"{url}?start=16-12-2026").status_code == 400
    assert ops.get(f"{BASE}/groups/camps/pl_nothing").status_code == 404
