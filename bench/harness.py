"""The running stack (DynamoDB Local, fresh tables, the WeCom sandbox, the real app in process) and one measured
delivery; the callback scenarios that drive it are bench/scenarios.py's.

Everything goes through the real app via chalice.test.Client, exactly as the functional tests drive it, but against
DynamoDB Local (capacity figures close to AWS's) instead of moto (whose capacity figures are wrong).

The app, chalice, moto and devstack are imported inside the methods that start and drive the stack, not at the top:
together they take ~0.6 s to import, which `python -m bench --help` and the offline unit tests (bench/report.py
imports this module for ``Sample`` and ``Scenario``) have no use for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import stats
from bench.capacity import (
    Calibration,
    CallRecord,
    Capacity,
    count_by_api,
    count_operations,
    total_capacity,
    units_by_operation,
)
from bench.common import ADMIN_TOKEN, BenchError
from bench.meter import DynamoMeter, calibrate
from devstack.safe_env import UNSAFE_AWS_ENV

TENANT = "bench"
CORP = "wwbench0000000001"
WECOM = {
    "token": "benchToken42",
    "encoding_aes_key": "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0F9e",
    "secret": "bench-secret",
}
STAFF = (("zhanglaoshi", "张老师"), ("lilaoshi", "李老师"))
# The schema's maximum instead of the default 200 a day: the bench adds hundreds of customers in one local day, and
# a staff member at their cap takes another path (the channel marked full, the code narrowed to the backup), which
# would change the measured operation midway.
STAFF_DAILY_CAP = 100000
CHANNEL = {  # the README walk-through's channel (tests/functional/test_walkthrough.py)
    "name": "抖音-考研直播间",
    "source": "douyin",
    "campaign": "2027考研秋季",
    "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"], "backup_userid": "zhanglaoshi"},
    "welcome": {"text": "您好，我是XX教育的老师，资料包稍后发您～"},
    "tags": [{"group": "流量平台来源", "name": "抖音"}, {"group": "考研年份", "name": "2027"}],
}
TABLE = "siyu-bench"


@dataclass(frozen=True)
class Sample:
    """One measured delivery."""

    latency_s: float
    capacity: Capacity
    ddb_ops: dict[str, int]
    ddb_seconds: float
    ddb_errors: dict[str, int]
    batch_keys: int  # BatchGetItem keys requested / items returned (how much of the snapshot read found nothing)
    batch_found: int
    wecom: dict[str, int]
    outcome: str
    ddb_units: dict[str, float] = field(default_factory=dict)  # billed units by operation


@dataclass
class Scenario:
    key: str
    title: str
    what: str
    n: int
    warmup: int
    judged: bool
    samples: list[Sample] = field(default_factory=list)
    unmetered_calls: int = 0  # audit: DynamoDB calls that bypassed the hooked clients (must be 0)


@dataclass(frozen=True)
class Delivery:
    """A callback as WeCom would POST it: encrypted, signed, in the XML envelope."""

    path: str
    body: bytes
    headers: dict[str, str]


# DynamoDB Local's JVM for a long run: the full JIT (C2), not the tests' C1-only start-up flags
# (devstack.dynamodb_local.DEFAULT_JAVA_OPTS). Measured on the 10,000-touch fan-out: the JVM's CPU fell from about
# 28 s to 17 s. It changes the emulator's speed, not what the app asks of it (units and calls are the same).
BENCH_JAVA_OPTS = ("-Xmx1g", "-XX:+UseSerialGC")


def environment(endpoint: str, wecom_base_url: str, scheduler_endpoint: str = "") -> dict[str, str]:
    """The app's settings for the bench (tenant cache left at its production default)."""
    env = {
        "SIYU_STAGE": "local",
        "SIYU_TABLE": TABLE,
        "SIYU_IDEMPOTENCY_TABLE": f"{TABLE}-idempotency",
        "SIYU_SCHEDULE_GROUP": TABLE,
        "SIYU_DYNAMODB_ENDPOINT": endpoint,
        "SIYU_WECOM_BASE_URL": wecom_base_url,
        "SIYU_ADMIN_TOKEN": ADMIN_TOKEN,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if scheduler_endpoint:
        env["SIYU_SCHEDULER_ENDPOINT"] = scheduler_endpoint
    return env


def apply_environment(env: dict[str, str]) -> None:
    """Replace every SIYU_* and risky AWS_* variable of this process with ``env`` (the bench owns its process)."""
    for name in [n for n in os.environ if n.startswith("SIYU_")] + list(UNSAFE_AWS_ENV):
        os.environ.pop(name, None)
    os.environ.update(env)


def app_dynamodb_clients(svc: Any) -> list[Any]:
    """Every botocore client the app uses for DynamoDB: the store's shared Connection (raw calls, transactions) and
    the Connection PynamoDB creates per model class (``Model.save/update``), for the classes used so far."""
    # The app's modules: imported where the stack needs them (module docstring).
    from chalicelib.adapters.dynamodb.models import SiyuItem

    clients = [svc.store.client]
    pending: list[type] = [SiyuItem]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        table_connection = cls.__dict__.get("_connection")
        if table_connection is not None:
            clients.append(table_connection.connection.client)
    return clients


def keepalive_roundtrip_ms(base_url: str, n: int = 12) -> float:
    """Median time of a trivial sandbox request on a reused (keep-alive) connection, the first one excluded."""
    # urllib3 (~0.07 s to import) only once the stack starts (module docstring).
    import urllib3

    pool = urllib3.PoolManager(num_pools=1, maxsize=1)
    times = []
    try:
        for _ in range(n + 1):
            started = time.perf_counter()
            pool.request("GET", f"{base_url}/sandbox/health", retries=False)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        pool.clear()
    return stats.median(times[1:])


class Stack:
    """DynamoDB Local on a free port with fresh tables, a SandboxServer on a free port, a moto server on a free port
    standing in for EventBridge Scheduler (schedule group provisioned), the app behind chalice's test client. A
    context manager: everything it started is stopped on exit.

    ``nodelay``: the sandbox (http.server) writes a response's headers and body in two sends without TCP_NODELAY,
    so on a keep-alive connection Nagle holds the body until the client's delayed ACK (~40 ms on Linux loopback),
    per WeCom call. That is the sandbox's artefact, not the app's or WeCom's, so by default the bench sets
    TCP_NODELAY on this sandbox instance's connections (and measures a round trip with and without it).
    """

    def __init__(self, *, nodelay: bool = True) -> None:
        self.nodelay = nodelay
        self.roundtrip_ms: dict[str, float] = {}
        self._exit = contextlib.ExitStack()
        self.endpoint = ""
        self.scheduler_endpoint = ""
        self.install_dir: Path | None = None
        self.calibration = Calibration()
        self.sandbox: Any = None
        self.client: Any = None
        self.meter = DynamoMeter()
        self.dynamodb_local_seconds: float | None = None

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _start(self) -> None:
        # devstack: imported where the stack needs it (module docstring).
        from devstack.dynamodb_local import ensure_installed, start_on_free_port
        from devstack.provision import local_client, provision
        from devstack.sandbox import SandboxServer

        self.install_dir = ensure_installed()
        server = start_on_free_port(install_dir=self.install_dir, java_opts=BENCH_JAVA_OPTS)
        self._exit.callback(server.stop)
        self.endpoint = server.endpoint
        self.dynamodb_local_seconds = server.startup_seconds

        self.sandbox = SandboxServer(port=0).start()
        self._exit.callback(self.sandbox.stop)
        self.roundtrip_ms["as shipped"] = keepalive_roundtrip_ms(self.sandbox.base_url)
        # A private attribute of this one SandboxServer instance (its handler class is made per instance); the
        # lasting fix is `disable_nagle_algorithm = True` on devstack.sandbox_http.SandboxRequestHandler.
        handler = getattr(getattr(self.sandbox, "_server", None), "RequestHandlerClass", None)
        if self.nodelay and handler is not None:
            handler.disable_nagle_algorithm = True
            self.roundtrip_ms["TCP_NODELAY"] = keepalive_roundtrip_ms(self.sandbox.base_url)

        self.scheduler_endpoint = self._start_moto()
        apply_environment(environment(self.endpoint, self.sandbox.base_url, self.scheduler_endpoint))
        # The app, as a Lambda imports it: with its environment set (and off `--help`, see the module docstring).
        from chalice.test import Client

        from app import app
        from chalicelib import bootstrap
        from chalicelib.adapters.dynamodb import models
        from chalicelib.settings import Settings

        admin_client = local_client("dynamodb", self.endpoint)
        self.calibration = calibrate(admin_client)
        self.meter = DynamoMeter(calibration=self.calibration)
        provision(
            Settings.from_env(),
            dynamodb_client=admin_client,
            scheduler_client=local_client("scheduler", self.scheduler_endpoint),
        )

        bootstrap.reset()
        models._configured.clear()
        self._exit.callback(bootstrap.reset)
        self._exit.callback(models._configured.clear)
        self._quiet_app_logs()
        self.client = self._exit.enter_context(Client(app, stage_name="local"))

    def _start_moto(self) -> str:
        """moto's server on a free loopback port, as `make run` uses it for EventBridge Scheduler (a thread of this
        process; it serves only the few CreateSchedule calls, so it does not compete for the CPU)."""
        # moto and devstack: imported where the stack needs them (module docstring).
        from moto.server import ThreadedMotoServer

        from devstack.net import LOOPBACK, free_port

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        port = free_port()
        server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        return f"http://{LOOPBACK}:{port}"

    def _quiet_app_logs(self) -> None:
        """Send the app's JSON log lines to /dev/null: they are still formatted and written (a real per-request
        cost), but not into the bench's summary. EMF metric blobs are print()ed; see ``quiet_stdout``."""
        sink = self._exit.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - closed by the ExitStack
        for handler in logging.getLogger("siyu").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sink)

    # --- the app ----------------------------------------------------------------------------------------------

    def services(self) -> Any:
        # The app's modules: imported where the stack needs them (module docstring).
        from chalicelib.bootstrap import services

        return services()

    def attach_meter(self) -> int:
        """Hook any app DynamoDB client not hooked yet (model connections appear lazily); returns how many."""
        return sum(self.meter.attach(c) for c in app_dynamodb_clients(self.services()))

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        raw = json.dumps(body).encode() if body is not None else b""
        resp = self.client.http.request(method, path, body=raw, headers=headers)
        if resp.status_code >= 300:
            raise BenchError(f"{method} {path} answered {resp.status_code}: {resp.body[:500]!r}")
        return json.loads(resp.body) if resp.body else None

    def setup_tenant(self) -> str:
        """Tenant, tenant admin token, two staff, one round-robin channel with a welcome and two auto-tags, through
        the admin API as an operator would. Returns the channel's state (what its QR code carries)."""
        self.call(
            "POST",
            "/admin/tenants",
            {"tenant_id": TENANT, "name": "性能测试教育", "corp_id": CORP, "wecom": WECOM},
            ADMIN_TOKEN,
        )
        token = self.call("POST", f"/admin/tenants/{TENANT}/tokens", {"role": "admin"}, ADMIN_TOKEN)["token"]
        for userid, name in STAFF:
            self.call(
                "POST", f"/t/{TENANT}/staff", {"userid": userid, "name": name, "daily_cap": STAFF_DAILY_CAP}, token
            )
        channel = self.call("POST", f"/t/{TENANT}/channels", CHANNEL, token)
        return str(channel["state"])

    def scan(self, state: str) -> dict[str, Any]:
        """A new customer scans the channel's code: the sandbox picks the staff member and issues a welcome code."""
        fields: dict[str, Any] = self.sandbox.world.scan(CORP, state)
        return fields

    def encrypt(
        self, fields: dict[str, Any], *, tenant: str = TENANT, corp: str = CORP, wecom: dict[str, str] = WECOM
    ) -> Delivery:
        """The callback as WeCom POSTs it to ``tenant``'s callback URL (the bench tenant's by default)."""
        # The app's modules: imported where the stack needs them (module docstring).
        from chalicelib.adapters.wecom.callback_xml import build_event_xml
        from chalicelib.adapters.wecom.crypto import CallbackCrypto, envelope

        crypto = CallbackCrypto(wecom["token"], wecom["encoding_aes_key"], corp)
        ts, nonce = str(int(time.time())), str(time.perf_counter_ns() % 10**9)
        encrypted, sig = crypto.encrypt(build_event_xml(fields), nonce=nonce, timestamp=ts)
        query = urlencode({"msg_signature": sig, "timestamp": ts, "nonce": nonce})
        body = envelope(corp, encrypted)
        return Delivery(f"/wecom/{tenant}/callback?{query}", body, {"Content-Type": "text/xml"})

    def deliver(self, fields: dict[str, Any], expect: str) -> Sample:
        """POST one encrypted callback and account for it: latency, DynamoDB calls and units, WeCom calls."""
        self.attach_meter()
        delivery = self.encrypt(fields)  # encryption is WeCom's work, outside the timed section
        world = self.sandbox.world
        wecom_before = len(world.calls())
        mark = self.meter.mark()
        started = time.perf_counter()
        resp = self.client.http.request("POST", delivery.path, body=delivery.body, headers=delivery.headers)
        latency = time.perf_counter() - started
        records = self.meter.since(mark)
        wecom_calls = world.calls()[wecom_before:]
        outcome = json.loads(resp.body).get("outcome", "?") if resp.status_code == 200 else f"HTTP {resp.status_code}"
        if outcome != expect:
            raise BenchError(f"expected outcome {expect!r}, got {outcome!r}: {resp.body[:500]!r}")
        return sample_of(latency, records, wecom_calls, outcome)


def sample_of(latency: float, records: list[CallRecord], wecom_calls: list[Any], outcome: str) -> Sample:
    batch = [r for r in records if r.operation == "BatchGetItem"]
    return Sample(
        latency_s=latency,
        capacity=total_capacity(records),
        ddb_ops=count_operations(records),
        ddb_seconds=sum(r.seconds for r in records),
        ddb_errors=dict(Counter(f"{r.operation}:{r.error}" for r in records if r.error)),
        batch_keys=sum(r.keys_requested for r in batch),
        batch_found=sum(r.items_returned for r in batch),
        wecom=count_by_api(wecom_calls),
        outcome=outcome,
        ddb_units=units_by_operation(records),
    )
