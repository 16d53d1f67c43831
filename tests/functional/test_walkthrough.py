"""The README's walk-through through the real app: tenant, staff, channel, a scan, the customer read back."""

from __future__ import annotations

from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def _setup(api: Api) -> tuple[str, dict]:
    token = api.create_tenant()
    for userid, name in (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师")):
        assert api.call("POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name}, token).status_code == 201
    resp = api.call(
        "POST",
        f"/t/{TENANT}/channels",
        {
            "name": "抖音-考研直播间",
            "source": "douyin",
            "campaign": "2027考研秋季",
            "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"], "backup_userid": "zhanglaoshi"},
            "welcome": {"text": "您好，我是XX教育的老师，资料包稍后发您～"},
            "tags": [{"group": "流量平台来源", "name": "抖音"}, {"group": "考研年份", "name": "2027"}],
        },
        token,
    )
    assert resp.status_code == 201, resp.body
    return token, resp.json


def test_scan_becomes_an_attributed_tagged_welcomed_customer(api: Api) -> None:
    token, channel = _setup(api)
    assert channel["state"] == channel["channel_id"] and channel["config_id"] and channel["qr_code"]
    fields, resp = api.scan(channel["state"])
    assert resp.status_code == 200 and resp.json["outcome"] == "created", resp.body
    assert resp.json["welcome"] == "sent"
    listing = api.call("GET", f"/t/{TENANT}/customers", token=token)
    assert listing.status_code == 200
    [item] = listing.json["items"]
    assert item["external_userid"] == fields["ExternalUserID"]
    assert item["owner_userid"] == "zhanglaoshi" and item["source_channel_id"] == channel["channel_id"]
    assert item["stage"] == "new" and len(item["tags"]) == 2
    detail = api.call("GET", f"/t/{TENANT}/customers/{item['customer_id']}", token=token).json
    assert {t["name"] for t in detail["tag_details"]} == {"抖音", "2027"}
    assert detail["touches"][0]["channel_id"] == channel["channel_id"]
    assert detail["name"].startswith("家长")
    welcomes = api.sandbox.world.welcome_messages()
    assert [w["text"] for w in welcomes] == ["您好，我是XX教育的老师，资料包稍后发您～"]
    # Round-robin: the code now points at the next staff member.
    _, second = api.scan(channel["state"])
    owner = api.call("GET", f"/t/{TENANT}/customers/{second.json['customer_id']}", token=token).json["owner_userid"]
    assert owner == "lilaoshi"


def test_duplicate_callback_answers_200_without_a_second_effect(api: Api) -> None:
    _, channel = _setup(api)
    fields, first = api.scan(channel["state"])
    calls_before = len(api.sandbox.world.calls())
    again = api.callback(TENANT, fields)
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    assert len(api.sandbox.world.calls()) == calls_before
    assert again.json["customer_id"] == first.json["customer_id"]


def test_url_verification_echoes_the_plaintext(api: Api) -> None:
    api.create_tenant()
    from chalicelib.adapters.wecom.crypto import CallbackCrypto

    crypto = CallbackCrypto(WECOM["token"], WECOM["encoding_aes_key"], CORP)
    echostr, sig = crypto.encrypt(b"1288432023552776189", nonce="99", timestamp="1700000000")
    from urllib.parse import urlencode

    q = urlencode({"msg_signature": sig, "timestamp": "1700000000", "nonce": "99", "echostr": echostr})
    resp = api.call("GET", f"/wecom/{TENANT}/callback?{q}")
    assert resp.status_code == 200 and resp.body == b"1288432023552776189"


def test_tenant_secrets_are_never_returned(api: Api) -> None:
    api.create_tenant()
    resp = api.call("GET", f"/admin/tenants/{TENANT}", token=ADMIN)
    assert resp.status_code == 200
    text = resp.body.decode()
    assert WECOM["secret"] not in text and WECOM["encoding_aes_key"] not in text and WECOM["token"] not in text
    assert set(resp.json) == {"tenant_id", "name", "corp_id", "timezone", "agent_id", "created_at"}


def test_tenant_creation_validates_every_field(api: Api) -> None:
    resp = api.call(
        "POST",
        "/admin/tenants",
        {
            "tenant_id": "X!",
            "corp_id": "",
            "wecom": {"token": "t", "encoding_aes_key": "short", "secret": "s"},
            "extra": 1,
        },
        ADMIN,
    )
    assert resp.status_code == 400
    paths = {d["path"] for d in resp.json["error"]["details"]}
    assert {"/tenant_id", "/corp_id", "/wecom/encoding_aes_key"} <= paths
    assert any("name" in d["message"] for d in resp.json["error"]["details"])
    assert api.call("POST", "/admin/tenants", b"{not json", ADMIN).status_code == 400
    api.create_tenant()
    dup = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "x", "corp_id": CORP, "wecom": WECOM}, ADMIN)
    assert dup.status_code == 409 and dup.json["error"]["code"] == "conflict"
    bad_zone = api.call(
        "POST",
        "/admin/tenants",
        {"tenant_id": "zone-test", "name": "x", "corp_id": CORP, "wecom": WECOM, "timezone": "Mars/Olympus"},
        ADMIN,
    )
    assert bad_zone.status_code == 400


def test_openapi_and_health(api: Api) -> None:
    doc = api.call("GET", "/openapi.json").json
    assert doc["openapi"].startswith("3.")
    body = doc["paths"]["/t/{tenant_id}/channels"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["required"] == ["name", "source", "staff"]
    from chalicelib.api.common import ROUTES

    for spec in ROUTES:
        assert spec.method.lower() in doc["paths"][spec.path]
    health = api.call("GET", "/health")
    assert health.status_code == 200, health.body
    assert {k: v["status"] for k, v in health.json["dependencies"].items()} == {
        "dynamodb": "ok",
        "scheduler": "ok",
        "wecom": "ok",
    }


def test_tenants_are_listed_and_their_wecom_config_rotated(api: Api) -> None:
    api.create_tenant()
    api.create_tenant("beta", corp_id="wwbeta0000000001")
    page = api.call("GET", "/admin/tenants?limit=1", token=ADMIN).json
    assert [t["tenant_id"] for t in page["items"]] == ["acme"] and page["next_cursor"]
    rest = api.call("GET", f"/admin/tenants?limit=5&cursor={page['next_cursor']}", token=ADMIN).json
    assert [t["tenant_id"] for t in rest["items"]] == ["beta"] and rest["next_cursor"] is None
    assert "wecom_secret" not in str(page) and WECOM["secret"] not in str(page)
    new_key = "N" * 43
    resp = api.call(
        "PATCH", f"/admin/tenants/{TENANT}", {"name": "新名字", "wecom": {"encoding_aes_key": new_key}}, ADMIN
    )
    assert resp.status_code == 200 and resp.json["name"] == "新名字"
    fields = api.sandbox.world.event(
        CORP, "add_external_contact", userid="zhang", external_userid="wmrotate00000000000000000001", State=""
    )
    api.clock.advance(seconds=600)  # the replaced key opens callbacks for a 10-minute grace period (test_rotation.py)
    assert api.callback(TENANT, fields).status_code in (400, 401)  # old key no longer accepted
    rotated = dict(WECOM, encoding_aes_key=new_key)
    assert api.callback(TENANT, fields, wecom=rotated).json["outcome"] == "created"
    assert (
        api.call("PATCH", f"/admin/tenants/{TENANT}", {"wecom": {"encoding_aes_key": "short"}}, ADMIN).status_code
        == 400
    )
    assert api.call("PATCH", "/admin/tenants/nobody", {"name": "x"}, ADMIN).status_code == 404
