"""The sandbox's JS-SDK player over HTTP (devstack/sandbox_jssdk.py): the script it serves, its JSONP answers to
wx.agentConfig (checked against the tickets the real client fetched) and to getCurExternalContact (the chat opened
through the control route)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.domain.jssdk import agent_config
from chalicelib.ports import WeComCredentials
from devstack.sandbox import SandboxServer

CORP = "wwjssdkplayer001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="app-secret")
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
PAGE = "http://127.0.0.1:8000/console/t1/sidebar"
JSONP = re.compile(r"^(?P<cb>[A-Za-z_$][A-Za-z0-9_$]*)\((?P<json>.*)\);\n$", re.S)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(api_base="http://127.0.0.1:9").start()
    yield server
    server.stop()


@pytest.fixture
def http(sandbox: SandboxServer) -> urllib3.PoolManager:
    pool = urllib3.PoolManager()
    body = {"corp_id": CORP, "tenant_id": "t1", "token": TOKEN, "encoding_aes_key": KEY, "agent_id": "1000002"}
    answer = pool.request("POST", f"{sandbox.base_url}/sandbox/corps", body=json.dumps(body).encode())
    assert answer.status == 200, answer.data
    return pool


@pytest.fixture
def client(sandbox: SandboxServer) -> WeComClient:
    return WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)


def jsonp(http: urllib3.PoolManager, sandbox: SandboxServer, name: str, **query: str) -> dict[str, Any]:
    response = http.request("GET", f"{sandbox.base_url}/sandbox/jssdk/{name}?{urlencode({**query, 'cb': 'done1'})}")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Cache-Control"] == "no-store"
    match = JSONP.match(response.data.decode())
    assert match is not None and match["cb"] == "done1"
    answer: dict[str, Any] = json.loads(match["json"])
    return answer


def signed(client: WeComClient, url: str = PAGE, agentid: str = "1000002") -> dict[str, str]:
    ticket = client.agent_jsapi_ticket(CREDS)
    config = agent_config(
        corp_id=CORP,
        agent_id=agentid,
        ticket=ticket,
        noncestr="n0nce123",
        timestamp=1_800_000_000,
        url=url,
        js_api_list=(),
    ).public()
    return {"kind": "agent_config", "url": url, **{k: str(v) for k, v in config.items() if k != "jsApiList"}}


def test_the_player_script_is_served_as_javascript(sandbox: SandboxServer, http: urllib3.PoolManager) -> None:
    response = http.request("GET", f"{sandbox.base_url}/sandbox/jssdk.js")
    assert response.status == 200 and response.headers["Content-Type"].startswith("application/javascript")
    script = response.data.decode()
    for part in ("agentConfig", "getCurExternalContact", "window.wx"):
        assert part in script


def test_agent_config_is_verified_against_the_ticket_the_client_fetched(
    sandbox: SandboxServer, http: urllib3.PoolManager, client: WeComClient
) -> None:
    good = signed(client)
    assert jsonp(http, sandbox, "verify.js", **good) == {"ok": True, "errMsg": "ok"}
    assert jsonp(http, sandbox, "verify.js", **(good | {"url": PAGE + "#x"}))["ok"] is True  # fragment: not signed
    assert jsonp(http, sandbox, "verify.js", **(good | {"url": PAGE + "?other=1"}))["errMsg"] == "invalid signature"
    assert jsonp(http, sandbox, "verify.js", **(good | {"agentid": "1000009"}))["errMsg"] == "invalid agentid"
    assert jsonp(http, sandbox, "verify.js", **(good | {"kind": "corp"}))["ok"] is False  # the corp's ticket differs
    expired = http.request(
        "POST", f"{sandbox.base_url}/sandbox/jssdk/expire_tickets", body=b'{"corp_id": "%s"}' % CORP.encode()
    )
    assert expired.status == 200
    assert jsonp(http, sandbox, "verify.js", **good)["errMsg"] == "invalid signature"


def test_get_cur_external_contact_answers_the_open_chat(sandbox: SandboxServer, http: urllib3.PoolManager) -> None:
    assert jsonp(http, sandbox, "contact.js", corpid=CORP) == {"err_msg": "getCurExternalContact:fail no chat is open"}
    sandbox.world.event(CORP, "add_external_contact", userid="zhang", external_userid="wmParentPlayer1", State="ch1")
    chat = {"corp_id": CORP, "userid": "li", "external_userid": "wmParentPlayer1"}
    refused = http.request("POST", f"{sandbox.base_url}/sandbox/jssdk/context", body=json.dumps(chat).encode())
    assert refused.status == 400 and b"not contacts" in refused.data
    chat["userid"] = "zhang"
    opened = http.request("POST", f"{sandbox.base_url}/sandbox/jssdk/context", body=json.dumps(chat).encode())
    assert opened.status == 200
    answer = jsonp(http, sandbox, "contact.js", corpid=CORP)
    assert answer == {"err_msg": "getCurExternalContact:ok", "userId": "wmParentPlayer1"}
    shown = http.request("GET", f"{sandbox.base_url}/sandbox/jssdk/context?corp_id={CORP}")
    assert json.loads(shown.data)["chat"] == {"userid": "zhang", "external_userid": "wmParentPlayer1"}
    closing = json.dumps({"corp_id": CORP}).encode()
    closed = http.request("POST", f"{sandbox.base_url}/sandbox/jssdk/close", body=closing)
    assert closed.status == 200
    assert jsonp(http, sandbox, "contact.js", corpid=CORP)["err_msg"] == "getCurExternalContact:fail no chat is open"


@pytest.mark.parametrize("cb", ["", "alert(1)//", "a b", "1abc", "x" * 65])
def test_a_callback_that_is_not_an_identifier_is_refused(
    sandbox: SandboxServer, http: urllib3.PoolManager, cb: str
) -> None:
    response = http.request(
        "GET", f"{sandbox.base_url}/sandbox/jssdk/contact.js?{urlencode({'corpid': CORP, 'cb': cb})}"
    )
    assert response.status == 400 and b"(" not in response.data.split(b"*/")[-1]
