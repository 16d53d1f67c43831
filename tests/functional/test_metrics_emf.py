"""The EMF metrics of the contract (docs/operations.md, "Observability"), read from what the flows print: names,
values, units and dimension sets exactly, since the stack's alarms match on them. Every log line of a request and of
a job names its request and tenant."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.errors import SiyuError
from tests.functional.conftest import TENANT, Api
from tests.functional.log_privacy import Capture
from tests.functional.test_business_events_api import _order, _post
from tests.functional.test_sop_flow import _backstop, _setup

SEND = "externalcontact/add_msg_template"
GROUP = "siyu-functional"
DUE = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # day 1 at 10:00 in Shanghai: the step's bucket minute
STEP = {"id": "s1", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}}


@dataclass(frozen=True)
class Point:
    name: str
    values: list[float]
    unit: str
    dimensions: dict[str, str]  # the document's one dimension set, with its values


def points(out: str) -> list[Point]:
    """Every metric of every EMF document printed, with the dimension set it is published under."""
    found = []
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        doc = json.loads(line)
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Siyu"
        [dimension_set] = directive["Dimensions"]
        dims = {name: doc[name] for name in dimension_set}
        for metric in directive["Metrics"]:
            value = doc[metric["Name"]]
            found.append(Point(metric["Name"], value if isinstance(value, list) else [value], metric["Unit"], dims))
    return found


def total(found: list[Point], name: str, **dims: str) -> float:
    """The sum of ``name`` published under exactly {service, *dims}."""
    want = {"service": "siyu", **dims}
    return sum(sum(p.values) for p in found if p.name == name and p.dimensions == want)


def named(found: list[Point], name: str) -> list[Point]:
    return [p for p in found if p.name == name]


def _scheduled(api: Api, customers: int) -> tuple[str, str, dict[str, Any], list[str]]:
    """A tenant whose plan's one step is due tomorrow 10:00; ``customers`` scanned into it. Returns the admin token,
    the events secret, the bucket's fire event and the customer ids."""
    token, secret, state = _setup(api, [STEP])
    ids = [api.scan(state)[1].json["customer_id"] for _ in range(customers)]
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    [schedule] = scheduler.list_schedules(GroupName=GROUP)["Schedules"]
    detail = scheduler.get_schedule(Name=schedule["Name"], GroupName=GROUP)
    return token, secret, json.loads(detail["Target"]["Input"]), ids


def test_business_events_count_what_was_ingested_and_what_was_rejected_by_reason(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    _, secret, _, [cid] = _scheduled(api, 1)
    capsys.readouterr()
    assert _post(api, secret, _order(api, "o-1", cid)).json["results"][0]["status"] == "applied"
    api.clock.advance(seconds=1)
    assert _post(api, secret, _order(api, "o-1", cid)).json["results"][0]["status"] == "duplicate"
    assert _post(api, secret, _order(api, "o-2", cid), signature="0" * 64).status_code == 401
    assert _post(api, secret, {"event_id": "o-3", "type": "order"}).status_code == 400
    found = points(capsys.readouterr().out)
    assert total(found, "EventsIngested") == 1
    assert total(found, "EventsRejected", reason="duplicate") == 1
    assert total(found, "EventsRejected", reason="bad_signature") == 1
    assert total(found, "EventsRejected", reason="invalid_request") == 1
    assert sum(sum(p.values) for p in named(found, "EventsRejected")) == 3  # no other dimension set
    assert {p.unit for p in named(found, "EventsIngested") + named(found, "EventsRejected")} == {"Count"}


def test_a_fire_counts_touches_fired_and_skipped_and_its_lateness_in_seconds(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    _, secret, event, [buyer, _other] = _scheduled(api, 2)
    assert _post(api, secret, _order(api, "o-1", buyer)).status_code == 200  # the buyer exits: a skip at fire time
    api.clock.move_to(DUE.replace(second=30))
    capsys.readouterr()
    report = api.client.lambda_.invoke("fire", event).payload
    assert (report["sent"], report["skipped"]) == (1, 1)
    found = points(capsys.readouterr().out)
    assert total(found, "TouchesFired") == 1 and total(found, "TouchesSkipped") == 1
    [lateness] = named(found, "ShardLatenessSeconds")
    assert lateness == Point("ShardLatenessSeconds", [30.0], "Seconds", {"service": "siyu"})
    assert named(found, "FireFailures") == [] and named(found, "TouchesFailed") == []


def test_wecom_refusing_the_task_counts_its_errcode_and_the_touches_failed(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, event, _ = _scheduled(api, 1)
    api.clock.move_to(DUE)
    api.sandbox.world.inject(SEND, 60020)  # the caller's IP is not on the corp's trusted list
    capsys.readouterr()
    assert api.client.lambda_.invoke("fire", event).payload["failed"] == 1
    found = points(capsys.readouterr().out)
    refused = Point("WeComErrors", [1.0], "Count", {"service": "siyu", "errcode": "60020"})
    assert named(found, "WeComErrors") == [refused]
    assert total(found, "TouchesFailed") == 1 and total(found, "TouchesFailedByReason", reason="wecom_60020") == 1
    assert named(found, "TouchesFired") == []


def test_a_failing_gettoken_counts_a_token_failure_and_the_errcodes_met(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, event, _ = _scheduled(api, 1)  # the welcome and the profile read have a token cached by now
    api.clock.move_to(DUE)
    api.sandbox.world.expire_tokens()  # the cached token is refused (42001); the refresh meets a bad secret
    api.sandbox.world.inject("gettoken", 40001)
    capsys.readouterr()
    assert api.client.lambda_.invoke("fire", event).payload["retrying"] == 1
    found = points(capsys.readouterr().out)
    assert total(found, "WeComTokenFailures") == 1
    assert total(found, "WeComErrors", errcode="42001") == 1 and total(found, "WeComErrors", errcode="40001") == 1


def test_the_backstop_counts_the_touches_of_a_lost_schedule_it_caught(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    _scheduled(api, 2)
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    for schedule in scheduler.list_schedules(GroupName=GROUP)["Schedules"]:
        scheduler.delete_schedule(Name=schedule["Name"], GroupName=GROUP)  # the schedule is lost
    api.clock.move_to(DUE.replace(minute=4))
    capsys.readouterr()
    assert _backstop(api).payload["buckets_fired"] == 1
    found = points(capsys.readouterr().out)
    assert total(found, "BackstopCatches") == 2 and total(found, "TouchesFired") == 2
    assert named(found, "ShardLatenessSeconds") == []  # the Scheduler's lateness only: this one is caught instead


def test_a_fire_that_raises_counts_a_fire_failure(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with pytest.raises(SiyuError):
        api.client.lambda_.invoke("fire", {"bucket_id": "pl_x.1.s1.202612020200"})  # no tenant_id
    assert named(points(capsys.readouterr().out), "FireFailures") == [
        Point("FireFailures", [1.0], "Count", {"service": "siyu"})
    ]


def test_every_line_of_a_request_and_of_a_job_names_its_request_and_its_tenant(api: Api, log_privacy: Capture) -> None:
    _, _, state = _setup(api, [STEP])
    before = len(log_privacy.lines)
    api.scan(state)  # the callback: intake, welcome, enrollment
    scan_lines = _siyu(log_privacy.lines[before:])
    assert scan_lines and all(line["tenant_id"] == TENANT for line in scan_lines)
    assert len({line["request_id"] for line in scan_lines}) == 1 and scan_lines[0]["request_id"]
    api.clock.move_to(DUE.replace(minute=4))
    before = len(log_privacy.lines)
    _backstop(api)
    job_lines = [line for line in _siyu(log_privacy.lines[before:]) if line.get("bucket")]
    assert job_lines and all(line["tenant_id"] == TENANT and line["request_id"] for line in job_lines)
    assert {line["request_id"] for line in job_lines} != {scan_lines[0]["request_id"]}


def _siyu(lines: list[str]) -> list[dict[str, Any]]:
    """Siyu's own JSON log lines (not EMF documents)."""
    docs = [json.loads(line) for line in lines if line.startswith("{")]
    return [doc for doc in docs if doc.get("service") == "siyu" and "_aws" not in doc and "level" in doc]
