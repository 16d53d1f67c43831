"""The sandbox's group routes over real loopback HTTP: joins, leaves and owner changes arrive at the corp's callback
URL as signed, encrypted ``change_external_chat`` events (decrypted here with CallbackCrypto, parsed with the
callback XML parser), in either MemChangeList form; seeded groups send nothing; a member's group message arrives
at Siyu's events route signed with the tenant's events secret; bad requests answer 4xx JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import urllib3

from chalicelib.adapters.wecom.callback_xml import build_event_xml, parse_envelope, parse_event
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.crypto import CallbackCrypto
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.domain.business_events import check_signed_headers, signature_matches
from chalicelib.ports import WeComCredentials
from devstack.sandbox import SandboxServer
from devstack.sandbox_events import EventsSecretFile
from devstack.sandbox_groups import in_form
from devstack.wecom_world import WeComWorld

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP = "wwsandboxgroup01"
TENANT = "t1"
EVENTS_SECRET = "events-secret-of-t1"
T0 = 1_780_000_000.0


class Siyu:
    """A stand-in for Siyu: decrypts WeCom callbacks (keeping the raw XML too) and checks business-event
    signatures the way chalicelib.domain.business_events does."""

    def __init__(self) -> None:
        self.crypto = CallbackCrypto(TOKEN, KEY, CORP)
        self.callbacks: list[tuple[dict[str, Any], bytes]] = []
        self.events: list[dict[str, Any]] = []
        siyu = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, reply = siyu.handle(parts.path, dict(parse_qsl(parts.query)), dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if path == f"/wecom/{TENANT}/callback":
            env = parse_envelope(body, max_bytes=64 * 1024)
            xml = self.crypto.decrypt(query["msg_signature"], query["timestamp"], query["nonce"], env.encrypt)
            self.callbacks.append((parse_event(xml), xml))
            return 200, b""
        if path == f"/t/{TENANT}/events":
            stamp, signature = check_signed_headers(
                headers.get("X-Siyu-Timestamp"), headers.get("X-Siyu-Signature"), now=T0
            )
            if not signature_matches((EVENTS_SECRET,), stamp, body, signature):
                return 401, b'{"error": {"code": "bad_signature"}}'
            self.events.append(json.loads(body))
            return 200, b'{"results": [{"status": "applied"}]}'
        return 404, b"{}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def siyu() -> Iterator[Siyu]:
    s = Siyu()
    yield s
    s.close()


@pytest.fixture
def sandbox(siyu: Siyu, tmp_path: Path) -> Iterator[SandboxServer]:
    secret_file = tmp_path / "events_secret"
    secret_file.write_text(EVENTS_SECRET + "\n")
    world = WeComWorld(clock=lambda: T0)
    server = SandboxServer(
        api_base=siyu.base_url, world=world, events_secrets=EventsSecretFile(secret_file, TENANT)
    ).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager()


def call(http: urllib3.PoolManager, sandbox: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    response = http.request(method, f"{sandbox.base_url}{path}", body=data, retries=False)
    return response.status, json.loads(response.data)


def ok(http: urllib3.PoolManager, sandbox: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    status, answer = call(http, sandbox, method, path, body)
    assert status == 200, answer
    return answer


@pytest.fixture
def corp(http: urllib3.PoolManager, sandbox: SandboxServer) -> str:
    body = {"corp_id": CORP, "tenant_id": TENANT, "token": TOKEN, "encoding_aes_key": KEY, "chat_member_limit": 3}
    ok(http, sandbox, "POST", "/sandbox/corps", body)
    return CORP


def seed(http: urllib3.PoolManager, sandbox: SandboxServer, **extra: Any) -> dict[str, Any]:
    return dict(
        ok(http, sandbox, "POST", "/sandbox/groups", {"corp_id": CORP, "owner": "zhang", "name": "群", **extra})
    )


def test_a_join_through_a_way_sends_create_then_add_member_with_versions(
    http: urllib3.PoolManager, sandbox: SandboxServer, siyu: Siyu, corp: str
) -> None:
    group = seed(http, sandbox, members=["wmParent000001"])
    client = WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)  # the real client, over HTTP
    creds = WeComCredentials(tenant_id=TENANT, corp_id=CORP, secret="any")
    config_id = client.add_join_way(
        creds, chat_ids=[group["chat_id"]], state="gc_camp", room_base_name="冲刺群", room_base_id=1
    )
    assert siyu.callbacks == []  # seeding sends nothing

    first = ok(
        http,
        sandbox,
        "POST",
        "/sandbox/group-join",
        {"corp_id": CORP, "config_id": config_id, "external_userid": "wmParent000002"},
    )
    assert first["chat_id"] == group["chat_id"] and first["created_chat_id"] is None
    second = ok(
        http,
        sandbox,
        "POST",
        "/sandbox/group-join",
        {"corp_id": CORP, "config_id": config_id, "external_userid": "wmParent000003"},
    )
    room = second["created_chat_id"]
    assert room and second["chat_id"] == room
    assert [c["callback_status"] for c in first["callbacks"] + second["callbacks"]] == [200, 200, 200]

    events = [event for event, _ in siyu.callbacks]
    assert [(e["ChatId"], e["ChangeType"], e.get("UpdateDetail")) for e in events] == [
        (group["chat_id"], "update", "add_member"),
        (room, "create", None),
        (room, "update", "add_member"),
    ]
    joined = events[0]
    assert joined["Event"] == "change_external_chat" and joined["ToUserName"] == CORP
    assert (joined["JoinScene"], joined["MemChangeCnt"], joined["MemChangeList"]) == ("3", "1", ["wmParent000002"])
    assert joined["LastMemVer"] == group["member_version"] and joined["CurMemVer"] == first["member_version"]
    assert "QuitScene" not in joined
    listed = {g["chat_id"]: g for g in ok(http, sandbox, "GET", f"/sandbox/groups?corp_id={CORP}")["groups"]}
    assert listed[room]["name"] == "冲刺群1" and listed[room]["member_version"] == events[2]["CurMemVer"]
    assert [m["state"] for m in listed[room]["members"]] == ["", "gc_camp"]


@pytest.mark.parametrize("form", ["items", "text"])
def test_both_mem_change_list_forms(
    http: urllib3.PoolManager, sandbox: SandboxServer, siyu: Siyu, corp: str, form: str
) -> None:
    chat_id = seed(http, sandbox)["chat_id"]
    ok(
        http,
        sandbox,
        "POST",
        "/sandbox/group-join",
        {"corp_id": CORP, "chat_id": chat_id, "external_userid": "wmParent000009", "mem_change_list": form},
    )
    ok(
        http,
        sandbox,
        "POST",
        "/sandbox/group-leave",
        {
            "corp_id": CORP,
            "chat_id": chat_id,
            "external_userid": "wmParent000009",
            "removed": True,
            "mem_change_list": form,
        },
    )
    (join, join_xml), (leave, leave_xml) = siyu.callbacks
    assert join["MemChangeList"] == leave["MemChangeList"] == ["wmParent000009"]  # the parser reads both
    expected = (
        b"<Item><![CDATA[wmParent000009]]></Item>" if form == "items" else b"<MemChangeList><![CDATA[wmParent000009]]>"
    )
    assert expected in join_xml and expected in leave_xml
    assert (join["JoinScene"], leave["UpdateDetail"], leave["QuitScene"]) == ("0", "del_member", "1")
    assert leave["LastMemVer"] == join["CurMemVer"] != leave["CurMemVer"]


def test_text_form_joins_several_ids_with_commas() -> None:
    fields = {"ChangeType": "update", "MemChangeList": ["wmA0001", "wmB0002"]}
    assert in_form(fields, "text")["MemChangeList"] == "wmA0001,wmB0002"
    assert in_form(fields, "items") == fields
    assert parse_event(build_event_xml(in_form(fields, "text")))["MemChangeList"] == ["wmA0001", "wmB0002"]


def test_leave_and_owner_changes(http: urllib3.PoolManager, sandbox: SandboxServer, siyu: Siyu, corp: str) -> None:
    chat_id = seed(http, sandbox, members=["li", "wmParent000001"])["chat_id"]
    ok(
        http,
        sandbox,
        "POST",
        "/sandbox/group-leave",
        {"corp_id": CORP, "chat_id": chat_id, "external_userid": "wmParent000001"},
    )
    for body in (
        {"change": "change_owner", "owner": "li"},
        {"change": "change_name", "name": "考研冲刺·3期·01"},
        {"change": "change_notice", "notice": "群规"},
        {"change": "dismiss"},
    ):
        ok(http, sandbox, "POST", "/sandbox/group-change", {"corp_id": CORP, "chat_id": chat_id, **body})
    created = ok(
        http,
        sandbox,
        "POST",
        "/sandbox/group-change",
        {"corp_id": CORP, "change": "create", "owner": "zhang", "name": "新群"},
    )
    events = [event for event, _ in siyu.callbacks]
    assert [(e["ChangeType"], e.get("UpdateDetail")) for e in events] == [
        ("update", "del_member"),
        ("update", "change_owner"),
        ("update", "change_name"),
        ("update", "change_notice"),
        ("dismiss", None),
        ("create", None),
    ]
    assert events[0]["QuitScene"] == "0" and events[-1]["ChatId"] == created["chat_id"]
    groups = ok(http, sandbox, "GET", f"/sandbox/groups?corp_id={CORP}")["groups"]
    assert [(g["owner"], g["name"], g["notice"], g["dismissed"]) for g in groups] == [
        ("li", "考研冲刺·3期·01", "群规", True),
        ("zhang", "新群", "", False),
    ]


def test_a_group_message_is_a_signed_business_event(
    http: urllib3.PoolManager, sandbox: SandboxServer, siyu: Siyu, corp: str
) -> None:
    chat_id = seed(http, sandbox, members=["wmParent000001"])["chat_id"]
    body = {
        "tenant_id": TENANT,
        "chat_id": chat_id,
        "external_userid": "wmParent000001",
        "text": "打卡",
        "event_id": "m-1",
    }
    answer = ok(http, sandbox, "POST", "/sandbox/group-message", body)
    assert answer["status"] == 200
    assert siyu.events == [
        {
            "event_id": "m-1",
            "type": "message",
            "occurred_at": "2026-05-29T04:26:40+08:00",
            "external_userid": "wmParent000001",
            "chat_id": chat_id,
            "text": "打卡",
        }
    ]
    wrong = ok(http, sandbox, "POST", "/sandbox/group-message", {**body, "events_secret": "not-the-secret"})
    assert wrong["status"] == 401  # the body's secret wins, and Siyu's check refuses it


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/sandbox/group-join", {"corp_id": CORP, "chat_id": "wrNope", "external_userid": "wmParent000001"}, 400),
        ("/sandbox/group-join", {"corp_id": CORP, "external_userid": "wmParent000001"}, 400),
        ("/sandbox/group-join", {"corp_id": "wwunregistered01", "chat_id": "wr1", "userid": "li"}, 404),
        ("/sandbox/group-join", {"corp_id": CORP, "chat_id": "wr1", "userid": "li", "mem_change_list": "xml"}, 400),
        ("/sandbox/group-leave", {"corp_id": CORP, "chat_id": "wrNope", "userid": "li"}, 400),
        ("/sandbox/group-leave", {"corp_id": CORP, "chat_id": "wrNope", "userid": "li", "removed": "yes"}, 400),
        ("/sandbox/group-change", {"corp_id": CORP, "change": "explode"}, 400),
        ("/sandbox/group-change", {"corp_id": CORP, "change": "create", "owner": "zhang", "name": 7}, 400),
        ("/sandbox/group-change", {"corp_id": CORP, "change": "create", "owner": "wmParent000001", "name": "x"}, 400),
        ("/sandbox/groups", {"corp_id": CORP, "owner": "zhang", "name": "群", "members": "li"}, 400),
        ("/sandbox/groups", {"corp_id": CORP, "name": "群"}, 400),
        ("/sandbox/group-message", {"tenant_id": "t9", "chat_id": "wr1", "external_userid": "wm1", "text": "x"}, 404),
        (
            "/sandbox/group-message",
            {"tenant_id": TENANT, "chat_id": "wrNope", "external_userid": "wmx1", "text": "x"},
            404,
        ),
        (
            "/sandbox/corps",
            {"corp_id": CORP, "tenant_id": TENANT, "token": TOKEN, "encoding_aes_key": KEY, "chat_member_limit": 1},
            400,
        ),
    ],
)
def test_bad_requests_answer_json_errors(
    http: urllib3.PoolManager, sandbox: SandboxServer, corp: str, path: str, body: dict[str, Any], status: int
) -> None:
    got, answer = call(http, sandbox, "POST", path, body)
    assert got == status, answer
    assert set(answer["error"]) >= {"code", "message"}


def test_group_message_needs_a_member_and_a_known_secret(
    http: urllib3.PoolManager, siyu: Siyu, corp: str, sandbox: SandboxServer
) -> None:
    chat_id = seed(http, sandbox)["chat_id"]
    status, answer = call(
        http,
        sandbox,
        "POST",
        "/sandbox/group-message",
        {"tenant_id": TENANT, "chat_id": chat_id, "external_userid": "wmStranger01", "text": "x"},
    )
    assert status == 400 and "not a member" in answer["error"]["message"]
    bare = SandboxServer(api_base=siyu.base_url).start()  # no events secrets configured
    try:
        ok(
            http,
            bare,
            "POST",
            "/sandbox/corps",
            {"corp_id": CORP, "tenant_id": TENANT, "token": TOKEN, "encoding_aes_key": KEY},
        )
        other = ok(
            http,
            bare,
            "POST",
            "/sandbox/groups",
            {"corp_id": CORP, "owner": "zhang", "name": "群", "members": ["wmParent000001"]},
        )
        status, answer = call(
            http,
            bare,
            "POST",
            "/sandbox/group-message",
            {"tenant_id": TENANT, "chat_id": other["chat_id"], "external_userid": "wmParent000001", "text": "x"},
        )
        assert status == 400 and "events secret" in answer["error"]["message"]
    finally:
        bare.stop()
    assert siyu.events == []


def test_groups_listing_needs_a_corp(http: urllib3.PoolManager, sandbox: SandboxServer) -> None:
    status, answer = call(http, sandbox, "GET", "/sandbox/groups")
    assert status == 400 and answer["error"]["code"] == "invalid_request"
    status, answer = call(http, sandbox, "GET", "/sandbox/group-join")
    assert status == 405 and answer["error"]["code"] == "method_not_allowed"


def test_events_secret_file_is_one_tenants_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "events_secret"
    secrets = EventsSecretFile(path, TENANT)
    assert secrets(TENANT) is None  # no file yet
    path.write_text("first\n")
    assert (secrets(TENANT), secrets("t2")) == ("first", None)
    path.write_text("rotated\n")
    assert secrets(TENANT) == "rotated"
