"""The log-privacy scan (issue 12 §6): every line a functional test makes Siyu log is searched for personal data and
secrets, and a leak fails that test, showing the line with the values masked.

What a line is: every logging record of any logger (Powertools' "siyu" and its children, boto3, Chalice…) at any
level, formatted as Powertools writes it (with the invocation's keys), and everything printed to stdout (the EMF
metric lines); not what the WeCom sandbox (it plays WeCom), devstack's drivers or the tests themselves write. The
"siyu" loggers run at DEBUG here, so a leak in a debug line is found before a profile turns DEBUG on.

What is searched for:
- mainland mobile numbers, with or without +86, wherever they come from (a pattern);
- the sensitive values this very test used, collected without the test's help: the fields named like names, phones,
  message text and secrets in every request body sent through chalice.test.Client, the bearer tokens sent, the
  secrets in its answers (minted tokens, events secrets), and what the WeCom sandbox handed out or was handed
  (contacts' names, unionids and remark phones, mass-message and welcome texts, corp secrets, access tokens).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from chalice.test import TestHTTPClient

from chalicelib.observability import logger as siyu_logger

# 11 digits from 13…19, also written 138 1234 5678 or 138-1234-5678, with or without +86; not inside a longer id
PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9A-Za-z])")
NAME_KEYS = frozenset({"name", "nickname", "real_name", "customer_name", "contact_name"})
PHONE_KEYS = frozenset({"phone", "phones", "mobile", "mobiles", "remark_mobiles"})
TEXT_KEYS = frozenset({"content", "text"})
SECRET_KEYS = frozenset({"secret", "token", "encoding_aes_key", "aes_key", "access_token", "corpsecret"})
# Not Siyu's lines: the WeCom sandbox stands in for WeCom, and devstack's drivers (the demo week, the pump) and the
# tests themselves talk to an operator's terminal, not to a deployed stack's logs.
NOT_SIYU = ("siyu.sandbox", "devstack", "tests")
MIN_ASCII = 6  # shorter ASCII values ("demo", "2027") occur in lines by chance; CJK ones from 2 characters


def kind_of(key: str) -> str | None:
    """Which sensitive kind a field of this name holds (None: not one)."""
    key = key.lower()
    if key in NAME_KEYS:
        return "name"
    if key in PHONE_KEYS:
        return "phone"
    if key in TEXT_KEYS:
        return "text"
    if key == "unionid":  # one person across the corp's apps: as telling as a name
        return "unionid"
    if key in SECRET_KEYS or "secret" in key or key.endswith("_token") or key.endswith("aes_key"):
        return "secret"
    return None


def mask(value: str) -> str:
    """Enough to recognise a value by, never the value: its first characters and its length."""
    keep = 3 if value.isascii() else 1
    return f"{value[:keep]}…({len(value)})"


@dataclass
class Capture:
    """One test's log lines and the sensitive values it used."""

    lines: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # value -> kind
    scanned: int = 0  # lines already scanned (teardown scans only what came after the call)

    def add(self, kind: str, value: Any) -> None:
        if isinstance(value, list | tuple):
            for item in value:
                self.add(kind, item)
            return
        if not isinstance(value, str):
            return
        value = value.strip()
        if len(value) >= (MIN_ASCII if value.isascii() else 2):
            self.values.setdefault(value, kind)

    def walk(self, doc: Any, *, only: frozenset[str] | None = None) -> None:
        """Collect every sensitive field in a JSON document (``only``: just these kinds)."""
        if isinstance(doc, dict):
            for key, value in doc.items():
                kind = kind_of(str(key))
                if kind is not None and (only is None or kind in only) and not isinstance(value, dict):
                    self.add(kind, value)
                self.walk(value, only=only)
        elif isinstance(doc, list):
            for item in doc:
                self.walk(item, only=only)

    def leaks(self, start: int = 0) -> list[str]:
        """The lines from ``start`` that hold a phone number or a collected value, each with its values masked."""
        found = []
        for line in self.lines[start:]:
            masked, hit = line, False
            for value, kind in self.values.items():
                for form in {value, json.dumps(value)[1:-1]}:
                    if form in masked:
                        masked, hit = masked.replace(form, f"<{kind} {mask(value)}>"), True
            masked, phones = PHONE.subn(lambda m: f"<phone {mask(m.group(0))}>", masked)
            if hit or phones:
                found.append(masked)
        return found

    def check(self, when: str) -> None:
        """Fail with every leaking line since the last check."""
        leaks, self.scanned = self.leaks(self.scanned), len(self.lines)
        if leaks:
            shown = "\n".join(f"  {line[:600]}" for line in leaks[:20])
            pytest.fail(f"personal data or a secret in {len(leaks)} log line(s) {when}:\n{shown}", pytrace=False)

    def forget(self) -> None:
        """Drop what was captured so far (a test that leaks on purpose, once it has checked the scan)."""
        self.scanned = len(self.lines)


class _Records(logging.Handler):
    """Every record that reaches the root logger, formatted as Powertools writes it."""

    def __init__(self, capture: Capture) -> None:
        super().__init__(logging.DEBUG)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(NOT_SIYU):
            return
        try:
            self.capture.lines.append(siyu_logger.registered_formatter.format(record))
        except Exception:  # a record Powertools cannot format: its message and fields as they are
            self.capture.lines.append(f"{record.getMessage()} {record.__dict__!r}")


class _Tee:
    """sys.stdout that keeps a copy of every line printed (EMF documents)."""

    def __init__(self, inner: Any, capture: Capture) -> None:
        self.inner, self.capture = inner, capture

    def write(self, text: str) -> int:
        writer = str(sys._getframe(1).f_globals.get("__name__", ""))  # print's caller: Powertools' EMF, the app…
        if not writer.startswith(NOT_SIYU):
            self.capture.lines.extend(line for line in text.splitlines() if line.strip())
        return int(self.inner.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _watch_requests(monkeypatch: pytest.MonkeyPatch, capture: Capture) -> None:
    """Collect what goes through chalice.test.Client: bodies' sensitive fields, bearer tokens, minted secrets."""
    original: Callable[..., Any] = TestHTTPClient.request

    def request(self: TestHTTPClient, method: str, path: str, headers: Any = None, body: bytes = b"") -> Any:
        for name, value in (headers or {}).items():
            if name.lower() == "authorization":
                capture.add("secret", str(value).partition(" ")[2])
        _safely(capture.walk, _json(body))
        response = original(self, method, path, headers=headers, body=body)
        _safely(capture.walk, _json(response.body), only=frozenset({"secret"}))
        return response

    monkeypatch.setattr(TestHTTPClient, "request", request)


def _safely(walk: Callable[..., None], doc: Any, **kwargs: Any) -> None:
    try:
        walk(doc, **kwargs)
    except RecursionError:  # a document just under the parser's depth limit: deeper than a walk can follow
        pass


def _json(raw: Any) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (TypeError, ValueError, RecursionError):  # not JSON, or nested too deep to read (the app refuses both)
        return None


def collect_sandbox(capture: Capture, sandbox: Any) -> None:
    """What the WeCom sandbox handed out or was handed: names, remark phones, texts, secrets and tokens."""
    from devstack.wecom_world.contacts import profile_json

    world = sandbox.world
    with world.lock:
        capture.add("secret", list(world.tokens))
        for corp in world.corps.values():
            capture.add("secret", corp.secret)
            for external_userid in set(corp.follows) | set(corp.profiles):
                capture.walk(profile_json(corp, external_userid), only=frozenset({"name", "unionid"}))
            for follows in corp.follows.values():
                for follow in follows.values():
                    capture.add("phone", list(follow.remark_mobiles))
            for profile in corp.profiles.values():
                capture.add("phone", list(profile.remark_mobiles))
            capture.add("text", [task.text for task in corp.tasks.values()])
        capture.walk(world.welcomes)
        capture.walk([call.payload for call in world.call_log], only=frozenset({"name", "phone", "text", "secret"}))


KEY = pytest.StashKey[Capture]()


@contextmanager
def _stdout_copied(capture: Capture) -> Iterator[None]:
    """sys.stdout as it is for this phase (pytest's capture sets it anew for each), with a copy kept."""
    inner = sys.stdout
    sys.stdout = _Tee(inner, capture)
    try:
        yield
    finally:
        sys.stdout = inner


@pytest.fixture(autouse=True)
def log_privacy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    """Capture this test's log records and sensitive values (its printed lines: the hooks below); the test's lines
    are scanned after its body (``pytest_runtest_call``), those of its teardown here."""
    capture = request.node.stash.setdefault(KEY, Capture())
    handler = _Records(capture)
    root, siyu = logging.getLogger(), logging.getLogger("siyu")
    level = siyu.level
    root.addHandler(handler)
    siyu.setLevel(logging.DEBUG)
    _watch_requests(monkeypatch, capture)
    try:
        yield capture
    finally:
        root.removeHandler(handler)
        siyu.setLevel(level)
    sandbox = getattr(request.node, "funcargs", {}).get("sandbox")
    if sandbox is not None:
        collect_sandbox(capture, sandbox)
    capture.check("while the test's fixtures were torn down")


# Innermost (trylast): pytest's own capture has set sys.stdout for the phase by the time these run.
@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _stdout_copied(item.stash.setdefault(KEY, Capture())):
        return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body: its lines so far, against every value it used (the sandbox's as they are now)."""
    capture = item.stash.setdefault(KEY, Capture())
    with _stdout_copied(capture):
        result = yield
    sandbox = getattr(item, "funcargs", {}).get("sandbox")
    if sandbox is not None:
        collect_sandbox(capture, sandbox)
    capture.check("during the test")
    return result


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    with _stdout_copied(item.stash.setdefault(KEY, Capture())):
        return (yield)
