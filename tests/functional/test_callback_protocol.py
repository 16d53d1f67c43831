"""Bad callbacks get a clear 4xx with a JSON error, store nothing, and never cause a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api


def _fields(api: Api) -> dict[str, Any]:
    api.sandbox.world.register_corp(CORP)
    return api.sandbox.world.event(
        CORP, "add_external_contact", userid="zhang", external_userid="wmprotocol000000000000000001", State=""
    )


def _stored(api: Api, token: str) -> int:
    return len(api.call("GET", f"/t/{TENANT}/customers", token=token).json["items"])


def _post(api: Api, query: dict[str, str], body: bytes, tenant: str = TENANT) -> Any:
    return api.call("POST", f"/wecom/{tenant}/callback?{urlencode(query)}", body, headers={"Content-Type": "text/xml"})


def _signed(body_encrypt: str, nonce: str = "1", ts: str = "1700000000") -> dict[str, str]:
    crypto = CallbackCrypto(WECOM["token"], WECOM["encoding_aes_key"], CORP)
    return {"msg_signature": crypto.signature(ts, nonce, body_encrypt), "timestamp": ts, "nonce": nonce}


def test_bad_signature_is_401(api: Api) -> None:
    token = api.create_tenant()
    resp = api.callback(TENANT, _fields(api), tamper="signature")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "bad_signature"
    assert resp.json["error"]["wx_code"] == -40001
    assert _stored(api, token) == 0


def test_wrong_corp_is_403(api: Api) -> None:
    token = api.create_tenant()
    resp = api.callback(TENANT, _fields(api), corp_id="wwsomeoneelse00001")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "wrong_receiver"
    assert _stored(api, token) == 0


def test_wrong_key_is_rejected(api: Api) -> None:
    token = api.create_tenant()
    other = dict(WECOM, encoding_aes_key="Z" * 43)
    resp = api.callback(TENANT, _fields(api), wecom=other)
    assert resp.status_code in (400, 401) and resp.json["error"]["code"] in ("bad_signature", "undecryptable")
    assert _stored(api, token) == 0


@pytest.mark.parametrize(
    "body, code",
    [
        (b"<xml><Encrypt>", "bad_xml"),
        (b"not xml at all", "bad_xml"),
        (b"<xml><ToUserName>wwacme0000000001</ToUserName></xml>", "bad_xml"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>', "bad_xml"),
    ],
)
def test_malformed_envelopes_are_400(api: Api, body: bytes, code: str) -> None:
    token = api.create_tenant()
    resp = _post(api, {"msg_signature": "x" * 40, "timestamp": "1", "nonce": "1"}, body)
    assert resp.status_code == 400 and resp.json["error"]["code"] == code
    assert _stored(api, token) == 0


def test_undecryptable_payload_with_a_valid_signature_is_400(api: Api) -> None:
    token = api.create_tenant()
    garbage = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="  # valid base64, not a whole AES block
    resp = _post(api, _signed(garbage), envelope(CORP, garbage))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "undecryptable"
    assert _stored(api, token) == 0


def test_decrypted_garbage_is_400(api: Api) -> None:
    token = api.create_tenant()
    crypto = CallbackCrypto(WECOM["token"], WECOM["encoding_aes_key"], CORP)
    encrypted, sig = crypto.encrypt(b"<xml><Event>oops", nonce="5", timestamp="1700000000")
    resp = _post(api, {"msg_signature": sig, "timestamp": "1700000000", "nonce": "5"}, envelope(CORP, encrypted))
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_xml"
    encrypted, sig = crypto.encrypt(
        b"<xml><Event>change_external_contact</Event></xml>", nonce="5", timestamp="1700000000"
    )
    resp = _post(api, {"msg_signature": sig, "timestamp": "1700000000", "nonce": "5"}, envelope(CORP, encrypted))
    assert resp.status_code == 400  # no CreateTime
    assert _stored(api, token) == 0


def test_oversized_body_is_413(api: Api) -> None:
    token = api.create_tenant()
    resp = _post(api, {"msg_signature": "x", "timestamp": "1", "nonce": "1"}, b"<xml>" + b"a" * 70000 + b"</xml>")
    assert resp.status_code == 413 and resp.json["error"]["code"] == "payload_too_large"
    assert _stored(api, token) == 0


def test_unknown_tenant_answers_as_a_known_one_and_missing_params_400(api: Api) -> None:
    api.create_tenant()
    other_keys = {**WECOM, "token": "otherToken7", "encoding_aes_key": "Z" * 43}
    created = api.call(
        "POST",
        "/admin/tenants",
        {"tenant_id": "other", "name": "另一家", "corp_id": "wwother000000001", "wecom": other_keys},
        ADMIN,
    )
    assert created.status_code == 201, created.body
    # Signed with acme's keys: "other" (its own keys) and an unknown tenant refuse it alike, whoever the envelope
    # names, so a stranger who knows a corp id cannot learn which tenant id holds it.
    for corp in (CORP, "wwother000000001"):
        known = api.callback("other", _fields(api), corp_id=corp)
        unknown = api.callback("nobody", _fields(api), corp_id=corp)
        assert known.status_code == 401 and (unknown.status_code, unknown.json) == (known.status_code, known.json)
    # Correctly signed for acme but addressed to another corp: refused once the signature has been checked.
    misaddressed = api.callback(TENANT, _fields(api), corp_id="wwother000000001")
    assert misaddressed.status_code == 403, misaddressed.body
    resp = _post(api, {"timestamp": "1"}, b"<xml><Encrypt>x</Encrypt></xml>")
    assert resp.status_code == 400 and "msg_signature" in resp.json["error"]["message"]
    verify = api.call("GET", f"/wecom/{TENANT}/callback?msg_signature=x&timestamp=1&nonce=1&echostr=abc")
    assert verify.status_code == 401


def test_unhandled_events_are_answered_200(api: Api) -> None:
    api.create_tenant()
    api.sandbox.world.register_corp(CORP)
    # change_external_chat is handled now (services/groups); corp tag changes are still only recorded as ignored.
    fields = api.sandbox.world.event(
        CORP,
        "create",
        event="change_external_tag",
        Id="etTAG0001",
        TagType="tag",
    )
    resp = api.callback(TENANT, fields)
    assert resp.status_code == 200 and resp.json["outcome"] == "ignored"
    assert api.callback(TENANT, fields).json["outcome"] == "duplicate"
    group = api.sandbox.world.event(
        CORP,
        "update",
        event="change_external_chat",
        ChatId="wrchat001",
        UpdateDetail="add_member",
        MemChangeList=["wm1", "wm2"],
    )
    resp = api.callback(TENANT, group)  # a gap (no versions): the re-read waits for the repair queue, still a 200
    assert resp.status_code == 200 and resp.json["outcome"] in ("deferred", "refetched")
