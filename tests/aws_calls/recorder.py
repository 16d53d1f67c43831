"""The AWS-call recorder: every botocore API call the app makes, as the function that made it and its IAM requests.

Every client ends in ``botocore.client.BaseClient._make_api_call``: boto3's, PynamoDB's (its own botocore session)
and Powertools idempotency's. One wrapper there sees them all, before moto answers (moto hooks the HTTP send).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from botocore.client import BaseClient

from tests.aws_calls.actions import IamRequest, Names, iam_requests

# The Lambda entry points (module, function) -> the Chalice function they run in. The innermost on the stack wins: a
# shard run on a local thread is, deployed, an invocation of the fire function. A new entry point is one line here.
ENTRY_POINTS: dict[tuple[str, str], str] = {
    ("app", "fire"): "fire",
    ("chalicelib.jobs.sop", "fire"): "fire",
    ("chalicelib.adapters.shards", "_run"): "fire",  # ThreadedShards: deployed, an async invocation of fire
    ("app", "backstop"): "backstop",
    ("chalicelib.jobs.sop", "backstop"): "backstop",
    ("chalicelib.jobs.repairs", "repair"): "backstop",  # the repair queue's drain runs inside the backstop
    ("app", "task_sync"): "task_sync",
    ("chalicelib.jobs.tasks", "sync"): "task_sync",
    ("app", "silence"): "silence",
    ("chalicelib.jobs.silence", "silence"): "silence",
}
# Commands an operator runs with their own credentials (no Lambda role): their calls are not any function's.
OPERATOR_COMMANDS = frozenset({("chalicelib.jobs.secrets", "main"), ("chalicelib.jobs.metrics", "main")})
DEFAULT_FUNCTION = "api_handler"  # the app's code reached by no other entry point: a route
APP_PACKAGES = ("app", "chalicelib")  # a call with none of these on the stack is the test's own (setup, asserts)


# The function whose code submitted the work a pool thread runs (the fire's write pool): a worker thread's stack
# starts in concurrent.futures, not at an entry point, yet deployed the work runs in the submitter's Lambda.
_inherited = threading.local()


def function_of(frame: FrameType | None) -> str | None:
    """The Chalice function whose code made the call at ``frame``; None for a call from the test itself."""
    in_app = False
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        named = ENTRY_POINTS.get((module, frame.f_code.co_name))
        if named is not None:
            return named
        if (module, frame.f_code.co_name) in OPERATOR_COMMANDS:
            return None
        if module.split(".", 1)[0] in APP_PACKAGES:
            in_app = True
        frame = frame.f_back
    inherited: str | None = getattr(_inherited, "function", None)
    return (inherited or DEFAULT_FUNCTION) if in_app else None


def _run_as(owner: str | None, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        before = getattr(_inherited, "function", None)
        _inherited.function = owner
        try:
            return fn(*args, **kwargs)
        finally:
            _inherited.function = before

    return run


@dataclass(frozen=True)
class Call:
    """One IAM request an API call made, with the function it ran in and the test that made it."""

    function: str
    request: IamRequest
    test: str


Sink = Callable[[Call], None]


class Recorder:
    """Installed once per process; sinks (the session's file, a test's own list) receive each call while enabled."""

    def __init__(self) -> None:
        self.test = ""  # the running test's node id
        self.outside = 0  # calls made by the tests themselves (setup, assertions): not any function's
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()
        self._original: Any = None

    def install(self) -> None:
        if self._original is not None:
            return
        original = BaseClient._make_api_call
        recorder = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            if recorder._sinks:  # the plugin adds the session's sink for each functional test
                recorder.seen(client, operation_name, api_params, sys._getframe(1))
            return original(client, operation_name, api_params)

        self._original = original
        BaseClient._make_api_call = _make_api_call
        submit = ThreadPoolExecutor.submit

        def submit_as_submitter(pool: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            return submit(pool, _run_as(function_of(sys._getframe(1)), fn), *args, **kwargs)

        ThreadPoolExecutor.submit = submit_as_submitter  # type: ignore[method-assign,assignment]

    def seen(self, client: BaseClient, operation: str, params: dict[str, Any], frame: FrameType) -> None:
        function = function_of(frame)
        if function is None:
            with self._lock:
                self.outside += 1
            return
        service = client.meta.service_model.service_name
        for request in iam_requests(service, operation, params, Names.from_env()):
            call = Call(function, request, self.test)
            with self._lock:
                sinks = list(self._sinks)
            for sink in sinks:
                sink(call)

    def add(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.remove(sink)


RECORDER = Recorder()


@contextmanager
def recording() -> Iterator[list[Call]]:
    """The calls the app makes inside the block (a test's own recording, besides the session's)."""
    RECORDER.install()
    calls: list[Call] = []
    RECORDER.add(calls.append)
    try:
        yield calls
    finally:
        RECORDER.remove(calls.append)
