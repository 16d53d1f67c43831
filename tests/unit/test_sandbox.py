"""The WeCom sandbox over real loopback HTTP (the real client through Urllib3Transport; callbacks received by a tiny
server that decrypts them with CallbackCrypto), and the world's rules that the client tests do not reach."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import urllib3

from chalicelib import errors
from chalicelib.adapters.wecom.callback_xml import parse_envelope, parse_event
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.crypto import CallbackCrypto
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.ports import Message, WeComCredentials, WelcomeOutcome
from devstack.sandbox import SandboxServer
from devstack.wecom_world import SEND_OK, UnknownApiError, WeComWorld, WorldError, WorldTransport

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP = "wwsandboxtest0001"
SECRET = "sandbox-secret"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret=SECRET)
REPO = Path(__file__).resolve().parents[2]


class Receiver:
    """A stand-in for Siyu's callback route: verifies and decrypts each POST with CallbackCrypto, answers 200
    (or the CallbackError's status), and keeps the decrypted events."""

    def __init__(self, token: str = TOKEN, key: str = KEY, corp_id: str = CORP) -> None:
        self.crypto = CallbackCrypto(token, key, corp_id)
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail_with: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.paths.append(parts.path)
                status, reply = receiver.handle(query, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def handle(self, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.fail_with is not None:
            return self.fail_with, b"try later"
        try:
            env = parse_envelope(body, max_bytes=64 * 1024)
            xml = self.crypto.decrypt(query["msg_signature"], query["timestamp"], query["nonce"], env.encrypt)
        except errors.CallbackError as exc:
            return exc.status, exc.code.encode()
        event = parse_event(xml)
        assert env.to_user == event["ToUserName"]
        assert query["timestamp"] == event["CreateTime"]
        self.events.append(event)
        return 200, b""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def sandbox(receiver: Receiver) -> Iterator[SandboxServer]:
    server = SandboxServer(api_base=receiver.base_url).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager()


@pytest.fixture
def client(sandbox: SandboxServer) -> WeComClient:
    return WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)


def call(
    http: urllib3.PoolManager, sandbox: SandboxServer, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    response = http.request(method, f"{sandbox.base_url}{path}", body=data, retries=False)
    return response.status, json.loads(response.data)


def register(http: urllib3.PoolManager, sandbox: SandboxServer, **extra: Any) -> dict[str, Any]:
    body = {"corp_id": CORP, "tenant_id": "t1", "token": TOKEN, "encoding_aes_key": KEY, **extra}
    status, answer = call(http, sandbox, "POST", "/sandbox/corps", body)
    assert status == 200, answer
    return dict(answer)


# --- end to end ----------------------------------------------------------------------------------------------------


def test_scan_delivers_a_signed_encrypted_callback_and_the_welcome_works(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    registered = register(http, sandbox)
    assert registered["callback_url"] == f"{receiver.base_url}/wecom/t1/callback"
    way = client.add_contact_way(CREDS, users=["zhangsan"], state="ch_spring")

    status, scan = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch_spring"})

    assert status == 200
    assert (scan["callback_status"], scan["callback_body"]) == (200, "")
    assert receiver.paths == ["/wecom/t1/callback"]
    (event,) = receiver.events
    assert event["ToUserName"] == CORP
    assert (event["FromUserName"], event["MsgType"]) == ("sys", "event")
    assert (event["Event"], event["ChangeType"]) == ("change_external_contact", "add_external_contact")
    assert event["UserID"] == scan["userid"] == "zhangsan"
    assert event["ExternalUserID"] == scan["external_userid"]
    assert event["State"] == scan["state"] == "ch_spring"
    assert event["WelcomeCode"] == scan["welcome_code"]

    outcome = client.send_welcome_msg(CREDS, welcome_code=event["WelcomeCode"], message=Message(text="欢迎"))
    assert outcome == WelcomeOutcome.SENT
    profile = client.get_external_contact(CREDS, event["ExternalUserID"])
    assert [(f.userid, f.state) for f in profile.follow_users] == [("zhangsan", "ch_spring")]
    assert way.qr_code.endswith(way.config_id)
    _, welcomes = call(http, sandbox, "GET", "/sandbox/welcome_messages")
    assert [w["text"] for w in welcomes["welcome_messages"]] == ["欢迎"]


def test_scans_rotate_over_the_contact_way_users(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox)
    client.add_contact_way(CREDS, users=["zhangsan", "lisi"], state="ch1")
    answers = [call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch1"})[1] for _ in range(3)]
    assert [a["userid"] for a in answers] == ["zhangsan", "lisi", "zhangsan"]
    assert len({a["external_userid"] for a in answers}) == 3
    assert [e["UserID"] for e in receiver.events] == ["zhangsan", "lisi", "zhangsan"]


def test_scan_with_explicit_customer_and_profile(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox, unionid=True)
    body = {"corp_id": CORP, "state": "ch9", "userid": "wangwu", "external_userid": "wmKnownParent01", "name": "王妈妈"}
    body["unionid"] = "oUnion0001"
    status, scan = call(http, sandbox, "POST", "/sandbox/scan", body)
    assert status == 200 and scan["userid"] == "wangwu"
    profile = client.get_external_contact(CREDS, "wmKnownParent01")
    assert (profile.name, profile.unionid) == ("王妈妈", "oUnion0001")


def test_a_callback_signed_with_another_token_is_refused_by_the_receiver(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox, token="someOtherToken")
    client.add_contact_way(CREDS, users=["zhangsan"], state="ch1")
    _, scan = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch1"})
    assert (scan["callback_status"], scan["callback_body"]) == (401, "bad_signature")
    assert receiver.events == []


def test_callback_failures_are_reported(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox)
    client.add_contact_way(CREDS, users=["zhangsan"], state="ch1")
    receiver.fail_with = 503
    _, scan = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch1"})
    assert (scan["callback_status"], scan["callback_body"]) == (503, "try later")

    register(http, sandbox, callback_url=f"http://127.0.0.1:{_closed_port()}/cb")
    _, scan = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch1"})
    assert scan["callback_status"] is None
    assert scan["callback_body"].startswith("unreachable")


def test_events_are_applied_and_delivered(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox)
    ext = "wmParentEvents01"
    status, half = call(
        http,
        sandbox,
        "POST",
        "/sandbox/events",
        {"corp_id": CORP, "change_type": "add_half_external_contact", "userid": "zhangsan", "external_userid": ext},
    )
    assert status == 200 and half["callback_status"] == 200
    assert half["fields"]["WelcomeCode"] == receiver.events[0]["WelcomeCode"]
    call(
        http,
        sandbox,
        "POST",
        "/sandbox/events",
        {
            "corp_id": CORP,
            "change_type": "del_external_contact",
            "userid": "zhangsan",
            "external_userid": ext,
            "Source": "DELETE_BY_TRANSFER",
        },
    )
    assert receiver.events[1]["Source"] == "DELETE_BY_TRANSFER"
    with pytest.raises(errors.WeComInvalidArgumentError) as info:
        client.get_external_contact(CREDS, ext)
    assert info.value.errcode == 84061
    group = {
        "corp_id": CORP,
        "event": "change_external_chat",
        "change_type": "update",
        "ChatId": "wrChat0001",
        "UpdateDetail": "add_member",
        "JoinScene": 3,
        "MemChangeCnt": 2,
        "MemChangeList": ["wmA0001", "wmB0002"],
    }
    call(http, sandbox, "POST", "/sandbox/events", group)
    assert receiver.events[2]["MemChangeList"] == ["wmA0001", "wmB0002"]
    assert (receiver.events[2]["Event"], receiver.events[2]["JoinScene"]) == ("change_external_chat", "3")
    assert "UserID" not in receiver.events[2]


def test_faults_tokens_tasks_and_the_call_log_over_http(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox, secret=SECRET)
    assert (
        call(http, sandbox, "POST", "/sandbox/faults", {"api": "externalcontact/add_contact_way", "errcode": 45009})[0]
        == 200
    )
    with pytest.raises(errors.WeComRateLimitError):
        client.add_contact_way(CREDS, users=["zhangsan"], state="ch1")
    client.add_contact_way(CREDS, users=["zhangsan"], state="ch1")
    call(http, sandbox, "POST", "/sandbox/expire_tokens", {})
    _, scan = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch1"})
    task = client.add_msg_template(
        CREDS, sender="zhangsan", external_userids=[scan["external_userid"]], message=Message(text="周末试听课")
    )
    status, confirmed = call(http, sandbox, "POST", f"/sandbox/tasks/{task.msgid}/confirm", {"userid": "zhangsan"})
    assert (status, confirmed) == (200, {"msgid": task.msgid, "sent": 1, "not_friend": 0, "limit_hit": 0})
    result = client.get_groupmsg_send_result(CREDS, msgid=task.msgid, userid="zhangsan")
    assert [row["status"] for row in result["send_list"]] == [SEND_OK]

    _, log = call(http, sandbox, "GET", "/sandbox/calls?api=gettoken")
    assert [c["errcode"] for c in log["calls"]] == [0, 0]
    _, everything = call(http, sandbox, "GET", "/sandbox/calls")
    apis = [(c["api"], c["errcode"]) for c in everything["calls"]]
    assert ("externalcontact/add_contact_way", 45009) in apis
    assert ("externalcontact/add_msg_template", 42001) in apis
    dump = json.dumps(everything)
    assert SECRET not in dump and "access_token" not in dump


def test_reset_forgets_registrations_and_calls(
    sandbox: SandboxServer, receiver: Receiver, client: WeComClient, http: urllib3.PoolManager
) -> None:
    register(http, sandbox)
    client.add_contact_way(CREDS, users=["zhangsan"], state="ch1")
    assert call(http, sandbox, "POST", "/sandbox/reset")[0] == 200
    assert call(http, sandbox, "GET", "/sandbox/calls")[1] == {"calls": []}
    status, answer = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "ch1"})
    assert status == 404 and answer["error"]["code"] == "not_found"


# --- bad requests --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        (
            "POST",
            "/sandbox/corps",
            {"tenant_id": "t1", "token": TOKEN, "encoding_aes_key": KEY},
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/sandbox/corps",
            {"corp_id": CORP, "tenant_id": "t1", "token": TOKEN, "encoding_aes_key": "short"},
            400,
            "invalid_encoding_aes_key",
        ),
        ("POST", "/sandbox/corps", b"{not json", 400, "invalid_request"),
        ("POST", "/sandbox/corps", b"[1, 2]", 400, "invalid_request"),
        ("POST", "/sandbox/scan", {"corp_id": "wwunregistered"}, 400, "invalid_request"),
        ("POST", "/sandbox/scan", {"corp_id": "wwunregistered", "state": "x"}, 404, "not_found"),
        ("POST", "/sandbox/faults", {"api": "gettoken", "errcode": "-1"}, 400, "invalid_request"),
        ("POST", "/sandbox/faults", {"api": "gettoken", "errcode": -1, "times": 0}, 400, "invalid_request"),
        ("POST", "/sandbox/contacts", {"corp_id": CORP, "external_userid": "not-an-id"}, 400, "invalid_request"),
        ("POST", "/sandbox/tasks/msgnope/confirm", {"userid": "zhangsan"}, 400, "invalid_request"),
        ("POST", "/sandbox/tasks/msgnope/confirm", {}, 400, "invalid_request"),
        ("GET", "/sandbox/tasks/msgnope/confirm", None, 405, "method_not_allowed"),
        (
            "POST",
            "/sandbox/moments/publish",
            {"corp_id": CORP, "moment_id": "mo0", "userid": "z"},
            400,
            "invalid_request",
        ),
        ("POST", "/sandbox/moments/publish", {"corp_id": CORP}, 400, "invalid_request"),
        ("GET", "/sandbox/scan", None, 405, "method_not_allowed"),
        ("POST", "/sandbox/nothing", {}, 404, "not_found"),
        ("GET", "/elsewhere", None, 404, "not_found"),
    ],
)
def test_bad_control_requests_answer_json_errors(
    sandbox: SandboxServer, http: urllib3.PoolManager, method: str, path: str, body: Any, status: int, code: str
) -> None:
    got_status, answer = call(http, sandbox, method, path, body)
    assert got_status == status
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]


def test_scan_for_a_state_without_contact_way_is_a_400(sandbox: SandboxServer, http: urllib3.PoolManager) -> None:
    register(http, sandbox)
    status, answer = call(http, sandbox, "POST", "/sandbox/scan", {"corp_id": CORP, "state": "nope"})
    assert status == 400 and "nope" in answer["error"]["message"]


def test_cgi_bin_answers_like_wecom(sandbox: SandboxServer, http: urllib3.PoolManager) -> None:
    status, answer = call(http, sandbox, "POST", "/cgi-bin/externalcontact/get_corp_tag_list?access_token=x", b"{bad")
    assert (status, answer["errcode"]) == (200, 47001)
    status, answer = call(http, sandbox, "POST", "/cgi-bin/externalcontact/get_corp_tag_list?access_token=x", {})
    assert (status, answer["errcode"]) == (200, 40014)
    transport = Urllib3Transport(sandbox.base_url)
    with pytest.raises(errors.WeComTransportError) as info:
        transport.request("POST", "/cgi-bin/no/such_api", query={"access_token": "tok"}, body={}, timeout=2)
    assert info.value.details == {"path": "/cgi-bin/no/such_api", "status": 404}


# --- transport -----------------------------------------------------------------------------------------------------


def test_transport_errors_hide_the_url(receiver: Receiver) -> None:
    port = _closed_port()
    transport = Urllib3Transport(f"http://127.0.0.1:{port}")
    with pytest.raises(errors.WeComTransportError) as info:
        transport.request(
            "GET", "/cgi-bin/gettoken", query={"corpsecret": "s3cret", "access_token": "t0k"}, body=None, timeout=1
        )
    text = f"{info.value} {info.value.to_body()} {info.value.__cause__!r} {info.value.__context__!r}"
    assert "s3cret" not in text and "t0k" not in text
    assert info.value.__suppress_context__


def test_transport_rejects_non_json(receiver: Receiver) -> None:
    # The receiver answers an empty body to any POST without a valid envelope; that is not a JSON object.
    receiver.fail_with = 200
    transport = Urllib3Transport(receiver.base_url)
    with pytest.raises(errors.WeComTransportError):
        transport.request("POST", "/cgi-bin/gettoken", query={}, body={}, timeout=2)


def test_world_transport_maps_unknown_apis_to_transport_errors() -> None:
    with pytest.raises(errors.WeComTransportError):
        WorldTransport(WeComWorld()).request("POST", "/cgi-bin/nope", query={}, body=None, timeout=1)


def test_sandbox_runs_as_a_module() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.sandbox", "--port", "0", "--api", "http://127.0.0.1:9"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        response = urllib3.PoolManager().request("GET", f"{url}/sandbox/health", retries=False, timeout=5)
        assert json.loads(response.data) == {"ok": True}
    finally:
        process.terminate()
        process.wait(timeout=5)


# --- world rules ---------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def token(world: WeComWorld, corp: str = CORP) -> str:
    return str(world.handle("/cgi-bin/gettoken", {"corpid": corp, "corpsecret": "s"}, None)["access_token"])


def api(world: WeComWorld, name: str, body: dict[str, Any], corp: str = CORP) -> dict[str, Any]:
    return world.handle(f"/cgi-bin/externalcontact/{name}", {"access_token": token(world, corp)}, body)


def test_gettoken_reuses_a_live_token_and_checks_its_arguments() -> None:
    world = WeComWorld(clock=Clock(1_700_000_000))
    first = world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": "s"}, None)
    again = world.handle("/cgi-bin/gettoken", {"corpid": CORP, "corpsecret": "s"}, None)
    assert first["access_token"] == again["access_token"] and first["expires_in"] == 7200
    assert world.handle("/cgi-bin/gettoken", {"corpsecret": "s"}, None)["errcode"] == 41002
    assert world.handle("/cgi-bin/gettoken", {"corpid": CORP}, None)["errcode"] == 41004
    assert "corpsecret" not in world.calls("gettoken")[0].payload
    with pytest.raises(UnknownApiError):
        world.handle("/cgi-bin/externalcontact/unknown", {}, {})


def test_send_result_pagination_and_limits() -> None:
    world = WeComWorld(clock=Clock(1_700_000_000))
    exts = [f"wmPage{i:04d}" for i in range(5)]
    for ext in exts:
        world.event(CORP, "add_external_contact", userid="zhangsan", external_userid=ext)
    msgid = api(world, "add_msg_template", {"sender": "zhangsan", "external_userid": exts, "text": {"content": "x"}})[
        "msgid"
    ]
    seen, cursor = [], ""
    while True:
        page = api(
            world, "get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan", "limit": 2, "cursor": cursor}
        )
        assert len(page["send_list"]) <= 2
        seen += [row["external_userid"] for row in page["send_list"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == exts
    big = api(world, "get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan", "limit": 5000})
    assert len(big["send_list"]) == 5  # an out-of-range limit falls back to the default (500)
    bad = api(world, "get_groupmsg_send_result", {"msgid": msgid, "userid": "zhangsan", "cursor": "garbage"})
    assert bad["errcode"] == 50100
    other = api(world, "get_groupmsg_send_result", {"msgid": msgid, "userid": "lisi"})
    assert other["send_list"] == []


def test_groupmsg_list_range_is_at_most_a_month() -> None:
    world = WeComWorld(clock=Clock(1_700_000_000))
    ok = api(world, "get_groupmsg_list_v2", {"chat_type": "single", "start_time": 0, "end_time": 31 * 86400})
    assert ok["errcode"] == 0 and ok["group_msg_list"] == []
    too_long = api(world, "get_groupmsg_list_v2", {"chat_type": "single", "start_time": 0, "end_time": 31 * 86400 + 1})
    assert too_long["errcode"] == 40058
    assert api(world, "get_groupmsg_list_v2", {"start_time": 0, "end_time": 1})["errcode"] == 40058


def test_monthly_receive_limit_defaults_to_days_in_month_in_china_time() -> None:
    feb = 1_706_976_000  # 2024-02-04 00:00 Beijing (2024-02-03 16:00 UTC)
    clock = Clock(feb)
    world = WeComWorld(clock=clock)
    world.event(CORP, "add_external_contact", userid="zhangsan", external_userid="wmMonthly0001")
    statuses = []
    for _ in range(30):
        msgid = api(
            world,
            "add_msg_template",
            {"sender": "zhangsan", "external_userid": ["wmMonthly0001"], "text": {"content": "x"}},
        )["msgid"]
        counts = world.confirm_task(msgid, "zhangsan")
        statuses.append("sent" if counts["sent"] else "limit")
    assert statuses == ["sent"] * 29 + ["limit"]  # February 2024 has 29 days
    clock.now = 1_709_222_400  # 2024-03-01 00:00 Beijing, still February in UTC
    msgid = api(
        world,
        "add_msg_template",
        {"sender": "zhangsan", "external_userid": ["wmMonthly0001"], "text": {"content": "x"}},
    )["msgid"]
    assert world.confirm_task(msgid, "zhangsan")["sent"] == 1


def test_confirm_is_for_the_sender_and_only_once() -> None:
    world = WeComWorld(clock=Clock(1_700_000_000))
    world.event(CORP, "add_external_contact", userid="zhangsan", external_userid="wmConfirm0001")
    msgid = api(
        world,
        "add_msg_template",
        {"sender": "zhangsan", "external_userid": ["wmConfirm0001"], "text": {"content": "x"}},
    )["msgid"]
    with pytest.raises(WorldError):
        world.confirm_task(msgid, "lisi")
    world.confirm_task(msgid, "zhangsan")
    with pytest.raises(WorldError):
        world.confirm_task(msgid, "zhangsan")
    with pytest.raises(WorldError):
        world.confirm_task("msgunknown", "zhangsan")


def test_mark_tag_rules() -> None:
    world = WeComWorld(clock=Clock(1_700_000_000))
    world.event(CORP, "add_external_contact", userid="zhangsan", external_userid="wmTagged0001")
    group = api(world, "add_corp_tag", {"group_name": "意向", "tag": [{"name": "高"}]})["tag_group"]
    tag_id = group["tag"][0]["id"]
    base = {"userid": "zhangsan", "external_userid": "wmTagged0001"}
    assert api(world, "mark_tag", {**base, "add_tag": [], "remove_tag": []})["errcode"] == 40058
    assert api(world, "mark_tag", {**base, "add_tag": ["etNope"]})["errcode"] == 40068
    assert api(world, "mark_tag", {**base, "userid": "lisi", "add_tag": [tag_id]})["errcode"] == 84061
    assert api(world, "mark_tag", {**base, "add_tag": [tag_id]})["errcode"] == 0
    assert api(world, "add_corp_tag", {"group_id": group["group_id"], "tag": [{"name": "高"}]})["errcode"] == 40071
    assert api(world, "add_corp_tag", {"group_name": "x" * 31, "tag": [{"name": "a"}]})["errcode"] == 40072
    api(world, "del_corp_tag", {"tag_id": [tag_id]})
    follow = api(world, "get", {})  # missing external_userid
    assert follow["errcode"] == 41035
    profile = world.handle(
        "/cgi-bin/externalcontact/get", {"access_token": token(world), "external_userid": "wmTagged0001"}, None
    )
    assert profile["follow_user"][0]["tags"] == []


def test_no_welcome_code_for_a_pair_that_was_related_before() -> None:
    world = WeComWorld(clock=Clock(1_700_000_000))
    first = world.event(CORP, "add_external_contact", userid="zhangsan", external_userid="wmAgain0001")
    world.event(CORP, "del_follow_user", userid="zhangsan", external_userid="wmAgain0001")
    again = world.event(CORP, "add_external_contact", userid="zhangsan", external_userid="wmAgain0001")
    assert "WelcomeCode" in first and "WelcomeCode" not in again
    other_staff = world.event(CORP, "add_external_contact", userid="lisi", external_userid="wmAgain0001")
    assert "WelcomeCode" in other_staff


def test_synthetic_profiles_are_deterministic_across_worlds() -> None:
    def profile() -> dict[str, Any]:
        world = WeComWorld(clock=Clock(1_700_000_000))
        world.event(CORP, "add_external_contact", userid="zhangsan", external_userid="wmSynthetic01")
        answer = world.handle(
            "/cgi-bin/externalcontact/get", {"access_token": token(world), "external_userid": "wmSynthetic01"}, None
        )
        return dict(answer["external_contact"])

    assert profile() == profile()
    assert profile()["name"].startswith("家长")


def test_world_rejects_ids_that_are_not_external_userids() -> None:
    world = WeComWorld()
    with pytest.raises(WorldError):
        world.scan(CORP, "x", userid="zhangsan", external_userid="ext-1")
    with pytest.raises(WorldError):
        world.scan(CORP, "no-such-state")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
