"""Functional fixtures: the real Chalice app through chalice.test.Client, AWS under moto, WeCom = the sandbox on
loopback reached by the real HTTP client.

Time: the app, the sandbox and the tests read one clock, a ``FileClock`` frozen at ``START`` (10:00:05 in Shanghai,
outside quiet hours) that a test moves by hand. No functional test depends on the hour at which it runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import bootstrap
from chalicelib.adapters.clock import FileClock
from chalicelib.adapters.dynamodb import models
from chalicelib.adapters.wecom.callback_xml import build_event_xml
from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope
from chalicelib.settings import Settings
from devstack.provision import provision
from devstack.sandbox import SandboxServer
from tests.functional.log_privacy import (  # noqa: F401  (every functional test is scanned)
    log_privacy,
    pytest_runtest_call,
    pytest_runtest_setup,
    pytest_runtest_teardown,
)

ADMIN = "admin-functional-token"
TENANT = "acme"
CORP = "wwacme0000000001"
WECOM = {
    "token": "acmeToken42",
    "encoding_aes_key": "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v",
    "secret": "acme-secret",
}
START = datetime(2026, 12, 1, 2, 0, 5, tzinfo=UTC)  # Tuesday 10:00:05 in Asia/Shanghai


class TestClock(FileClock):
    """The shared clock, frozen; tests move it forwards with ``advance`` or ``move_to``."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def advance(self, **kwargs: float) -> datetime:
        self.freeze(self.now() + timedelta(**kwargs))
        return self.now()

    def move_to(self, at: datetime) -> datetime:
        self.freeze(at)
        return at

    def stamp(self, seconds_ago: float = 0) -> str:
        """Unix seconds, as the X-Siyu-Timestamp or a WeCom callback carries them."""
        return str(int(self.epoch() - seconds_ago))

    def iso(self, seconds_ago: float = 0) -> str:
        return (self.now() - timedelta(seconds=seconds_ago)).isoformat()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(port=0).start()
    yield server
    server.stop()


@dataclass
class Resp:
    status_code: int
    body: bytes
    headers: dict[str, str]
    json: Any


@dataclass
class Api:
    client: Client
    sandbox: SandboxServer
    clock: TestClock

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        resp = self.client.http.request(method, path, body=raw, headers=hdrs)
        is_json = resp.body and resp.headers.get("Content-Type", "").startswith("application/json")
        return Resp(resp.status_code, resp.body, resp.headers, json.loads(resp.body) if is_json else None)

    def create_tenant(self, tenant_id: str = TENANT, corp_id: str = CORP) -> str:
        """A tenant with an admin token, registered with the sandbox; returns the token."""
        resp = self.call(
            "POST",
            "/admin/tenants",
            {"tenant_id": tenant_id, "name": "示例教育", "corp_id": corp_id, "wecom": WECOM},
            ADMIN,
        )
        assert resp.status_code == 201, resp.body
        return self.token(tenant_id, "admin")

    def token(self, tenant_id: str, role: str, staff_userid: str | None = None) -> str:
        body: dict[str, Any] = {"role": role}
        if staff_userid:
            body["staff_userid"] = staff_userid
        resp = self.call("POST", f"/admin/tenants/{tenant_id}/tokens", body, ADMIN)
        assert resp.status_code == 201, resp.body
        return str(resp.json["token"])

    def callback(
        self,
        tenant_id: str,
        fields: dict[str, Any],
        *,
        corp_id: str = CORP,
        wecom: dict[str, str] | None = None,
        tamper: str | None = None,
    ) -> Any:
        """POST an event exactly as WeCom would: encrypted, signed, in the XML envelope."""
        cfg = wecom or WECOM
        crypto = CallbackCrypto(cfg["token"], cfg["encoding_aes_key"], corp_id)
        ts, nonce = self.clock.stamp(), "1234567"
        encrypted, sig = crypto.encrypt(build_event_xml(fields), nonce=nonce, timestamp=ts)
        if tamper == "signature":
            sig = "0" * 40
        query = urlencode({"msg_signature": sig, "timestamp": ts, "nonce": nonce})
        return self.call(
            "POST",
            f"/wecom/{tenant_id}/callback?{query}",
            envelope(corp_id, encrypted),
            headers={"Content-Type": "text/xml"},
        )

    def scan(self, state: str, tenant_id: str = TENANT, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        fields = self.sandbox.world.scan(CORP, state, **kwargs)
        return fields, self.callback(tenant_id, fields)


@pytest.fixture
def api(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Api]:
    clock = TestClock(tmp_path / "clock.json")
    clock.freeze(START)
    env = {
        "SIYU_CLOCK_FILE": str(clock.path),
        "SIYU_TABLE": "siyu-functional",
        "SIYU_IDEMPOTENCY_TABLE": "siyu-functional-idempotency",
        "SIYU_SCHEDULE_GROUP": "siyu-functional",
        "SIYU_WECOM_BASE_URL": sandbox.base_url,
        "SIYU_ADMIN_TOKEN": ADMIN,
        "SIYU_TENANT_CACHE_SECONDS": "0",
        "SIYU_SECRETS": "ssm",  # tenant credentials in (moto's) SSM, as deployed: docs/deploy.md, "Secrets"
        "SIYU_WECOM_OAUTH_URL": f"{sandbox.base_url}/connect/oauth2/authorize",  # staff sign-in (the console)
        "SIYU_CONSOLE_URL": "http://console.test",
        "SIYU_JSSDK_URL": f"{sandbox.base_url}/sandbox/jssdk.js",  # the chat sidebar's JS-SDK: the sandbox's player
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sandbox.world.reset()
    sandbox.world.use_clock(clock.epoch)
    with mock_aws():
        settings = Settings.from_env(env)
        provision(
            settings,
            dynamodb_client=boto3.client("dynamodb", region_name="us-east-1"),
            scheduler_client=boto3.client("scheduler", region_name="us-east-1"),
            s3_client=boto3.client("s3", region_name="us-east-1"),
        )
        bootstrap.reset()
        models._configured.clear()
        from app import app

        with Client(app, stage_name="local") as client:
            yield Api(client, sandbox, clock)
        bootstrap.reset()
        models._configured.clear()
