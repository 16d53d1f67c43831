"""A bounded schemathesis run against the app's own /openapi.json (issue 7 §10): every operation, every check
(server errors, status codes and content types the document promises, response schemas, unsupported methods,
ignored auth, negative data accepted …). 0 server errors is the bar.

The real app behind Chalice's local dev server (the server `chalice local` runs) on a loopback port, in this
process so it shares moto and the frozen clock of tests/functional/conftest.py; schemathesis calls it over HTTP.
Everything happens on a scratch tenant in that moto account, so the fuzzer cannot touch demo data.
SIYU_FUZZ_EXAMPLES bounds the run (examples per operation and phase), SIYU_FUZZ_SEED makes a failure
reproducible.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
import schemathesis
import schemathesis.engine
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer
from schemathesis.config import SchemathesisConfig

from chalicelib.domain.business_events import sign
from tests.functional.conftest import ADMIN, Api

SCRATCH = "fuzz"
EVENTS = "/t/{tenant_id}/events"
EXAMPLES = int(os.environ.get("SIYU_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("SIYU_FUZZ_SEED", "20261201"))


class _Handler(ChaliceRequestHandler):
    """`chalice local`'s handler for any method: Python's http.server answers a method it has no ``do_`` for (TRACE,
    QUERY …) with its own 501 page before Chalice sees it, and API Gateway refuses such methods itself (gateway
    responses in infra/). The fuzzer's unsupported-method check sends them; here they reach the app (405)."""

    requests = 0  # answered in this process: the run's size, for the report
    signed = 0  # events bodies the fuzzer sent signed
    disable_nagle_algorithm = True  # headers and body leave in two writes: without it each answer waits ~40 ms

    def _counted(self) -> None:
        _Handler.requests += 1
        self._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _counted

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._counted
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fuzzer's thousands of request lines would bury a failure's report."""


@contextmanager
def _local_server(app: Any) -> Iterator[str]:
    """The app behind Chalice's own local dev server (what `chalice local` runs) on a free loopback port."""
    server = LocalDevServer(app, Config(chalice_stage="local"), "127.0.0.1", 0, handler_cls=_Handler)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
SCHEMA_REFUSALS = ("request body is invalid", "invalid query parameter", "unknown query parameter")


def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except a schema-valid request refused by a rule the schema cannot state.

    positive_data_acceptance expects a 2xx for any request the document allows. Siyu checks more than a JSON
    Schema can say: references (a staff member, tag or plan that must exist), IANA time zones, touch rules that
    can never send, opaque cursors only the server issues, I-JSON number limits, and integers written as integers
    (``1.0`` is an integer to JSON Schema, a crash to key builders, so it is refused). Those answers are the
    contract. What stays a failure: a 2xx-worthy request that our *schema* validators refuse for another reason
    (the document and the validators disagree), and anything that is not a 4xx."""
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code not in (400, 409, 415):
        return True
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return True
    if not str(error.get("message", "")).startswith(SCHEMA_REFUSALS):
        return False  # a rule beyond the schema
    details = error.get("details") or []
    return not details or not all(_beyond_the_schema(str(d.get("message"))) for d in details)


# What an event's schema cannot say (domain/business_events.py: event_errors): whom it is about, and when.
EVENT_RULES = {
    "an exposure event is about no customer",
    "give exactly one of customer_id and external_userid",
    "is not an ISO-8601 time with an offset",
    "is in the future",
    "is before 1970",
}


def _beyond_the_schema(message: str) -> bool:
    return "is not of type 'integer'" in message or message in EVENT_RULES


def _signer(api: Api, secret: str) -> Callable[[Any, Any, dict[str, Any]], None]:
    """A ``before_call`` hook that signs every events body as a sender does (HMAC over the exact bytes sent), so the
    fuzzer reaches the events' own checks and effects instead of stopping at 401."""

    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        if case.operation.path != EVENTS or case.method.upper() != "POST":
            return
        wire = case.as_transport_kwargs(base_url="http://fuzz.invalid")
        body = {k: wire[k] for k in ("json", "data") if k in wire}
        prepared = requests.Request("POST", "http://fuzz.invalid/", **body).prepare().body  # the bytes requests sends
        raw = prepared if isinstance(prepared, bytes) else str(prepared or "").encode()
        stamp = api.clock.stamp()
        signed = {"X-Siyu-Timestamp": stamp, "X-Siyu-Signature": sign(secret, stamp, raw)}
        case.headers = {**(case.headers or {}), **signed}
        _Handler.signed += 1

    return before_call


def _run(schema: Any) -> tuple[list[str], dict[str, int]]:
    """Every phase schemathesis has (examples, coverage, fuzzing, stateful) with every check; the failures found,
    each with its operation, check and a curl line to reproduce it, and the scenarios run per phase."""
    from schemathesis.engine import Status, events

    problems: list[str] = []
    scenarios: dict[str, int] = {}
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.PhaseFinished):
            print(f"fuzz: {event.phase.name} done, {_Handler.requests} requests so far", flush=True)
        if isinstance(event, events.ScenarioFinished):
            scenarios[str(event.phase)] = scenarios.get(str(event.phase), 0) + 1
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        response = event.recorder.find_response(case_id=case_id)
                        answer = f"{response.status_code} {response.content[:300]!r}" if response else "no response"
                        problems.append(
                            f"{event.recorder.label} [{check.name}] {failure.title}: {failure.message}\n"
                            f"    {check.failure_info.code_sample}\n    -> {answer}"
                        )
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return sorted(set(problems)), scenarios


def test_fuzz_every_operation_finds_nothing(api: Api) -> None:
    token = api.create_tenant(SCRATCH, "wwfuzz0000000001")
    rotated = api.call("PATCH", f"/admin/tenants/{SCRATCH}", {"rotate_events_secret": True}, ADMIN)
    secret = rotated.json["events_secret"]
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "parameters": {"tenant_id": SCRATCH},
            "generation": {"max-examples": EXAMPLES},
            # Each operation's undeclared methods: one ordinary, two that http.server itself would refuse. The 405
            # answer is one generic mechanism (api/fallback.py), so all eight per operation add only time.
            "phases": {"coverage": {"unexpected-methods": ["DELETE", "TRACE", "QUERY"]}},
            # schemathesis's default refusals, plus 413: a schema-violating body over 256 KiB is refused for its size
            "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
            "operations": [
                {"include-path-regex": "^/admin", "headers": {"Authorization": f"Bearer {ADMIN}"}},
                {"include-path-regex": "^/t/", "headers": {"Authorization": f"Bearer {token}"}},
            ],
        }
    )
    from app import app  # the object the fixture set up under moto

    with _local_server(app) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
        schema.hook(filter_failure)
        assert len(list(schema.get_all_operations())) >= 50
        signer = schemathesis.hook(_signer(api, secret))  # before_call hooks are global only
        try:
            problems, scenarios = _run(schema)
        finally:
            schemathesis.hooks.unregister(signer)
    assert scenarios, "the fuzzer ran nothing"
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
    assert _Handler.signed >= EXAMPLES, "the events route was not fuzzed past its signature"
