"""The API of the local stack: `chalice local` as a child process, and the environment it (and the pump's in-process
handlers) run with."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from chalicelib.settings import (
    ENV_ADMIN_TOKEN,
    ENV_CLOCK_FILE,
    ENV_CONSOLE_URL,
    ENV_DYNAMODB_ENDPOINT,
    ENV_JSSDK_URL,
    ENV_REGION,
    ENV_S3_ENDPOINT,
    ENV_SCHEDULER_ENDPOINT,
    ENV_STAGE,
    ENV_WECOM_BASE_URL,
    ENV_WECOM_OAUTH_URL,
)
from devstack.jobs import REGION, STAGE
from devstack.net import LOOPBACK
from devstack.processes import die_with_parent, stop_process_group
from devstack.provision import REPO_ROOT
from devstack.seed import SeedError, http_json
from devstack.terminal import Router

CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"

#: What the API reloader watches: the app's code and config, not .venv, node_modules or the database files.
WATCHED = ("app.py", "chalicelib", ".chalice/config.json", "requirements.txt")


class StackError(RuntimeError):
    """The stack cannot start; the message says what to do."""


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

    def __init__(
        self, port: int, env: Mapping[str, str], project_dir: Path = REPO_ROOT, output: Router | None = None
    ) -> None:
        self.port = port
        self.env = dict(env)
        self.project_dir = project_dir
        self.output = output  # where its output goes line by line (None: straight to this terminal)
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
            stdout=None if self.output is None else subprocess.PIPE,
            stderr=None if self.output is None else subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        if self.output is not None and self._proc.stdout is not None:
            self.output.follow(self._proc.stdout)
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
    clock_file: Path | None = None,
    console_url: str | None = None,
) -> dict[str, str]:
    """The environment for `chalice local`: local endpoints, fake AWS credentials, no profile, no proxy, and the
    stack's movable clock (SIYU_CLOCK_FILE, which only the local stage honours)."""
    env = {k: v for k, v in base.items() if not (k.startswith("AWS_") or k == "CHALICE_WORKER")}
    env.update(
        {
            ENV_STAGE: STAGE,
            ENV_DYNAMODB_ENDPOINT: dynamodb_endpoint,
            ENV_SCHEDULER_ENDPOINT: scheduler_endpoint,
            ENV_S3_ENDPOINT: scheduler_endpoint,  # the one moto server plays Scheduler and S3
            ENV_WECOM_BASE_URL: wecom_base_url,
            # The console's staff sign-in and the chat sidebar's JS-SDK are the sandbox's pages locally.
            ENV_WECOM_OAUTH_URL: f"{wecom_base_url.rstrip('/')}/connect/oauth2/authorize",
            ENV_JSSDK_URL: f"{wecom_base_url.rstrip('/')}/sandbox/jssdk.js",
            **({ENV_CONSOLE_URL: console_url} if console_url else {}),
            ENV_ADMIN_TOKEN: admin_token,
            **({ENV_CLOCK_FILE: str(clock_file)} if clock_file is not None else {}),
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
