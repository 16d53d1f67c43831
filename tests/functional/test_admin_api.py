"""Admin API behaviour beyond the walk-through: staff, tag taxonomy, channels in sync with WeCom, customers."""

from __future__ import annotations

from typing import Any

from tests.functional.conftest import TENANT, Api


def _staff(api: Api, token: str, *userids: str) -> None:
    for u in userids:
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": u, "name": u.upper()}, token).status_code == 201


def _channel(api: Api, token: str, **over: Any) -> dict[str, Any]:
    body = {
        "name": "B站-考研公开课",
        "source": "bilibili",
        "staff": {"userids": ["zhang"]},
        "welcome": {"text": "欢迎～"},
        "tags": [{"group": "流量平台来源", "name": "B站"}],
    }
    body.update(over)
    resp = api.call("POST", f"/t/{TENANT}/channels", body, token)
    assert resp.status_code == 201, resp.body
    return resp.json


def _way(api: Api, config_id: str) -> dict[str, Any]:
    world = api.sandbox.world
    token = world.handle("/cgi-bin/gettoken", {"corpid": "wwacme0000000001", "corpsecret": "acme-secret"}, None)
    return world.handle(
        "/cgi-bin/externalcontact/get_contact_way", {"access_token": token["access_token"]}, {"config_id": config_id}
    )


def test_staff_crud_and_validation(api: Api) -> None:
    token = api.create_tenant()
    _staff(api, token, "zhang")
    assert api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "x"}, token).status_code == 409
    bad = api.call("POST", f"/t/{TENANT}/staff", {"userid": "", "daily_cap": -1}, token)
    assert bad.status_code == 400 and len(bad.json["error"]["details"]) >= 3
    patched = api.call("PATCH", f"/t/{TENANT}/staff/zhang", {"daily_cap": 50, "active": False}, token)
    assert patched.status_code == 200 and patched.json["daily_cap"] == 50 and patched.json["active"] is False
    assert [s["userid"] for s in api.call("GET", f"/t/{TENANT}/staff", token=token).json["items"]] == ["zhang"]
    assert api.call("DELETE", f"/t/{TENANT}/staff/zhang", token=token).status_code == 204
    assert api.call("GET", f"/t/{TENANT}/staff/zhang", token=token).status_code == 404


def test_tag_groups_mirror_to_wecom(api: Api) -> None:
    token = api.create_tenant()
    resp = api.call(
        "POST", f"/t/{TENANT}/tag-groups", {"name": "目标院校库", "exclusive": False, "tags": ["北大", "清华"]}, token
    )
    assert resp.status_code == 201 and all(t["mirrored"] for t in resp.json["tags"])
    gid = resp.json["group_id"]
    assert api.call("POST", f"/t/{TENANT}/tag-groups", {"name": "目标院校库"}, token).status_code == 409
    added = api.call("POST", f"/t/{TENANT}/tag-groups/{gid}/tags", {"name": "复旦"}, token)
    assert added.status_code == 201 and [t["name"] for t in added.json["tags"]] == ["北大", "清华", "复旦"]
    names = {g["name"] for g in api.call("GET", f"/t/{TENANT}/tag-groups", token=token).json["items"]}
    assert {"目标院校库", "考研年份", "报课意向度", "流量平台来源"} <= names  # defaults + ours
    assert len(api.sandbox.world.calls("externalcontact/add_corp_tag")) == 2
    assert api.call("DELETE", f"/t/{TENANT}/tag-groups/{gid}", token=token).status_code == 204
    assert len(api.sandbox.world.calls("externalcontact/del_corp_tag")) == 1


def test_channel_update_and_delete_keep_wecom_in_sync(api: Api) -> None:
    token = api.create_tenant()
    _staff(api, token, "zhang", "li")
    ch = _channel(api, token)
    assert _way(api, ch["config_id"])["contact_way"]["user"] == ["zhang"]
    assert _way(api, ch["config_id"])["contact_way"]["state"] == ch["state"]
    upd = api.call(
        "PATCH", f"/t/{TENANT}/channels/{ch['channel_id']}", {"staff": {"userids": ["li"]}, "spend": 1200.5}, token
    )
    assert upd.status_code == 200 and upd.json["spend"] == 1200.5
    assert _way(api, ch["config_id"])["contact_way"]["user"] == ["li"]
    unknown = api.call("PATCH", f"/t/{TENANT}/channels/{ch['channel_id']}", {"staff": {"userids": ["ghost"]}}, token)
    assert unknown.status_code == 400 and "ghost" in unknown.json["error"]["message"]
    too_long = api.call(
        "POST",
        f"/t/{TENANT}/channels",
        {"name": "x", "source": "douyin", "staff": {"userids": ["zhang"]}, "welcome": {"text": "好" * 1400}},
        token,
    )
    assert too_long.status_code == 400 and "bytes" in too_long.json["error"]["message"]
    assert api.call("DELETE", f"/t/{TENANT}/channels/{ch['channel_id']}", token=token).status_code == 204
    assert _way(api, ch["config_id"])["errcode"] != 0
    assert api.call("GET", f"/t/{TENANT}/channels/{ch['channel_id']}", token=token).status_code == 404


def test_channel_listing_is_paginated(api: Api) -> None:
    token = api.create_tenant()
    _staff(api, token, "zhang")
    made = {_channel(api, token, name=f"海报{i}", source="offline_poster")["channel_id"] for i in range(5)}
    seen: set[str] = set()
    cursor = ""
    while True:
        page = api.call(
            "GET", f"/t/{TENANT}/channels?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=token
        ).json
        assert len(page["items"]) <= 2
        seen |= {c["channel_id"] for c in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made
    assert api.call("GET", f"/t/{TENANT}/channels?limit=0", token=token).status_code == 400
    assert api.call("GET", f"/t/{TENANT}/channels?cursor=garbage", token=token).status_code == 400


def test_customers_filter_tag_scope_and_erase(api: Api) -> None:
    token = api.create_tenant()
    _staff(api, token, "zhang", "li")
    a = _channel(api, token)
    b = _channel(
        api,
        token,
        name="小红书笔记",
        source="xiaohongshu",
        staff={"userids": ["li"]},
        tags=[{"group": "流量平台来源", "name": "小红书"}],
    )
    ids_a = [api.scan(a["state"])[1].json["customer_id"] for _ in range(3)]
    ids_b = [api.scan(b["state"])[1].json["customer_id"] for _ in range(2)]

    def listing(query: str, tok: str = token) -> list[str]:
        resp = api.call("GET", f"/t/{TENANT}/customers?{query}", token=tok)
        assert resp.status_code == 200, resp.body
        return [c["customer_id"] for c in resp.json["items"]]

    assert set(listing(f"channel={a['channel_id']}")) == set(ids_a)
    assert set(listing("owner=li")) == set(ids_b)
    assert listing("stage=lost") == []
    assert api.call("GET", f"/t/{TENANT}/customers?stage=bogus", token=token).status_code == 400
    assert set(listing("added_from=2000-01-01&added_to=2999-01-01")) == set(ids_a + ids_b)
    assert listing("added_to=2000-01-01") == []
    assert api.call("GET", f"/t/{TENANT}/customers?added_from=yesterday", token=token).status_code == 400
    # Staff tokens see only their own customers.
    li = api.token(TENANT, "staff", "li")
    assert set(listing("", li)) == set(ids_b)
    assert api.call("GET", f"/t/{TENANT}/customers/{ids_a[0]}", token=li).status_code == 404
    # Tags: an exclusive group keeps one tag.
    groups = api.call("GET", f"/t/{TENANT}/tag-groups", token=token).json["items"]
    intent = next(g for g in groups if g["name"] == "报课意向度")
    high, low = (next(t["tag_id"] for t in intent["tags"] if t["name"] == n) for n in ("高", "低"))
    assert high in api.call("POST", f"/t/{TENANT}/customers/{ids_a[0]}/tags", {"add": [high]}, token).json["tags"]
    after = api.call("POST", f"/t/{TENANT}/customers/{ids_a[0]}/tags", {"add": [low]}, token).json["tags"]
    assert low in after and high not in after
    assert listing(f"tag={low}") == [ids_a[0]]
    assert (
        api.call("POST", f"/t/{TENANT}/customers/{ids_a[0]}/tags", {"add": ["t_nosuchtag"]}, token).status_code == 404
    )
    # Referral code, then erasure.
    ref = api.call("POST", f"/t/{TENANT}/customers/{ids_a[0]}/referral-channel", {}, token)
    assert ref.status_code == 201 and ref.json["state"].startswith("rf_")
    friend = api.scan(ref.json["state"])[1].json["customer_id"]
    assert api.call("GET", f"/t/{TENANT}/customers/{friend}", token=token).json["referrer_customer_id"] == ids_a[0]
    erased = api.call("DELETE", f"/t/{TENANT}/customers/{ids_a[0]}", token=token)
    assert erased.status_code == 200 and erased.json["erased"] and erased.json["referral_channel_deleted"]
    assert api.call("GET", f"/t/{TENANT}/customers/{ids_a[0]}", token=token).status_code == 404
    assert ids_a[0] not in listing("")


def test_tokens_can_be_listed_and_revoked(api: Api) -> None:
    from tests.functional.conftest import ADMIN

    token = api.create_tenant()
    listed = api.call("GET", f"/admin/tenants/{TENANT}/tokens", token=ADMIN).json["items"]
    assert len(listed) == 1 and "token" not in listed[0] and listed[0]["role"] == "admin"
    assert api.call("DELETE", f"/admin/tenants/{TENANT}/tokens/{listed[0]['token_id']}", token=ADMIN).status_code == 204
    assert api.call("GET", f"/t/{TENANT}/staff", token=token).status_code == 401
    bad = api.call("POST", f"/admin/tenants/{TENANT}/tokens", {"role": "staff"}, ADMIN)
    assert bad.status_code == 400 and "staff_userid" in bad.json["error"]["message"]


def test_idempotency_key_makes_channel_creation_retry_safe(api: Api) -> None:
    token = api.create_tenant()
    _staff(api, token, "zhang")
    body = {"name": "海报-校园", "source": "offline_poster", "staff": {"userids": ["zhang"]}}
    first = api.call("POST", f"/t/{TENANT}/channels", body, token, headers={"Idempotency-Key": "req-1"})
    again = api.call("POST", f"/t/{TENANT}/channels", body, token, headers={"Idempotency-Key": "req-1"})
    assert first.status_code == again.status_code == 201
    assert again.json["channel_id"] == first.json["channel_id"]
    assert len(api.sandbox.world.calls("externalcontact/add_contact_way")) == 1
    other = api.call(
        "POST", f"/t/{TENANT}/channels", dict(body, name="别的"), token, headers={"Idempotency-Key": "req-1"}
    )
    assert other.status_code == 409
    fresh = api.call("POST", f"/t/{TENANT}/channels", body, token, headers={"Idempotency-Key": "req-2"})
    assert fresh.json["channel_id"] != first.json["channel_id"]
    listed = api.call("GET", f"/t/{TENANT}/channels", token=token).json["items"]
    assert len(listed) == 2
