"""Tracing of the fire path (chalicelib/tracing.py): off outside Lambda and when POWERTOOLS_TRACE_DISABLED says so,
never loaded by ``import app``, and when on, the fire handler, its ``sop.fire`` span and each WeCom call are
subsegments (a recording provider stands in for X-Ray)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Tracer

from chalicelib import tracing
from chalicelib.adapters.wecom.client import WeComClient
from chalicelib.ports import WeComCredentials

ROOT = Path(__file__).parents[2]


class Segment:
    def __init__(self, name: str) -> None:
        self.name, self.annotations = name, {}  # type: ignore[var-annotated]

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None  # metadata, exceptions: not what these tests read


class Provider:
    """Records the subsegments opened, in order."""

    def __init__(self) -> None:
        self.opened: list[Segment] = []

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[Segment]:
        segment = Segment(name or "")
        self.opened.append(segment)
        yield segment

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    recorder = Provider()
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setattr(tracing, "_tracer", Tracer(service="siyu", provider=recorder, auto_patch=False))  # type: ignore[arg-type]
    yield recorder
    Tracer._reset_config()  # Tracer keeps its configuration on the class


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),  # not in Lambda: tests, make run
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),  # a profile turned it off
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"}, False),  # chalice local
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ],
)
def test_tracing_is_on_only_in_lambda_and_unless_the_profile_turns_it_off(environ: dict[str, str], on: bool) -> None:
    assert tracing.enabled(environ) is on


def test_importing_the_app_does_not_load_the_xray_sdk() -> None:
    code = "import sys, app; print(sorted(m for m in sys.modules if m.startswith('aws_xray_sdk')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_with_tracing_off_a_traced_handler_is_the_handler_and_spans_do_nothing() -> None:
    seen: list[Any] = []

    def plain(event: dict[str, Any], context: Any) -> str:
        seen.append((event, context))
        return "done"

    handler = tracing.traced(plain)
    assert handler({"a": 1}, "ctx") == "done" and seen == [({"a": 1}, "ctx")]
    with tracing.span("nothing", api="x"):
        pass
    assert tracing._tracer is None or not tracing._traced.get()


def test_with_tracing_on_the_handler_its_spans_and_each_wecom_call_are_subsegments(provider: Provider) -> None:
    class Transport:
        def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            if path.endswith("gettoken"):
                return {"errcode": 0, "access_token": "tok", "expires_in": 7200}
            return {"errcode": 0, "tag_group": []}

    client = WeComClient(Transport())

    def fire(event: dict[str, Any], context: Any) -> str:
        with tracing.span("sop.fire", tenant_id="acme", bucket_id="b1", shard="all"):
            client.get_corp_tag_list(WeComCredentials("acme", "wwcorp", "secret"))
        return "fired"

    assert tracing.traced(fire)({}, None) == "fired"
    assert [s.name for s in provider.opened] == ["## fire", "sop.fire", "wecom externalcontact/get_corp_tag_list"]
    assert provider.opened[1].annotations == {"tenant_id": "acme", "bucket_id": "b1", "shard": "all"}
    assert provider.opened[2].annotations == {"api": "externalcontact/get_corp_tag_list"}
    assert all("secret" not in str(s.annotations) and "tok" not in str(s.annotations) for s in provider.opened)
    with tracing.span("outside"):  # after the handler: no subsegment
        pass
    assert len(provider.opened) == 3
