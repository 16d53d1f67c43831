"""Joins through a group code count toward the code and its channel (issue 10 §3), through the real sandbox: a parent
scans the poster, WeCom's signed callback reaches Siyu, the join is read back with its join way before it is told,
and ``GET …/group-codes/{id}/stats`` shows it once, however often WeCom delivers the callback."""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import CORP, TENANT, Api

CODES = f"/t/{TENANT}/group-codes"


def _join(api: Api, config_id: str, external_userid: str, *, twice: bool = False) -> None:
    callbacks = api.sandbox.world.group_join(CORP, config_id=config_id, external_userid=external_userid)
    for fields in callbacks * (2 if twice else 1):
        assert api.callback(TENANT, fields).status_code == 200


def _stats(api: Api, token: str, code_id: str, query: str = "") -> Any:
    return api.call("GET", f"{CODES}/{code_id}/stats{query}", None, token)


def test_joins_through_a_code_count_toward_it_and_its_channel_once_each(api: Api) -> None:
    token = api.create_tenant()
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhanglaoshi", "name": "张老师"}, token).status_code == 201
    chat = api.sandbox.world.seed_group(CORP, owner="zhanglaoshi", name="思语考研·数学冲刺·3期·01")["chat_id"]
    assert api.call("POST", f"/t/{TENANT}/groups/sync", None, token).json["groups_seen"] == 1
    naming = {"institution": "思语考研", "separator": "·", "number_width": 2}
    assert api.call("PUT", f"/t/{TENANT}/settings/group-naming", naming, token).status_code == 200
    channel = {"name": "抖音直播间", "source": "douyin", "staff": {"mode": "single", "userids": ["zhanglaoshi"]}}
    resp = api.call("POST", f"/t/{TENANT}/channels", channel, token)
    assert resp.status_code == 201, resp.body
    channel_id = resp.json["channel_id"]
    body = {
        "name": "数学3期海报",
        "positioning": "数学冲刺",
        "cohort": "3",
        "chat_ids": [chat],
        "channel_id": channel_id,
    }
    resp = api.call("POST", CODES, body, token)
    assert resp.status_code == 201, resp.body
    code = resp.json
    _join(api, code["config_id"], "wmParentA0000001", twice=True)  # WeCom delivered the callback twice
    _join(api, code["config_id"], "wmParentB0000001")
    stats = _stats(api, token, code["code_id"])
    assert stats.status_code == 200, stats.body
    today = stats.json["days"][-1]
    assert (stats.json["to"], stats.json["channel_id"]) == ("2026-12-01", channel_id)
    assert (today["joins"], today["channel_group_joins"]) == (2, 2)
    assert stats.json["totals"] == {"joins": 2, "channel_group_joins": 2}
    group = api.call("GET", f"/t/{TENANT}/groups/{chat}/stats", None, token).json
    assert group["totals"]["joins_by_scene"].get("3") == 2  # the group's own counters, counted beside
    api.clock.advance(days=1)  # tomorrow: yesterday's joins stay on their day
    assert _stats(api, token, code["code_id"]).json["totals"]["joins"] == 2
    assert _stats(api, token, code["code_id"], "?from=2026-12-02").json["totals"]["joins"] == 0


def test_code_stats_answer_unknown_codes_and_bad_ranges_clearly(api: Api) -> None:
    token = api.create_tenant()
    missing = _stats(api, token, "gc_nope")
    assert missing.status_code == 404 and missing.json["error"]["code"]
    reversed_range = _stats(api, token, "gc_nope", "?from=2026-12-02&to=2026-12-01")
    assert reversed_range.status_code in (400, 404) and reversed_range.json["error"]["code"]
    bad = _stats(api, token, "gc_nope", "?from=yesterday")
    assert bad.status_code == 400 and bad.json["error"]["code"]
