"""The sandbox's transport faults (devstack.sandbox_faults): HTTP 5xx before the world, and a late answer after it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from chalicelib import errors
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.adapters.wecom.transport import Urllib3Transport
from chalicelib.ports import Message, WeComCredentials
from devstack.sandbox import SandboxServer
from devstack.wecom_world import contact_ways

CORP = "wwsandboxfault001"
CREDS = WeComCredentials(tenant_id="t1", corp_id=CORP, secret="s")
SEND = "externalcontact/add_msg_template"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer().start()
    yield server
    server.stop()


def _post(sandbox: SandboxServer, path: str, body: Any) -> tuple[int, Any]:
    response = urllib3.PoolManager().request(
        "POST", f"{sandbox.base_url}{path}", body=json.dumps(body).encode(), retries=False
    )
    return response.status, json.loads(response.data)


def _customer(sandbox: SandboxServer) -> str:
    sandbox.world.register_corp(CORP)
    with sandbox.world.lock:
        contact_ways.add_contact_way(
            sandbox.world, sandbox.world.corp(CORP), {"type": 1, "scene": 2, "user": ["zhang"], "state": "s"}
        )
    return str(sandbox.world.scan(CORP, "s")["ExternalUserID"])


def test_an_http_5xx_answers_before_the_world_and_is_used_once(sandbox: SandboxServer) -> None:
    ext = _customer(sandbox)
    assert _post(sandbox, "/sandbox/faults", {"api": SEND, "http_status": 502, "times": 1})[0] == 200
    client = WeComClient(Urllib3Transport(sandbox.base_url), sleep=lambda s: None)
    with pytest.raises(errors.WeComTransportError, match="HTTP 502"):
        client.add_msg_template(CREDS, sender="zhang", external_userids=[ext], message=Message(text="你好"))
    assert sandbox.world.corp(CORP).tasks == {}  # WeCom's front end refused: no task
    client.add_msg_template(CREDS, sender="zhang", external_userids=[ext], message=Message(text="你好"))
    assert len(sandbox.world.corp(CORP).tasks) == 1


def test_a_late_answer_times_the_client_out_after_the_world_made_the_task(sandbox: SandboxServer) -> None:
    ext = _customer(sandbox)
    assert _post(sandbox, "/sandbox/faults", {"api": SEND, "late_ms": 800})[1] == {
        "api": SEND,
        "errcode": None,
        "late_ms": 800,
        "times": 1,
    }
    client = WeComClient(Urllib3Transport(sandbox.base_url), timeout=0.2, sleep=lambda s: None)
    with pytest.raises(errors.WeComTransportError, match="unreachable"):
        client.add_msg_template(CREDS, sender="zhang", external_userids=[ext], message=Message(text="你好"))
    assert len(sandbox.world.corp(CORP).tasks) == 1  # the task exists although the caller never learnt its msgid


@pytest.mark.parametrize(
    "body",
    [
        {"api": SEND},
        {"api": SEND, "http_status": 502, "late_ms": 10},
        {"api": SEND, "http_status": 404},
        {"api": SEND, "http_status": "502"},
        {"api": SEND, "late_ms": 0},
        {"api": SEND, "late_ms": 600_000},
        {"api": SEND, "delay_ms": -1},
    ],
)
def test_a_bad_fault_is_a_400_and_injects_nothing(sandbox: SandboxServer, body: dict[str, Any]) -> None:
    status, answer = _post(sandbox, "/sandbox/faults", body)
    assert status == 400 and answer["error"]["code"] == "invalid_request", answer
    assert sandbox.http_faults.take(SEND) is None and sandbox.world.faults == {}


def test_reset_clears_transport_faults(sandbox: SandboxServer) -> None:
    _post(sandbox, "/sandbox/faults", {"api": SEND, "http_status": 503, "times": 3})
    assert _post(sandbox, "/sandbox/reset", {})[0] == 200
    assert sandbox.http_faults.take(SEND) is None
