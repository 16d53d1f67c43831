"""The sandbox's 客户继承 routes over loopback HTTP: a refusal and a settled hand-over reach the corp's callback URL
as signed, encrypted events (transfer_fail, del_external_contact DELETE_BY_TRANSFER), each once; resignation and
customer limits are set; bad requests answer 4xx JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from devstack.sandbox import SandboxServer
from devstack.sandbox_events import EventsSecretFile
from devstack.wecom_world import WeComWorld
from tests.unit.test_sandbox_groups import CORP, EVENTS_SECRET, KEY, T0, TENANT, TOKEN, Siyu, call, ok

DAY = 86_400


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def siyu() -> Iterator[Siyu]:
    s = Siyu()
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(siyu: Siyu, clock: Clock, tmp_path: Path) -> Iterator[SandboxServer]:
    secret_file = tmp_path / "events_secret"
    secret_file.write_text(EVENTS_SECRET + "\n")
    server = SandboxServer(
        api_base=siyu.base_url, world=WeComWorld(clock=clock), events_secrets=EventsSecretFile(secret_file, TENANT)
    ).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager()


@pytest.fixture
def world(http: urllib3.PoolManager, sandbox: SandboxServer) -> WeComWorld:
    ok(http, sandbox, "POST", "/sandbox/corps", {"corp_id": CORP, "tenant_id": TENANT, "token": TOKEN,
                                                 "encoding_aes_key": KEY})  # fmt: skip
    for ext in ("wmA1", "wmB2"):
        sandbox.world.event(CORP, "add_external_contact", userid="zhang", external_userid=ext)
    token = sandbox.world.handle("gettoken", {"corpid": CORP, "corpsecret": "s"}, None)["access_token"]
    body = {"handover_userid": "zhang", "takeover_userid": "li", "external_userid": ["wmA1", "wmB2"]}
    assert sandbox.world.handle("externalcontact/transfer_customer", {"access_token": token}, body)["errcode"] == 0
    return sandbox.world


def test_a_refusal_and_a_completion_are_delivered_once(
    http: urllib3.PoolManager, sandbox: SandboxServer, world: WeComWorld, siyu: Siyu, clock: Clock
) -> None:
    refused = ok(http, sandbox, "POST", "/sandbox/handover/refuse", {"corp_id": CORP, "external_userid": "wmA1"})
    assert [c["callback_status"] for c in refused["callbacks"]] == [200]
    clock.now += DAY
    settled = ok(http, sandbox, "POST", "/sandbox/handover/settle", {"corp_id": CORP})
    assert len(settled["callbacks"]) == 1
    assert ok(http, sandbox, "POST", "/sandbox/handover/settle", {"corp_id": CORP}) == {"callbacks": []}
    told = [(e["ChangeType"], e.get("FailReason") or e.get("Source"), e["ExternalUserID"]) for e, _ in siyu.callbacks]
    assert told == [
        ("transfer_fail", "customer_refused", "wmA1"),
        ("del_external_contact", "DELETE_BY_TRANSFER", "wmB2"),
    ]
    listed = ok(http, sandbox, "GET", f"/sandbox/handover?corp_id={CORP}")["transfers"]
    assert [(t["external_userid"], t["status"]) for t in listed] == [("wmA1", 3), ("wmB2", 1)]


def test_resignation_and_limits_are_set_and_bad_requests_refused(
    http: urllib3.PoolManager, sandbox: SandboxServer, world: WeComWorld
) -> None:
    ok(http, sandbox, "POST", "/sandbox/handover/resign", {"corp_id": CORP, "userid": "zhang"})
    ok(http, sandbox, "POST", "/sandbox/handover/limit", {"corp_id": CORP, "userid": "li", "limit": 5})
    assert world.corps[CORP].resigned == {"zhang": int(T0)} and world.corps[CORP].customer_limits == {"li": 5}
    for path, body in (
        ("/sandbox/handover/limit", {"corp_id": CORP, "userid": "li", "limit": -1}),
        ("/sandbox/handover/refuse", {"corp_id": CORP, "external_userid": "wmZ9"}),  # nothing waiting
        ("/sandbox/handover/resign", {"corp_id": CORP}),
    ):
        status, answer = call(http, sandbox, "POST", path, body)
        assert 400 <= status < 500 and "error" in answer, (path, answer)
    assert call(http, sandbox, "GET", "/sandbox/handover")[0] == 400
