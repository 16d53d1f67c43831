"""The sandbox's WeCom state outlives a restart: WeComWorld.snapshot/restore, and SandboxServer(state_path=...)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.ports import Message, WeComCredentials
from devstack.sandbox import SandboxServer
from devstack.wecom_world import SEND_OK, SnapshotError, WeComWorld, WorldError, WorldTransport

CORP = "wwstatetest00001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="sandbox-secret")
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
# Nothing listens there: a scan still applies and answers, with callback_status None.
UNREACHABLE_API = "http://127.0.0.1:9"


class Clock:
    def __init__(self, now: float = 1_760_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def in_process(world: WeComWorld) -> WeComClient:
    return WeComClient(WorldTransport(world), sleep=lambda s: None)


def get_contact_way(world: WeComWorld, config_id: str) -> dict[str, Any]:
    """externalcontact/get_contact_way (not in WeComClient), with a fresh token."""
    token = world.handle("gettoken", {"corpid": CORP, "corpsecret": "sandbox-secret"}, None)["access_token"]
    answer = world.handle("externalcontact/get_contact_way", {"access_token": token}, {"config_id": config_id})
    assert answer["errcode"] == 0, answer
    way: dict[str, Any] = answer["contact_way"]
    return way


# --- WeComWorld.snapshot / restore ----------------------------------------------------------------------------------


def populated_world(clock: Clock) -> tuple[WeComWorld, dict[str, Any]]:
    world = WeComWorld(clock=clock)
    world.register_corp(CORP, secret="sandbox-secret", monthly_limit=4)
    client = in_process(world)
    way = client.add_contact_way(CREDS, users=["zhang", "li"], state="ch_spring")
    group = client.add_corp_tags(CREDS, group_name="来源", tag_names=["抖音", "小红书"])
    scan = world.scan(CORP, "ch_spring", name="王妈妈")
    client.mark_tag(
        CREDS,
        userid=scan["UserID"],
        external_userid=scan["ExternalUserID"],
        add_tag=[group.tags["抖音"]],
        remove_tag=[],
    )
    task = client.add_msg_template(
        CREDS, sender="zhang", external_userids=[scan["ExternalUserID"]], message=Message(text="秋季班开课")
    )
    world.confirm_task(task.msgid, "zhang")
    return world, {"way": way, "group": group, "scan": scan, "msgid": task.msgid}


def test_world_snapshot_round_trips_ways_relations_tags_and_tasks() -> None:
    clock = Clock()
    world, made = populated_world(clock)
    data = world.snapshot()
    assert json.loads(data)["version"] == 1  # versioned JSON

    restored = WeComWorld(clock=clock)
    restored.restore(data)

    assert restored.snapshot() == data
    way = get_contact_way(restored, made["way"].config_id)
    assert (way["state"], way["user"]) == ("ch_spring", ["zhang", "li"])
    client = in_process(restored)  # a new client: a restored world issues new tokens
    profile = client.get_external_contact(CREDS, made["scan"]["ExternalUserID"])
    assert profile.name == "王妈妈"
    (follow,) = profile.follow_users
    assert (follow.userid, follow.state) == ("zhang", "ch_spring")
    assert follow.tag_ids == (made["group"].tags["抖音"],)
    assert [g.tags for g in client.get_corp_tag_list(CREDS)] == [made["group"].tags]
    result = client.get_groupmsg_send_result(CREDS, msgid=made["msgid"], userid="zhang")
    assert [r["status"] for r in result["send_list"]] == [SEND_OK]
    assert client.get_groupmsg_task(CREDS, msgid=made["msgid"])["task_list"][0]["status"] == 2  # sent


def test_after_restore_scans_by_state_continue_the_rotation_and_restored_tags_mark() -> None:
    clock = Clock()
    world, made = populated_world(clock)
    restored = WeComWorld(clock=clock)
    restored.restore(world.snapshot())

    scan = restored.scan(CORP, "ch_spring")  # the first scan went to zhang
    assert scan["UserID"] == "li" and scan["State"] == "ch_spring"
    assert scan["ExternalUserID"] != made["scan"]["ExternalUserID"]  # the id sequence continues
    client = in_process(restored)
    tag_id = made["group"].tags["小红书"]
    client.mark_tag(CREDS, userid="li", external_userid=scan["ExternalUserID"], add_tag=[tag_id], remove_tag=[])
    profile = client.get_external_contact(CREDS, scan["ExternalUserID"])
    assert profile.follow_users[0].tag_ids == (tag_id,)
    assert restored.calls("externalcontact/mark_tag")[-1].errcode == 0


def test_snapshot_leaves_out_tokens_calls_and_faults() -> None:
    world, _ = populated_world(Clock())
    old_token = world.handle("gettoken", {"corpid": CORP, "corpsecret": "sandbox-secret"}, None)["access_token"]
    world.inject("externalcontact/get_corp_tag_list", 45009)
    restored = WeComWorld()
    restored.restore(world.snapshot())
    assert restored.calls() == []
    answer = restored.handle("externalcontact/get_corp_tag_list", {"access_token": old_token}, {})
    assert answer["errcode"] == 40014  # the client refreshes its token on this
    assert [g.group_name for g in in_process(restored).get_corp_tag_list(CREDS)] == ["来源"]  # and no 45009 fault


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not a JSON"),
        (b"[]", "not a WeCom world snapshot"),
        (
            json.dumps({"format": "siyu-wecom-world", "version": 99}).encode(),
            "unsupported WeCom world snapshot version",
        ),
    ],
)
def test_restore_refuses_what_it_cannot_read_and_keeps_the_world(data: bytes, message: str) -> None:
    world, _ = populated_world(Clock())
    before = world.snapshot()
    with pytest.raises(SnapshotError, match=message):
        world.restore(data)
    assert world.snapshot() == before


def test_restore_refuses_wrong_shapes_and_broken_references() -> None:
    world, made = populated_world(Clock())
    doc = json.loads(world.snapshot())
    wrong_type = json.loads(json.dumps(doc))
    wrong_type["corps"][CORP]["ways"][made["way"].config_id]["users"] = "zhang"
    with pytest.raises(SnapshotError, match=r"users\[0\]|expected a list"):
        WeComWorld().restore(json.dumps(wrong_type).encode())
    dangling = json.loads(json.dumps(doc))
    dangling["corps"][CORP]["tags"] = {}
    with pytest.raises(SnapshotError, match="inconsistent"):
        WeComWorld().restore(json.dumps(dangling).encode())
    unknown = json.loads(json.dumps(doc))
    unknown["corps"][CORP]["shiny"] = 1
    with pytest.raises(SnapshotError, match="unknown field"):
        WeComWorld().restore(json.dumps(unknown).encode())


def test_restore_replaces_rather_than_merges() -> None:
    world = WeComWorld()
    in_process(world).add_contact_way(CREDS, users=["zhang"], state="old")
    world.restore(WeComWorld().snapshot())
    with pytest.raises(WorldError, match="no contact way"):
        world.scan(CORP, "old")


# --- SandboxServer(state_path=...) ----------------------------------------------------------------------------------


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager()
    yield pool
    pool.clear()


def post(http: urllib3.PoolManager, sandbox: SandboxServer, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = http.request("POST", f"{sandbox.base_url}{path}", body=json.dumps(body).encode(), retries=False)
    return response.status, json.loads(response.data)


def register(http: urllib3.PoolManager, sandbox: SandboxServer, **extra: Any) -> None:
    body = {"corp_id": CORP, "tenant_id": "t1", "token": TOKEN, "encoding_aes_key": KEY, "secret": "sandbox-secret"}
    status, answer = post(http, sandbox, "/sandbox/corps", {**body, **extra})
    assert status == 200, answer


def test_contact_way_made_over_http_survives_a_sandbox_restart(tmp_path: Path, http: urllib3.PoolManager) -> None:
    path = tmp_path / "data" / "sandbox.json"  # the directory is created on the first write
    first = SandboxServer(api_base=UNREACHABLE_API, state_path=path, callback_timeout=1.0).start()
    try:
        register(http, first, callback_url=f"{UNREACHABLE_API}/mine")
        client = WeComClient(Urllib3Transport(first.base_url), sleep=lambda s: None)
        way = client.add_contact_way(CREDS, users=["zhang"], state="ch_restart")
        group = client.add_corp_tags(CREDS, group_name="来源", tag_names=["抖音"])
    finally:
        first.stop()
    assert path.exists() and path.stat().st_mode & 0o077 == 0  # it holds the corps' secrets
    assert not list(path.parent.glob("*.tmp"))

    second = SandboxServer(api_base=UNREACHABLE_API, state_path=path, callback_timeout=1.0).start()
    try:
        status, scan = post(http, second, "/sandbox/scan", {"corp_id": CORP, "state": "ch_restart"})
        assert status == 200, scan  # the corp's registration survived too: no "POST /sandbox/corps first"
        assert (scan["userid"], scan["state"], scan["callback_status"]) == ("zhang", "ch_restart", None)
        assert get_contact_way(second.world, way.config_id)["state"] == "ch_restart"
        client = WeComClient(Urllib3Transport(second.base_url), sleep=lambda s: None)  # tokens are not persisted
        client.mark_tag(
            CREDS, userid="zhang", external_userid=scan["external_userid"], add_tag=[group.tags["抖音"]], remove_tag=[]
        )
        assert second.world.calls("externalcontact/mark_tag")[-1].errcode == 0
    finally:
        second.stop()
    saved = json.loads(path.read_text(encoding="utf-8"))
    (corp,) = saved["corps"]
    assert corp["callback_url"] == f"{UNREACHABLE_API}/mine" and corp["token"] == TOKEN


def test_a_default_callback_url_follows_the_api_base_of_the_new_run(tmp_path: Path, http: urllib3.PoolManager) -> None:
    path = tmp_path / "sandbox.json"
    first = SandboxServer(api_base="http://127.0.0.1:8000", state_path=path).start()
    try:
        register(http, first)
    finally:
        first.stop()
    second = SandboxServer(api_base="http://127.0.0.1:8100", state_path=path).start()
    try:
        assert second.callbacks.get(CORP).callback_url == "http://127.0.0.1:8100/wecom/t1/callback"
    finally:
        second.stop()


def test_reset_is_persisted(tmp_path: Path, http: urllib3.PoolManager) -> None:
    path = tmp_path / "sandbox.json"
    first = SandboxServer(state_path=path).start()
    try:
        register(http, first)
        assert post(http, first, "/sandbox/reset", {})[0] == 200
    finally:
        first.stop()
    second = SandboxServer(state_path=path).start()
    try:
        status, answer = post_local(second, "/sandbox/scan", {"corp_id": CORP, "state": "x"})
        assert status == 404 and "not registered" in answer["error"]["message"]
    finally:
        second.stop()


def post_local(sandbox: SandboxServer, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return sandbox.control("POST", path, {}, json.dumps(body).encode())


@pytest.mark.parametrize(
    "content",
    [
        b"{truncated",
        json.dumps({"format": "siyu-wecom-sandbox", "version": 99, "corps": [], "world": {}}).encode(),
        json.dumps({"format": "siyu-wecom-sandbox", "version": 1, "corps": [], "world": {"format": "x"}}).encode(),
    ],
    ids=["not-json", "unknown-version", "bad-world"],
)
def test_an_unusable_state_file_is_moved_aside_and_the_sandbox_starts_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "sandbox.json"
    path.write_bytes(content)
    sandbox = SandboxServer(state_path=path).start()
    try:
        assert not path.exists()
        assert (tmp_path / "sandbox.json.corrupt").read_bytes() == content
        assert "sandbox.json.corrupt" in capsys.readouterr().err
        assert json.loads(sandbox.world.snapshot())["corps"] == {}
        body = {"corp_id": CORP, "tenant_id": "t1", "token": TOKEN, "encoding_aes_key": KEY}
        assert post_local(sandbox, "/sandbox/corps", body)[0] == 200
        assert json.loads(path.read_bytes())["corps"][0]["corp_id"] == CORP  # a fresh file from then on
    finally:
        sandbox.stop()


def test_without_state_path_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sandbox = SandboxServer().start()
    try:
        body = {"corp_id": CORP, "tenant_id": "t1", "token": TOKEN, "encoding_aes_key": KEY}
        assert post_local(sandbox, "/sandbox/corps", body)[0] == 200
    finally:
        sandbox.stop()
    assert list(tmp_path.iterdir()) == []
