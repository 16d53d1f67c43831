"""Loopback TCP helpers (free ports, ports from the environment) shared by the local stack and the test fixtures.

Everything local binds 127.0.0.1 only, and every port comes from the environment so two stacks (or two pytest-xdist
workers) can run side by side without touching each other.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

LOOPBACK = "127.0.0.1"


class PortError(RuntimeError):
    """A configured port is unusable (not a number, or already taken)."""


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel says is free right now (another process may still take it before we bind: retry on failure)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_from_env(name: str, default: int, env: Mapping[str, str] | None = None) -> int:
    """The port named by environment variable `name`, or `default`; a clear error instead of a ValueError deep down."""
    raw = (os.environ if env is None else env).get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise PortError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise PortError(f"{name}={port} is outside 1..65535")
    return port


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port, checked by binding it as our servers do (SO_REUSEADDR, so sockets
    lingering in TIME_WAIT from a previous run do not count as busy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, host: str = LOOPBACK, timeout: float = 10.0) -> bool:
    """Wait until something accepts TCP connections on host:port; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False
