"""What `make run` prints, and what it files away instead.

The terminal gets the devstack's own lines, one line per API request (method, path without its query, status), the
pump's lines and anything unexpected (a traceback, a warning). The app's JSON log lines and its EMF metric lines go to
``devstack/.data/logs/`` (app.log, metrics.log), and known start-up chatter (botocore, PynamoDB) to devstack.log.
``--verbose`` shows everything on the terminal as well. Every pump and request line starts with the tenant's local
time on the stack's clock and the machine's own time, side by side, because the stack's clock can be moved ahead.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from chalicelib.adapters.clock import FileClock

LOG_DIR = "logs"
APP_LOG, METRICS_LOG, DEVSTACK_LOG = "app.log", "metrics.log", "devstack.log"
REQUEST = re.compile(r'^\S+ - - \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>[^ ?"]*)\S* HTTP/[\d.]+" (?P<status>\d{3})\b')
NOISE = re.compile(
    r"^(Override settings for pynamo|Using Default settings value|Found credentials in environment variables)"
)


class Stamp:
    """``[tenant 12-05 08:00:03 +08:00 | machine 18:20:03 UTC]``: the stack's clock in the tenant's zone, and the
    machine's own clock in its zone."""

    def __init__(self, clock: FileClock, timezone: str) -> None:
        self.clock = clock
        self.zone = ZoneInfo(timezone)

    def __call__(self) -> str:
        tenant = self.clock.now().astimezone(self.zone)
        machine = self.clock.real_now().astimezone()
        return f"[tenant {tenant:%m-%d %H:%M:%S} {tenant.isoformat()[-6:]} | machine {machine:%H:%M:%S %Z}]"

    def long(self) -> str:
        """For the banner: both dates in full, and how far the stack's clock is ahead."""
        now, machine = self.clock.now(), self.clock.real_now()
        ahead = int((now - machine).total_seconds())
        gap = "the same instant" if abs(ahead) < 2 else f"the stack's clock is {span(ahead)} ahead"
        return (
            f"tenant {now.astimezone(self.zone):%Y-%m-%d %H:%M:%S} {self.zone} | machine "
            f"{machine.astimezone():%Y-%m-%d %H:%M:%S %Z} ({gap})"
        )


def span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{rest // 60} min" if rest >= 60 else ""]
    return " ".join(p for p in parts if p) or f"{seconds} s"


def classify(line: str) -> str:
    """``request`` (a `chalice local` access line), ``metric`` (EMF), ``json`` (a log record), ``noise`` or
    ``other``."""
    if REQUEST.match(line):
        return "request"
    text = line.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return "other"
        if isinstance(doc, dict):
            return "metric" if "_aws" in doc else "json"
    return "noise" if NOISE.match(text) else "other"


class Router:
    """Sends each line where it belongs (see the module docstring). Thread-safe; one per `make run`."""

    def __init__(self, log_dir: Path, terminal: IO[str], stamp: Callable[[], str], *, verbose: bool = False) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.terminal = terminal
        self.stamp = stamp
        self.verbose = verbose
        self._lock = threading.Lock()
        self._files = {name: (log_dir / name).open("a", encoding="utf-8") for name in (APP_LOG, METRICS_LOG)}
        self._files[DEVSTACK_LOG] = (log_dir / DEVSTACK_LOG).open("a", encoding="utf-8")

    def route(self, line: str) -> None:
        line = line.rstrip("\n")
        kind = classify(line)
        target = {"metric": METRICS_LOG, "json": APP_LOG}.get(kind, DEVSTACK_LOG)
        shown: str | None = None
        if self.verbose or kind == "other":
            shown = line
        elif kind == "request":
            match = REQUEST.match(line)
            assert match is not None
            shown = f"devstack: {self.stamp()} api: {match['method']} {match['path']} {match['status']}"
        with self._lock:
            self._files[target].write(line + "\n")
            self._files[target].flush()
            if shown is not None:
                self.terminal.write(shown + "\n")
                self.terminal.flush()

    def say(self, message: str) -> None:
        """A pump line: the two times, then the message."""
        self.route(f"devstack: {self.stamp()} {message}")

    def follow(self, stream: IO[bytes]) -> threading.Thread:
        """Route a child process's output line by line, in a thread that ends with the stream."""

        def pump() -> None:
            for raw in stream:
                self.route(raw.decode("utf-8", errors="replace"))

        thread = threading.Thread(target=pump, name="api-output", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()


class LineWriter(io.TextIOBase):
    """A stand-in for sys.stdout that hands whole lines to a Router (one buffer per thread, so lines of two threads
    never mix). The in-process handlers' Powertools logger and EMF metrics print through it."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._local = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        buffered = getattr(self._local, "buffer", "") + text
        *lines, self._local.buffer = buffered.split("\n")
        for line in lines:
            self.router.route(line)
        return len(text)

    def flush(self) -> None:
        pass


def install(router: Router) -> Callable[[], None]:
    """Route this process's stdout through ``router`` and its logging to devstack.log (warnings also to stderr);
    returns what undoes it."""
    saved_stdout, root = sys.stdout, logging.getLogger()
    saved = (root.level, list(root.handlers))
    sys.stdout = LineWriter(router)
    to_file = logging.FileHandler(router.log_dir / DEVSTACK_LOG, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.DEBUG if router.verbose else logging.WARNING)
    to_terminal.setFormatter(logging.Formatter("devstack: %(name)s %(levelname)s: %(message)s"))
    root.handlers = [to_file, to_terminal]
    root.setLevel(logging.INFO)

    def undo() -> None:
        sys.stdout = saved_stdout
        root.setLevel(saved[0])
        root.handlers = saved[1]
        to_file.close()

    return undo
