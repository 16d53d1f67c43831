"""The local stack in the foreground (`make run` / `python -m devstack.run`).

DynamoDB Local (persisted under devstack/.data/dynamodb; moto in memory when Java is missing), a moto server for
EventBridge Scheduler, tables and schedule group provisioned from infra/, the WeCom sandbox, and the API under
`chalice local`; then a demo tenant seeded through the real admin HTTP API. moto stores schedules but never fires
them, so a Scheduler pump (devstack/pump.py) does: a thread of this process that invokes the app's real Lambda entry
points (app.fire, i.e. chalicelib.jobs.sop.fire, for each due schedule; the @app.schedule jobs such as the 5-minute
backstop at their rates) with the environment the API gets. Ctrl-C stops everything it started.

Ports come from SIYU_API_PORT, SIYU_SANDBOX_PORT, SIYU_DYNAMODB_PORT and SIYU_MOTO_PORT (8000-8003), so two stacks
can run side by side; everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any, Protocol

from chalicelib.settings import (
    ENV_ADMIN_TOKEN,
    ENV_DYNAMODB_ENDPOINT,
    ENV_REGION,
    ENV_SCHEDULER_ENDPOINT,
    ENV_STAGE,
    ENV_WECOM_BASE_URL,
    Settings,
)
from devstack.dynamodb_local import (
    DynamoDBLocal,
    DynamoDBLocalError,
    die_with_parent,
    ensure_installed,
    java_available,
    java_missing_reason,
    stop_process_group,
)
from devstack.ports import LOOPBACK, PortError, is_port_free, port_from_env
from devstack.provision import REPO_ROOT, local_client, provision

ENV_API_PORT = "SIYU_API_PORT"
ENV_SANDBOX_PORT = "SIYU_SANDBOX_PORT"
ENV_DYNAMODB_PORT = "SIYU_DYNAMODB_PORT"
ENV_MOTO_PORT = "SIYU_MOTO_PORT"
DEFAULT_PORTS = {ENV_API_PORT: 8000, ENV_SANDBOX_PORT: 8001, ENV_DYNAMODB_PORT: 8002, ENV_MOTO_PORT: 8003}

DATA_DIR = REPO_ROOT / "devstack" / ".data"
ADMIN_TOKEN_FILE = "admin_token"
DEMO_TENANT_FILE = "demo_tenant.json"
SANDBOX_STATE_FILE = "sandbox.json"  # the WeCom sandbox's state, so contact ways and tags outlive a restart
EVENTS_SECRET_FILE = "events_secret"  # the demo tenant's business-events secret (POST /t/demo/events is signed)
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"
PUMP_INTERVAL = 5.0  # seconds between two reads of the moto schedule group
STAGE = "local"
REGION = "us-east-1"

DEMO_TENANT_ID = "demo"
DEMO_CORP_ID = "wwdemo0000000001"
DEMO_TENANT = {"tenant_id": DEMO_TENANT_ID, "name": "示例教育", "corp_id": DEMO_CORP_ID, "timezone": "Asia/Shanghai"}
DEMO_WECOM_SECRET = "sandbox-secret"
DEMO_STAFF = (
    {"userid": "zhanglaoshi", "name": "张老师", "role": "sales", "daily_cap": 200},
    {"userid": "lilaoshi", "name": "李老师", "role": "sales", "daily_cap": 200},
)
DEMO_CHANNEL = {
    "name": "抖音-考研直播间",
    "source": "douyin",
    "campaign": "2027考研秋季",
    "staff": {"mode": "round_robin", "userids": ["zhanglaoshi", "lilaoshi"], "backup_userid": "zhanglaoshi"},
    "welcome": {"text": "您好，我是XX教育的老师，资料包稍后发您～"},
    "tags": [{"group": "流量平台来源", "name": "抖音"}],
}

#: What the API reloader watches: the app's code and config, not .venv, node_modules or the database files.
WATCHED = ("app.py", "chalicelib", ".chalice/config.json", "requirements.txt")
_ALNUM = string.ascii_letters + string.digits

log = logging.getLogger("devstack")


class StackError(RuntimeError):
    """The stack cannot start; the message says what to do."""


class SeedError(RuntimeError):
    """A seeding request failed; the message carries the method, path, HTTP status and body."""


class Shutdown(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP so every `finally` and ExitStack callback runs."""


# --------------------------------------------------------------------------------------------------- small state files


def _write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600: these files hold tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def random_alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def load_or_create_admin_token(data_dir: Path, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(token, where it came from): SIYU_ADMIN_TOKEN if set, else the one kept in data_dir, else a new one kept there.

    Keeping it means a restart does not invalidate the token a developer pasted into curl or a client.
    """
    from_env = (os.environ if env is None else env).get(ENV_ADMIN_TOKEN, "").strip()
    if from_env:
        return from_env, f"from ${ENV_ADMIN_TOKEN}"
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept, f"kept in {_rel(path)}"
    token = secrets.token_urlsafe(32)
    _write_private(path, token + "\n")
    return token, f"new, kept in {_rel(path)}"


def load_or_create_demo_secrets(data_dir: Path) -> tuple[dict[str, str], bool]:
    """The demo corp's callback token (32 alnum) and EncodingAESKey (43 alnum), and whether they were just made.

    They must survive restarts: the tenant already exists in DynamoDB with them, and the sandbox signs with them.
    """
    path = data_dir / DEMO_TENANT_FILE
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            kept = json.loads(path.read_text(encoding="utf-8"))
            if _valid_demo_secrets(kept):
                return {"token": kept["token"], "encoding_aes_key": kept["encoding_aes_key"]}, False
    made = {"token": random_alnum(32), "encoding_aes_key": random_alnum(43)}
    _write_private(path, json.dumps({"tenant_id": DEMO_TENANT_ID, "corp_id": DEMO_CORP_ID, **made}, indent=2) + "\n")
    return made, True


def _valid_demo_secrets(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("token"), str)
        and len(data["token"]) == 32
        and isinstance(data.get("encoding_aes_key"), str)
        and len(data["encoding_aes_key"]) == 43
        and data["token"].isalnum()
        and data["encoding_aes_key"].isalnum()
    )


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------------------------------ HTTP

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only: never via a proxy


def http_json(
    method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 15.0
) -> tuple[int, Any]:
    """(status, parsed JSON or text) for a request; HTTP errors are returned, connection failures raise SeedError."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json; charset=utf-8")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SeedError(f"{method} {url}: no answer ({reason})") from exc
    text = raw.decode("utf-8", errors="replace")
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def _expect(method: str, url: str, status: int, body: Any, ok: tuple[int, ...]) -> None:
    if status not in ok:
        shown = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        hint = ""
        if status == 403 and ("Missing Authentication Token" in shown or "Authorization header requires" in shown):
            hint = " [API Gateway (and chalice local) answers like this for a route that does not exist]"
        raise SeedError(f"{method} {url} -> HTTP {status} (expected {'/'.join(map(str, ok))}): {shown}{hint}")


class HttpFn(Protocol):
    """The shape of http_json, so seed() can be tested against an in-memory fake API."""

    def __call__(self, method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]: ...


# ------------------------------------------------------------------------------------------------------------ seeding


def seed(
    api_base: str, admin_token: str, sandbox_base: str | None, data_dir: Path, *, http: HttpFn = http_json
) -> dict[str, Any]:
    """Create the demo tenant, a tenant admin token, two staff and one channel through the admin HTTP API, and keep
    the tenant's business-events secret in data_dir (see _demo_events_secret).

    Idempotent: an existing tenant or staff member (409) is fine and the channel is created only when the tenant has
    none. The demo corp's callback secrets are kept in data_dir so restarts reuse the ones the tenant was made with.
    Registers the corp with the WeCom sandbox (when `sandbox_base` is given) right after the tenant, so callbacks
    and WeCom API calls made while seeding already work. Raises SeedError with the status and body.
    """

    def _call(
        method: str, url: str, *, ok: tuple[int, ...], token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        status, parsed = http(method, url, token=token, body=body)
        _expect(method, url, status, parsed, ok)
        return status, parsed

    api = api_base.rstrip("/")
    wecom, fresh_secrets = load_or_create_demo_secrets(data_dir)
    warnings: list[str] = []

    tenant_body = {**DEMO_TENANT, "wecom": {**wecom, "secret": DEMO_WECOM_SECRET}}
    status, created = _call("POST", f"{api}/admin/tenants", ok=(200, 201, 409), token=admin_token, body=tenant_body)
    tenant_created = status != 409
    if not tenant_created and fresh_secrets:
        warnings.append(
            f"tenant {DEMO_TENANT_ID!r} already existed but {_rel(data_dir / DEMO_TENANT_FILE)} was missing: the "
            "sandbox now signs with new secrets the tenant does not know. Reset with `make clean-data`."
        )
    events_secret, events_secret_source = _demo_events_secret(
        api, admin_token, data_dir, created if tenant_created else None, _call
    )

    # Register the corp with the sandbox before the API creates anything WeCom-side (tags, contact ways), with the
    # tenant's secret so the sandbox checks gettoken the way WeCom does.
    sandbox_registered = False
    if sandbox_base:
        corp = {"corp_id": DEMO_CORP_ID, "tenant_id": DEMO_TENANT_ID, **wecom, "secret": DEMO_WECOM_SECRET}
        _call("POST", f"{sandbox_base.rstrip('/')}/sandbox/corps", ok=(200, 201, 204, 409), body=corp)
        sandbox_registered = True

    _, issued = _call(
        "POST", f"{api}/admin/tenants/{DEMO_TENANT_ID}/tokens", ok=(200, 201), token=admin_token, body={"role": "admin"}
    )
    if not isinstance(issued, dict) or not issued.get("token"):
        raise SeedError(f"POST {api}/admin/tenants/{DEMO_TENANT_ID}/tokens answered without a token: {issued!r}")
    tenant_token = str(issued["token"])

    base = f"{api}/t/{DEMO_TENANT_ID}"
    for staff in DEMO_STAFF:
        _call("POST", f"{base}/staff", ok=(200, 201, 409), token=tenant_token, body=staff)

    _, listing = _call("GET", f"{base}/channels", ok=(200,), token=tenant_token)
    items = listing.get("items") if isinstance(listing, dict) else None
    if not isinstance(items, list):
        raise SeedError(f"GET {base}/channels answered without an items list: {listing!r}")
    channel_created = not items
    if channel_created:
        _, channel = _call("POST", f"{base}/channels", ok=(200, 201), token=tenant_token, body=DEMO_CHANNEL)
    else:
        channel = items[0]
    if not isinstance(channel, dict):
        raise SeedError(f"channel is not a JSON object: {channel!r}")

    return {
        "tenant_id": DEMO_TENANT_ID,
        "corp_id": DEMO_CORP_ID,
        "tenant_created": tenant_created,
        "tenant_token": tenant_token,
        "channel": channel,
        "channel_created": channel_created,
        "channel_state": channel.get("state"),
        "sandbox_registered": sandbox_registered,
        "events_secret": events_secret,
        "events_secret_source": events_secret_source,
        "warnings": warnings,
    }


def _demo_events_secret(
    api: str, admin_token: str, data_dir: Path, created: Any, call: Callable[..., tuple[int, Any]]
) -> tuple[str, str]:
    """(the demo tenant's events secret, where it came from), kept in data_dir/events_secret.

    The API shows the secret once: in the creation answer (``created``, when the tenant was made just now), or when it
    is rotated. A tenant that already existed keeps the secret stored at its creation; if that file is gone, the secret
    is rotated once (PATCH /admin/tenants/demo) and the new one kept, so the demo can always sign business events.
    """
    path = data_dir / EVENTS_SECRET_FILE
    if isinstance(created, dict) and isinstance(created.get("events_secret"), str) and created["events_secret"]:
        _write_private(path, created["events_secret"] + "\n")
        return created["events_secret"], f"new, kept in {_rel(path)}"
    if created is None and path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept, f"kept in {_rel(path)}"
    url = f"{api}/admin/tenants/{DEMO_TENANT_ID}"
    _, rotated = call("PATCH", url, ok=(200,), token=admin_token, body={"rotate_events_secret": True})
    secret = rotated.get("events_secret") if isinstance(rotated, dict) else None
    if not isinstance(secret, str) or not secret:
        raise SeedError(f"PATCH {url} answered without an events_secret: {rotated!r}")
    _write_private(path, secret + "\n")
    return secret, f"rotated, kept in {_rel(path)}"


# --------------------------------------------------------------------------------------------------------- the API


def _chalice_command() -> list[str]:
    script = Path(sys.executable).parent / "chalice"
    found = str(script) if script.exists() else shutil.which("chalice")
    if found is None:
        raise StackError("the `chalice` command is not installed: run `make venv`")
    return [found]


def _code_snapshot(root: Path = REPO_ROOT) -> dict[str, int]:
    """mtimes of the files the API is built from (a few hundred stats: cheap enough to poll every second)."""
    stamps: dict[str, int] = {}
    for name in WATCHED:
        path = root / name
        files = path.rglob("*") if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".py", ".json", ".txt") and "__pycache__" not in file.parts:
                with contextlib.suppress(OSError):
                    stamps[str(file)] = file.stat().st_mtime_ns
    return stamps


class ApiServer:
    """`chalice local` for the real app object, as a child process in its own process group.

    --no-autoreload because chalice's stat watcher walks the whole project (.venv, node_modules, the DynamoDB Local
    files under devstack/.data) and restarts on every database write; run() reloads on code changes instead.
    """

    def __init__(self, port: int, env: Mapping[str, str], project_dir: Path = REPO_ROOT) -> None:
        self.port = port
        self.env = dict(env)
        self.project_dir = project_dir
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [
            *_chalice_command(),
            "--project-dir",
            str(self.project_dir),
            "local",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--stage",
            STAGE,
            "--no-autoreload",
        ]

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until GET /health answers 200; seconds taken. StackError if it exits or never answers."""
        if not (self.project_dir / "app.py").exists():
            raise StackError(f"{self.project_dir / 'app.py'} does not exist yet: the API cannot start")
        began = time.monotonic()
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.project_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        last = "no answer yet"
        while time.monotonic() - began < timeout:
            if self._proc.poll() is not None:
                raise StackError(f"`chalice local` exited with code {self._proc.returncode}; its output is above")
            with contextlib.suppress(SeedError):
                status, body = http_json("GET", f"{self.base_url}/health", timeout=2.0)
                if status == 200:
                    return time.monotonic() - began
                last = f"HTTP {status}: {body!r}"[:300]
            time.sleep(0.2)
        self.stop()
        raise StackError(f"GET {self.base_url}/health did not answer 200 within {timeout:.0f} s (last: {last})")

    def stop(self) -> None:
        if self._proc is not None:
            stop_process_group(self._proc, timeout=5.0)


def api_environment(
    base: Mapping[str, str],
    *,
    dynamodb_endpoint: str,
    scheduler_endpoint: str,
    wecom_base_url: str,
    admin_token: str,
) -> dict[str, str]:
    """The environment for `chalice local`: local endpoints, fake AWS credentials, no profile, no proxy."""
    env = {k: v for k, v in base.items() if not (k.startswith("AWS_") or k == "CHALICE_WORKER")}
    env.update(
        {
            ENV_STAGE: STAGE,
            ENV_DYNAMODB_ENDPOINT: dynamodb_endpoint,
            ENV_SCHEDULER_ENDPOINT: scheduler_endpoint,
            ENV_WECOM_BASE_URL: wecom_base_url,
            ENV_ADMIN_TOKEN: admin_token,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            ENV_REGION: REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": _no_proxy(base.get("NO_PROXY", "")),
            "no_proxy": _no_proxy(base.get("no_proxy", "")),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _no_proxy(existing: str) -> str:
    hosts = [h for h in existing.split(",") if h.strip()]
    return ",".join([*hosts, *[h for h in ("127.0.0.1", "localhost") if h not in hosts]])


def chalice_environment(stage: str = STAGE, config_path: Path = CHALICE_CONFIG) -> dict[str, str]:
    """What `chalice local --stage <stage>` adds to its environment from .chalice/config.json: the top-level
    environment_variables, then the stage's (which win), as Chalice merges them for a deployed Lambda too."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    merged: dict[str, str] = {}
    for scope in (config, (config.get("stages") or {}).get(stage) or {}):
        merged.update({str(k): str(v) for k, v in (scope.get("environment_variables") or {}).items()})
    return merged


def handler_environment(api_env: Mapping[str, str], chalice_env: Mapping[str, str]) -> dict[str, str]:
    """The environment the app's handlers see under `chalice local`: the API's process environment with the
    Chalice config's variables on top. The pump runs the fire and backstop handlers with exactly this."""
    return {**api_env, **chalice_env}


def adopt_environment(env: Mapping[str, str], environ: MutableMapping[str, str] | None = None) -> None:
    """Make this process's environment ``env`` (by default os.environ), so the Lambda handlers the pump runs here
    read the settings the API reads (chalicelib reads settings from the environment when a call needs them).

    Variables ``env`` leaves out are removed: the AWS_* ones api_environment drops (a profile, a session token: the
    handlers must use the dummy local credentials), and CHALICE_WORKER.
    """
    target = os.environ if environ is None else environ
    for name in [n for n in target if n not in env]:
        del target[name]
    target.update(env)


# ------------------------------------------------------------------------------------------------------- the stack


@dataclass
class StackConfig:
    """Where the stack listens and keeps its data; from SIYU_*_PORT and the command line."""

    api_port: int = 8000
    sandbox_port: int = 8001
    dynamodb_port: int = 8002
    moto_port: int = 8003
    data_dir: Path = DATA_DIR
    reload: bool = True
    seed: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> StackConfig:
        ports = {name: port_from_env(name, default, env) for name, default in DEFAULT_PORTS.items()}
        return cls(
            api_port=ports[ENV_API_PORT],
            sandbox_port=ports[ENV_SANDBOX_PORT],
            dynamodb_port=ports[ENV_DYNAMODB_PORT],
            moto_port=ports[ENV_MOTO_PORT],
            **overrides,
        )

    def ports(self) -> dict[str, int]:
        return {
            ENV_API_PORT: self.api_port,
            ENV_SANDBOX_PORT: self.sandbox_port,
            ENV_DYNAMODB_PORT: self.dynamodb_port,
            ENV_MOTO_PORT: self.moto_port,
        }


def check_ports(config: StackConfig) -> None:
    """Fail before starting anything when a port is taken or used twice, naming the variable to change."""
    ports = config.ports()
    if len(set(ports.values())) != len(ports):
        raise StackError(f"the stack needs four different ports, got {ports}")
    busy = [f"{name}={port}" for name, port in ports.items() if not is_port_free(port)]
    if busy:
        raise StackError(
            f"port(s) already in use on {LOOPBACK}: {', '.join(busy)}. Stop the other stack, or choose free ports, "
            f"e.g. `{ENV_API_PORT}=8100 {ENV_SANDBOX_PORT}=8101 {ENV_DYNAMODB_PORT}=8102 {ENV_MOTO_PORT}=8103 make run`"
        )


@dataclass
class StackState:
    """What the banner reports."""

    api_url: str = ""
    sandbox_url: str | None = None
    dynamodb_endpoint: str = ""
    dynamodb_kind: str = ""
    scheduler_endpoint: str = ""
    settings: Settings | None = None
    pump: str | None = None  # what the Scheduler pump does (None: not running)
    admin_token: str = ""
    admin_token_source: str = ""
    seeded: dict[str, Any] | None = None
    seed_error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def _while_stopping(signum: int, frame: FrameType | None) -> None:
    print(f"devstack: {signal.Signals(signum).name} ignored: still stopping, please wait", file=sys.stderr, flush=True)


def _install_signals(handler: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


def _warn(message: str) -> None:
    print(f"\nWARNING: {message}\n", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _timed(state: StackState, name: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    state.timings[name] = time.monotonic() - began


def _start_dynamodb(config: StackConfig, stack: contextlib.ExitStack, state: StackState) -> str:
    """DynamoDB Local persisted under data_dir; the moto server (in memory, with a loud warning) when it cannot run."""
    reason: str | None = None
    if not java_available():
        reason = java_missing_reason()
    else:
        try:
            install_dir = ensure_installed()
            server = DynamoDBLocal(config.dynamodb_port, config.data_dir / "dynamodb", install_dir=install_dir)
            stack.callback(server.stop)
            with _timed(state, "DynamoDB Local"):
                server.start()
            bound = "127.0.0.1 only" if server.loopback_only else "ALL interfaces: install a JDK to bind 127.0.0.1"
            state.dynamodb_kind = f"DynamoDB Local, data in {_rel(config.data_dir / 'dynamodb')} ({bound})"
            return server.endpoint
        except DynamoDBLocalError as exc:
            reason = str(exc)
    _warn(
        "DynamoDB Local is not running, so DynamoDB is served by moto IN MEMORY: every table and item is lost when "
        f"the stack stops, and moto differs from DynamoDB (consumed capacity, validation).\n  Why: {reason}\n"
        "  Fix: install Java 17+ (Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; macOS: "
        "`brew install openjdk@17`) and Node.js with npm, then `make run` again."
    )
    # A second moto listener on the DynamoDB port (same in-process backends), so the endpoint is the same either way.
    state.dynamodb_kind = "moto fallback (IN MEMORY, lost on exit)"
    return _start_moto(config.dynamodb_port, stack)


def _start_moto(port: int, stack: contextlib.ExitStack) -> str:
    """A moto server thread on 127.0.0.1:port (check_ports made sure it is free: moto hangs on a taken port)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per boto3 request
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    stack.callback(server.stop)
    return f"http://{LOOPBACK}:{port}"


def _start_sandbox(config: StackConfig, stack: contextlib.ExitStack, api_base: str) -> str | None:
    try:
        from devstack.sandbox import SandboxServer  # type: ignore[import-not-found, unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "devstack.sandbox":
            raise
        _warn("devstack/sandbox.py is not there yet: running without the WeCom sandbox (no simulated scans).")
        return None
    sandbox = SandboxServer(
        host=LOOPBACK, port=config.sandbox_port, api_base=api_base, state_path=config.data_dir / SANDBOX_STATE_FILE
    )
    sandbox.start()
    stack.callback(sandbox.stop)
    return str(sandbox.base_url).rstrip("/")


def _pump_log(message: str) -> None:
    """Pump lines carry the wall-clock time, so you can check that a task appeared at its due minute."""
    print(f"devstack: {datetime.now().astimezone().strftime('%H:%M:%S')} {message}", flush=True)


@dataclass(frozen=True)
class PeriodicJob:
    """An ``@app.schedule`` job: its Lambda name, the app.py attribute that handles it, and its rate in seconds
    (None for a cron expression, which the local pump does not run)."""

    name: str
    attribute: str
    every: float | None


_RATE_UNITS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
CONTEXT_COUNTS = frozenset({"tenants"})  # counts in a job's result that say where it looked, not what it did


def rate_seconds(expression: Any) -> float | None:
    """Seconds between two runs for a Chalice ``Rate`` or a ``rate(N unit)`` string; None for anything else (cron)."""
    text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", text.strip())
    return int(match.group(1)) * _RATE_UNITS[match.group(2)] if match else None


def _lambda_context(name: str) -> SimpleNamespace:
    """Enough of a Lambda context object for a handler run in this process."""
    return SimpleNamespace(
        function_name=f"siyu-{STAGE}-{name}",
        aws_request_id=str(uuid.uuid4()),
        memory_limit_in_mb=512,
        get_remaining_time_in_millis=lambda: 300_000,
    )


def scheduled_event(name: str, now: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge delivers to an ``@app.schedule`` Lambda."""
    at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:000000000000:rule/siyu-{STAGE}-{name}"],
        "detail": {},
    }


class Handlers:
    """The app's Lambda entry points, imported from app.py into this process for the pump and invoked as Lambda
    invokes them (event, context; Chalice's middleware included): ``fire``, EventBridge Scheduler's target, and
    every ``@app.schedule`` job (the backstop, the task sync, ...). After a code change, when the API restarts, they
    are imported afresh, so the pump never runs older code than the API. A lock keeps a reload out of a running
    handler.
    """

    MODULE = "app"
    PACKAGES = ("app", "chalicelib")

    def __init__(self, modules: MutableMapping[str, Any] | None = None, project_dir: Path = REPO_ROOT) -> None:
        self._modules = sys.modules if modules is None else modules
        self._project_dir = project_dir
        self._lock = threading.Lock()
        self._app: Any = None

    def _loaded(self) -> Any:
        if self._app is None:
            if str(self._project_dir) not in sys.path:
                sys.path.insert(0, str(self._project_dir))
            try:
                self._app = importlib.import_module(self.MODULE)
            except BaseException:
                self._forget()  # half-imported modules out, so the next attempt starts clean
                raise
        return self._app

    def _forget(self) -> None:
        doomed = [n for n in self._modules if any(n == p or n.startswith(p + ".") for p in self.PACKAGES)]
        for name in doomed:
            del self._modules[name]
        importlib.invalidate_caches()
        self._app = None

    def fire(self, event: dict[str, Any]) -> Any:
        """What EventBridge Scheduler does with a bucket schedule: invoke the ``fire`` Lambda with its Input."""
        with self._lock:
            return self._loaded().fire(event, _lambda_context("fire"))

    def periodic(self) -> list[PeriodicJob]:
        """The app's ``@app.schedule`` jobs, as app.py declares them now."""
        with self._lock:
            module = self._loaded()
            return [
                PeriodicJob(
                    source.name, source.handler_string.rsplit(".", 1)[-1], rate_seconds(source.schedule_expression)
                )
                for source in module.app.event_sources
                if hasattr(source, "schedule_expression")
            ]

    def run(self, job: PeriodicJob) -> Any:
        """What EventBridge does when a job's rate comes round: invoke its Lambda with a scheduled event."""
        with self._lock:
            handler = getattr(self._loaded(), job.attribute)
            return handler(scheduled_event(job.name), _lambda_context(job.name))

    def reload(self) -> None:
        """Drop app and every chalicelib module (and the services they cached) and import them again now.

        Objects already made from the old modules (the sandbox's imports, run.py's Settings) keep working: they
        hold their modules, they just are not the pump's any more. Raises what the new code raises on import."""
        with self._lock:
            self._forget()
            self._loaded()


class PeriodicJobs:
    """The pump's periodic callable, which it calls every 5 minutes (and start_pump once at start): runs each
    ``@app.schedule`` job whose rate has come round since its last run (the backstop every 5 minutes, a 10-minute
    job every other call, ...). Rates under 5 minutes run every call; cron jobs never (said once). One job's failure
    is logged and does not stop the others."""

    SLACK = 30.0  # the pump's 5 minutes are not exact: a 10-minute job is due again after 9.5

    def __init__(
        self, handlers: Handlers, log: Callable[[str], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.handlers = handlers
        self.log = log
        self.clock = clock
        self._last: dict[str, float] = {}
        self._said: set[str] = set()

    def __call__(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        now = self.clock()
        for job in self.handlers.periodic():
            if job.every is None:
                if job.name not in self._said:
                    self._said.add(job.name)
                    self.log(f"pump: job {job.name} has a cron schedule: the local pump does not run it")
                continue
            last = self._last.get(job.name)
            if last is not None and now - last < job.every - self.SLACK:
                continue
            self._last[job.name] = now
            try:
                results[job.name] = result = self.handlers.run(job)
            except Exception as exc:
                self.log(f"pump: job {job.name} failed: {type(exc).__name__}: {exc}")
                continue
            line = describe_job(job.name, result)
            if line:
                self.log(line)
        return results


def describe_job(name: str, result: Any) -> str | None:
    """A line for a periodic job that did something (a non-zero count in its result); None when it had nothing."""
    if not isinstance(result, Mapping):
        return None
    if name == "backstop":
        fired = result.get("buckets_fired") or 0
        return f"pump: backstop fired {fired} overdue bucket(s)" if fired else None
    counts = {k: v for k, v in result.items() if isinstance(v, int | float) and not isinstance(v, bool) and v}
    if not set(counts) - CONTEXT_COUNTS:  # e.g. only "tenants 1": it looked, nothing happened
        return None
    return f"pump: {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items())


def describe_jobs(jobs: list[PeriodicJob]) -> str:
    """The periodic jobs for the banner, e.g. ``backstop every 5 min, task_sync every 10 min``."""

    def every(job: PeriodicJob) -> str:
        if job.every is None:
            return "cron: not run locally"
        minutes = job.every / 60
        return f"every {minutes:g} min" if minutes >= 1 else f"every {job.every:g} s"

    return ", ".join(f"{job.name} {every(job)}" for job in jobs) or "none"


def _fire_and_report(fire: Callable[[dict[str, Any]], Any], log: Callable[[str], None]) -> Callable[..., Any]:
    """The pump's fire callable: the real handler, then one line on what the bucket became."""

    def fire_bucket(payload: dict[str, Any]) -> Any:
        report = fire(payload)
        if isinstance(report, dict):
            log(describe_fire(str(payload.get("bucket_id")), report))
        return report

    return fire_bucket


def describe_fire(bucket_id: str, report: Mapping[str, Any]) -> str:
    """One line for a FireReport: tasks made, touches by outcome, and the rules behind skips and moves."""
    counts = ", ".join(f"{report.get(k) or 0} {k}" for k in ("sent", "skipped", "dropped", "moved", "failed"))
    reasons = report.get("reasons") or {}
    why = f" ({', '.join(f'{r}: {n}' for r, n in sorted(reasons.items()))})" if reasons else ""
    return f"pump: bucket {bucket_id}: {report.get('tasks') or 0} task(s); touches {counts}{why}"


def start_pump(
    settings: Settings,
    scheduler_client: Any,
    stack: contextlib.ExitStack,
    handlers: Handlers,
    *,
    interval: float = PUMP_INTERVAL,
    log: Callable[[str], None] = _pump_log,
) -> Any:
    """Start the Scheduler pump in a thread of this process; Ctrl-C (the ExitStack) stops it first.

    It fires the group's due schedules through app.fire (chalicelib.jobs.sop.fire) and runs the app's periodic jobs
    (the backstop, chalicelib.jobs.sop.backstop, every 5 minutes; the others at their rates): the deployed Lambda
    handlers, reading their settings from the environment (adopt_environment first). The periodic jobs also run once
    now, so touches left overdue while the stack was down fire at once (moto forgets schedules on exit).
    """
    from devstack.pump import SchedulerPump

    periodic = PeriodicJobs(handlers, log)
    pump = SchedulerPump(
        scheduler_client,
        settings.schedule_group,
        fire=_fire_and_report(handlers.fire, log),
        backstop=periodic,
        interval=interval,
        log=log,
    )
    try:
        periodic()
    except Exception as exc:  # e.g. app.py does not import: the stack stays up, the pump retries
        log(f"pump: the periodic jobs did not run at start: {type(exc).__name__}: {exc}")
    pump.start()
    stack.callback(pump.stop)
    return pump


def pump_summary(settings: Settings, handlers: Handlers) -> str:
    """The banner's Pump line: what it fires, and the periodic jobs it runs."""
    try:
        jobs = describe_jobs(handlers.periodic())
    except Exception as exc:  # app.py does not import right now; the pump line says so instead of failing
        jobs = f"unknown ({type(exc).__name__}: {exc})"
    return (
        f"fires due schedules of group {settings.schedule_group} every {PUMP_INTERVAL:g} s through app.fire; "
        f"periodic jobs: {jobs}"
    )


def _watch_and_reload(api: ApiServer, config: StackConfig, handlers: Handlers | None = None) -> None:
    """Foreground loop until a signal: restart the API (and reload the pump's handlers) when the code changes,
    report when the API dies."""
    snapshot = _code_snapshot() if config.reload else {}
    reported_exit = False
    while True:
        time.sleep(1.0)
        if api.returncode is not None and not reported_exit:
            reported_exit = True
            _warn(
                f"the API (`chalice local`) exited with code {api.returncode}; "
                + ("it restarts when you change the code." if config.reload else "restart `make run`.")
            )
        if not config.reload:
            continue
        current = _code_snapshot()
        if current == snapshot:
            continue
        time.sleep(0.3)  # let an editor finish writing several files
        snapshot = _code_snapshot()
        _say("code changed: restarting the API ...")
        api.stop()
        try:
            seconds = api.start()
            reported_exit = False
            _say(f"API back on {api.base_url} ({seconds:.1f} s)")
        except StackError as exc:
            reported_exit = True
            _warn(f"the API did not come back: {exc}. Waiting for the next code change.")
        if handlers is not None:
            try:
                handlers.reload()
                _say("the pump's handlers reloaded")
            except Exception as exc:
                _warn(f"the pump cannot load the new code ({type(exc).__name__}: {exc}); it retries on every fire.")


def banner(state: StackState, config: StackConfig) -> str:
    """The ready-to-use summary printed once everything is up."""
    s = state.settings
    lines = [
        "",
        "=" * 100,
        "  Siyu local stack is up.  Ctrl-C stops everything.",
        "=" * 100,
        f"  API            {state.api_url}   (chalice local, stage {STAGE}"
        + (", reloads on code changes)" if config.reload else ")"),
        f"  WeCom sandbox  {state.sandbox_url or '(not running: devstack/sandbox.py missing)'}",
        f"  DynamoDB       {state.dynamodb_endpoint}   {state.dynamodb_kind}",
        f"  Scheduler      {state.scheduler_endpoint}   (moto stores schedules but never fires them: the pump does)",
        f"  Pump           {state.pump or 'NOT RUNNING: due touches stay unfired'}",
    ]
    if s is not None:
        lines.append(f"  Tables         {s.table_name}, {s.idempotency_table_name};  schedule group {s.schedule_group}")
    lines.append(f"  Admin token    {state.admin_token}   ({state.admin_token_source})")
    seeded = state.seeded
    if seeded:
        channel = seeded["channel"]
        tenant_how = "created" if seeded["tenant_created"] else "already there"
        channel_how = "created" if seeded["channel_created"] else "already there"
        lines += [
            f"  Demo tenant    {seeded['tenant_id']} / corp {seeded['corp_id']} ({tenant_how})",
            f"  Tenant token   {seeded['tenant_token']}   (role admin, new each run)",
            f"  Events secret  {seeded['events_secret']}   ({seeded['events_secret_source']}; signs POST "
            f"/t/{seeded['tenant_id']}/events)",
            f"  Demo channel   {channel.get('name', '?')}  state={seeded['channel_state']!r}  ({channel_how})",
            "  Sandbox        "
            + ("demo corp registered for callbacks" if seeded["sandbox_registered"] else "demo corp NOT registered"),
            "",
            "  Try it:",
            f"    curl -s {state.api_url}/t/{seeded['tenant_id']}/channels "
            f"-H 'Authorization: Bearer {seeded['tenant_token']}'",
        ]
        if state.sandbox_url and seeded["channel_state"]:
            scan = json.dumps({"corp_id": seeded["corp_id"], "state": seeded["channel_state"]}, ensure_ascii=False)
            lines.append(
                f"    curl -s -X POST {state.sandbox_url}/sandbox/scan -H 'Content-Type: application/json' -d '{scan}'"
            )
        lines += [f"  NOTE: {w}" for w in seeded["warnings"]]
    else:
        lines.append(f"  Demo tenant    NOT SEEDED: {state.seed_error or 'seeding disabled (--no-seed)'}")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in state.timings.items())
    lines += ["", f"  Startup: {timing}", "=" * 100, ""]
    return "\n".join(lines)


def run(config: StackConfig) -> int:
    """Start everything, print the banner, wait for Ctrl-C; stop in reverse order whatever happens. Exit status."""
    state = StackState()
    _install_signals(_on_signal)
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            try:
                check_ports(config)
                config.data_dir.mkdir(parents=True, exist_ok=True)
                os.environ["NO_PROXY"] = _no_proxy(os.environ.get("NO_PROXY", ""))  # boto3 to loopback, never proxied
                os.environ["no_proxy"] = _no_proxy(os.environ.get("no_proxy", ""))
                state.admin_token, state.admin_token_source = load_or_create_admin_token(config.data_dir)

                with _timed(state, "moto"):
                    state.scheduler_endpoint = _start_moto(config.moto_port, stack)
                state.dynamodb_endpoint = _start_dynamodb(config, stack, state)

                state.api_url = f"http://{LOOPBACK}:{config.api_port}"
                with _timed(state, "sandbox"):
                    state.sandbox_url = _start_sandbox(config, stack, state.api_url)
                env = api_environment(
                    os.environ,
                    dynamodb_endpoint=state.dynamodb_endpoint,
                    scheduler_endpoint=state.scheduler_endpoint,
                    wecom_base_url=state.sandbox_url or f"http://{LOOPBACK}:{config.sandbox_port}",
                    admin_token=state.admin_token,
                )
                # The pump runs the fire/backstop handlers in this process: same environment, same tables and group.
                handler_env = handler_environment(env, chalice_environment())
                adopt_environment(handler_env)
                state.settings = settings = Settings.from_env(handler_env)  # exactly what the API will read
                with _timed(state, "provision"):
                    provision(
                        settings,
                        dynamodb_client=local_client("dynamodb", state.dynamodb_endpoint, REGION),
                        scheduler_client=local_client("scheduler", state.scheduler_endpoint, REGION),
                    )
                _say(f"provisioned {settings.table_name}, {settings.idempotency_table_name}, {settings.schedule_group}")

                api = ApiServer(config.api_port, env)
                stack.callback(api.stop)
                _say(f"starting the API: {' '.join(api.command()[1:])}")
                state.timings["API"] = api.start()

                scheduler = local_client("scheduler", state.scheduler_endpoint, REGION)
                handlers = Handlers()
                with _timed(state, "pump"):
                    start_pump(settings, scheduler, stack, handlers)
                state.pump = pump_summary(settings, handlers)

                if config.seed:
                    try:
                        with _timed(state, "seed"):
                            state.seeded = seed(state.api_url, state.admin_token, state.sandbox_url, config.data_dir)
                    except SeedError as exc:
                        state.seed_error = str(exc)
                        _warn(f"seeding the demo tenant failed; the stack stays up without it.\n  {exc}")
                state.timings["total"] = time.monotonic() - began
                print(banner(state, config), flush=True)
                _watch_and_reload(api, config, handlers)
            except Shutdown as stop:
                _install_signals(_while_stopping)
                print(f"\ndevstack: {stop} received: stopping everything ...", flush=True)
            except (StackError, PortError) as exc:
                _install_signals(_while_stopping)
                print(f"\ndevstack: cannot start: {exc}\ndevstack: stopping what was started ...", file=sys.stderr)
                return 1
            except BaseException:
                _install_signals(_while_stopping)
                print("\ndevstack: unexpected error: stopping what was started ...", file=sys.stderr)
                raise
            finally:
                _install_signals(_while_stopping)
        _say("stopped.")
        return 0
    finally:
        _install_signals(signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.run", description=__doc__.split("\n")[0])
    parser.add_argument("--no-reload", action="store_true", help="do not restart the API when the code changes")
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo tenant")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help=f"state directory (default {_rel(DATA_DIR)})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s")
    try:
        config = StackConfig.from_env(data_dir=args.data_dir, reload=not args.no_reload, seed=not args.no_seed)
    except PortError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    return run(config)


if __name__ == "__main__":
    raise SystemExit(main())
