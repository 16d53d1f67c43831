"""Check-ins, points, leaderboards and redemptions through the real app (chalice.test.Client, moto DynamoDB, the
WeCom sandbox): check-ins arrive as signed business events, the routes read and redeem."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

GROUP = "wrCampGroup01"


def _tenant(api: Api) -> tuple[str, str]:
    body = {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP, "wecom": WECOM}
    created = api.call("POST", "/admin/tenants", body, ADMIN)
    assert created.status_code == 201, created.body
    token = api.token(TENANT, "admin")
    for userid, name in (("zhang", "张老师"), ("li", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    return token, str(created.json["events_secret"])


def _customer(api: Api, token: str, staff: str = "zhang") -> str:
    body = {"name": f"打卡营-{staff}", "source": "douyin", "staff": {"userids": [staff]}}
    channel = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert channel.status_code == 201, channel.body
    _, scanned = api.scan(channel.json["state"])
    return str(scanned.json["customer_id"])


def _post(api: Api, secret: str, *events: dict[str, Any]) -> Any:
    raw = json.dumps({"events": list(events)}, ensure_ascii=False).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    resp = api.call("POST", f"/t/{TENANT}/events", raw, headers=headers)
    assert resp.status_code == 200, resp.body
    return resp.json["results"]


def _checkin(event_id: str, cid: str, at: str, chat_id: str = GROUP) -> dict[str, Any]:
    return {"event_id": event_id, "type": "checkin", "customer_id": cid, "occurred_at": at, "chat_id": chat_id}


def test_checkins_fill_the_points_and_the_leaderboard(api: Api) -> None:
    token, secret = _tenant(api)
    a, b = _customer(api, token), _customer(api, token, "li")
    _post(
        api,
        secret,
        _checkin("a-1", a, "2026-11-29T23:59:00+08:00"),
        _checkin("a-2", a, "2026-11-30T00:01:00+08:00"),  # past local midnight: another day
        _checkin("a-3", a, "2026-11-30T08:00:00+08:00"),  # the same day again: a duplicate, not credited
        _checkin("b-1", b, "2026-11-30T09:00:00+08:00"),
    )
    board = api.call("GET", f"/t/{TENANT}/groups/{GROUP}/leaderboard", token=token)
    assert board.status_code == 200, board.body
    assert board.json == {
        "chat_id": GROUP,
        "items": [
            {"rank": 1, "customer_id": a, "points": 20, "checkins": 2, "streak": 2},
            {"rank": 2, "customer_id": b, "points": 10, "checkins": 1, "streak": 1},
        ],
    }
    top = api.call("GET", f"/t/{TENANT}/groups/{GROUP}/leaderboard?limit=1", token=token).json["items"]
    assert [i["customer_id"] for i in top] == [a]
    view = api.call("GET", f"/t/{TENANT}/customers/{a}/points?limit=1", token=token)
    assert view.status_code == 200, view.body
    assert (view.json["balance"], view.json["earned"], view.json["spent"]) == (20, 20, 0)
    assert view.json["groups"][0] | {"streak": 2, "best_streak": 2, "last_day": "2026-11-30"} == view.json["groups"][0]
    [latest] = view.json["ledger"]
    assert latest["at"] == "2026-11-30T00:01:00+08:00" and latest["points"] == 10 and latest["chat_id"] == GROUP
    rest = api.call("GET", f"/t/{TENANT}/customers/{a}/points?cursor={view.json['next_cursor']}", token=token)
    assert [e["at"] for e in rest.json["ledger"]] == ["2026-11-29T23:59:00+08:00"] and rest.json["next_cursor"] is None


def test_a_group_keyword_and_a_redemption(api: Api) -> None:
    token, secret = _tenant(api)
    cid = _customer(api, token)
    rule = api.call("PUT", f"/t/{TENANT}/groups/{GROUP}/checkin-rule", {"keyword": "签到", "points": 60}, token)
    assert rule.status_code == 200, rule.body
    assert rule.json == {
        "keyword": "签到",
        "points": 60,
        "reward_streak": 7,
        "chat_id": GROUP,
        "overrides": {"keyword": "签到", "points": 60},
    }
    at = api.clock.iso(seconds_ago=60)
    msg = {"type": "message", "customer_id": cid, "occurred_at": at, "chat_id": GROUP}
    _post(api, secret, {**msg, "event_id": "m-1", "text": "打卡"}, {**msg, "event_id": "m-2", "text": "今日签到✅"})
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}/points", token=token).json["balance"] == 60
    path = f"/t/{TENANT}/customers/{cid}/points/redemptions"
    first = api.call("POST", path, {"redemption_id": "r-1", "points": 50, "reason": "兑换笔记本"}, token)
    assert first.status_code == 200, first.body
    assert first.json | {"status": "applied", "balance": 10, "points": 50} == first.json
    again = api.call("POST", path, {"redemption_id": "r-1", "points": 50, "reason": "兑换笔记本"}, token)
    assert again.json == first.json
    short = api.call("POST", path, {"redemption_id": "r-2", "points": 50, "reason": "兑换笔记本"}, token)
    assert short.status_code == 409 and short.json["error"]["code"] == "insufficient_points"
    reused = api.call("POST", path, {"redemption_id": "r-1", "points": 5}, token)
    assert reused.status_code == 409 and reused.json["error"]["code"] == "redemption_id_reused"
    assert api.call("GET", f"/t/{TENANT}/customers/{cid}/points", token=token).json["balance"] == 10


def test_the_tenant_default_rule_reads_back_with_its_defaults(api: Api) -> None:
    token, _ = _tenant(api)
    path = f"/t/{TENANT}/settings/checkin-rule"
    assert api.call("GET", path, token=token).json == {"keyword": "打卡", "points": 10, "reward_streak": 7}
    assert api.call("PUT", path, {"points": 5}, token).json == {"keyword": "打卡", "points": 5, "reward_streak": 7}
    group = api.call("GET", f"/t/{TENANT}/groups/{GROUP}/checkin-rule", token=token).json
    assert (group["points"], group["overrides"]) == (5, {})


def test_bad_input_gets_a_4xx_and_stores_nothing(api: Api) -> None:
    token, secret = _tenant(api)
    cid = _customer(api, token)
    path = f"/t/{TENANT}/customers/{cid}/points/redemptions"
    bodies: list[dict[str, Any]] = [
        {"points": 1},
        {"redemption_id": "r-1", "points": 0},
        {"redemption_id": "r 1", "points": 1},
        {"redemption_id": "r-1", "points": 1, "extra": True},
        {"redemption_id": "r-1", "points": "1"},
    ]
    for body in bodies:
        resp = api.call("POST", path, body, token)
        assert resp.status_code == 400 and resp.json["error"]["code"], (body, resp.body)
    unknown = api.call("POST", f"/t/{TENANT}/customers/cnobody00000000/points/redemptions",
                       {"redemption_id": "r-1", "points": 1}, token)  # fmt: skip
    assert unknown.status_code == 404
    assert api.call("GET", f"/t/{TENANT}/customers/cnobody00000000/points", token=token).status_code == 404
    for query in ("limit=0", "limit=101", "limit=x", "other=1"):
        assert api.call("GET", f"/t/{TENANT}/groups/{GROUP}/leaderboard?{query}", token=token).status_code == 400
    assert api.call("GET", f"/t/{TENANT}/groups/bad%20chat/leaderboard", token=token).status_code == 400
    rule = f"/t/{TENANT}/groups/{GROUP}/checkin-rule"
    for body in ({"keyword": ""}, {"points": -1}, {"reward_streak": 1000}, {"colour": "red"}):
        assert api.call("PUT", rule, body, token).status_code == 400, body
    assert api.call("PUT", rule, None, token).status_code == 400  # a PUT needs its body
    bad_event = {**_checkin("c-1", cid, api.clock.iso(seconds_ago=5)), "chat_id": ""}
    raw = json.dumps(bad_event).encode()
    stamp = api.clock.stamp()
    headers = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
    assert api.call("POST", f"/t/{TENANT}/events", raw, headers=headers).status_code == 400
    view = api.call("GET", f"/t/{TENANT}/customers/{cid}/points", token=token).json
    assert (view["balance"], view["ledger"], view["groups"]) == (0, [], [])
    assert api.call("GET", f"/t/{TENANT}/groups/{GROUP}/checkin-rule", token=token).json["overrides"] == {}


def test_staff_see_only_their_own_customers_points_and_tenants_never_meet(api: Api) -> None:
    token, secret = _tenant(api)
    mine, theirs = _customer(api, token), _customer(api, token, "li")
    _post(api, secret, _checkin("c-1", theirs, api.clock.iso(seconds_ago=60)))
    staff = api.token(TENANT, "staff", "zhang")
    assert api.call("GET", f"/t/{TENANT}/customers/{mine}/points", token=staff).status_code == 200
    assert api.call("GET", f"/t/{TENANT}/customers/{theirs}/points", token=staff).status_code == 404
    redeem = {"redemption_id": "r-1", "points": 1}
    path = f"/t/{TENANT}/customers/{theirs}/points/redemptions"
    assert api.call("POST", path, redeem, staff).status_code == 404
    beta = api.create_tenant("beta", corp_id="wwbeta0000000001")
    assert api.call("GET", f"/t/beta/groups/{GROUP}/leaderboard", token=beta).json["items"] == []
    assert api.call("GET", f"/t/beta/customers/{theirs}/points", token=beta).status_code == 404
    assert api.call("GET", f"/t/{TENANT}/groups/{GROUP}/leaderboard", token=beta).status_code == 403
