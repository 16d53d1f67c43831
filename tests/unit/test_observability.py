"""chalicelib/observability.py: an invocation's log keys (request and tenant id, never an earlier invocation's) and
the EMF documents a flush writes (one dimension set per document)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from chalicelib import observability
from chalicelib.observability import count, count_by, flush, invocation, logger, seconds, start, tenant_scope


@pytest.fixture(autouse=True)
def _no_keys_left() -> Iterator[None]:
    yield
    logger.thread_safe_clear_keys()


def keys() -> dict[str, object]:
    return dict(logger.thread_safe_get_current_keys())


def test_an_invocation_starts_afresh_and_a_tenant_scope_gives_back_what_was_there() -> None:
    invocation("r1", "acme", route="/t/{tenant_id}/channels")
    invocation("r2")  # a warm container's next invocation: nothing of r1's is left
    assert keys() == {"request_id": "r2"}
    with tenant_scope("acme"):
        assert keys() == {"request_id": "r2", "tenant_id": "acme"}
        with tenant_scope("beta"):
            assert keys()["tenant_id"] == "beta"
        assert keys()["tenant_id"] == "acme"
    assert keys() == {"request_id": "r2"}


def test_start_reads_the_ids_of_an_api_request_and_of_a_job() -> None:
    lambda_context = SimpleNamespace(aws_request_id="lambda-1")
    request = SimpleNamespace(
        context={"requestId": "apigw-1", "resourcePath": "/t/{tenant_id}/tasks"},
        lambda_context=lambda_context,
        uri_params={"tenant_id": "acme"},
    )
    start(request)
    assert keys() == {"request_id": "apigw-1", "tenant_id": "acme", "route": "/t/{tenant_id}/tasks"}
    local = SimpleNamespace(context={"resourcePath": "/x"}, lambda_context=lambda_context, uri_params=None)
    start(local)  # chalice local has no API Gateway request id: the Lambda's
    assert keys() == {"request_id": "lambda-1", "route": "/x"}
    probe = SimpleNamespace(context={}, lambda_context=None, uri_params={"tenant_id": "..%2Fetc"})
    start(probe)
    assert "tenant_id" not in keys()  # not a tenant id: not logged
    job = SimpleNamespace(context=lambda_context, to_dict=lambda: {"tenant_id": "acme", "bucket_id": "b"})
    start(job)
    assert keys() == {"request_id": "lambda-1", "tenant_id": "acme"}


def test_a_flush_writes_each_extra_dimension_value_in_a_document_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    flush()
    capsys.readouterr()
    count("TouchesFired", 3)
    seconds("ShardLatenessSeconds", 12.5)
    count_by("WeComErrors", "errcode", "60020")
    count_by("WeComErrors", "errcode", "60020")
    count_by("WeComErrors", "errcode", "-1")
    flush()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    shapes = sorted(
        (
            sorted(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]),
            d.get("errcode"),
            sorted(m["Name"] for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]),
        )
        for d in docs
    )
    assert shapes == [
        (["errcode", "service"], "-1", ["WeComErrors"]),
        (["errcode", "service"], "60020", ["WeComErrors"]),
        (["service"], None, ["ShardLatenessSeconds", "TouchesFired"]),
    ]
    by_code = {d.get("errcode"): d for d in docs}
    assert by_code["60020"]["WeComErrors"] == [1.0, 1.0] and by_code[None]["TouchesFired"] == [3.0]
    assert all(d["service"] == "siyu" and d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Siyu" for d in docs)
    flush()
    assert capsys.readouterr().out == "" and not observability._by_dimension  # nothing twice


def test_an_unpublished_count_rides_in_the_line_and_costs_no_metric(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    flush()
    capsys.readouterr()
    monkeypatch.setenv("SIYU_PUBLISHED_METRICS", "TouchesFailed,WeComErrors")
    count("TouchesFailed")
    count("TouchesFired", 3)
    count("TouchesFired", 2)
    seconds("ShardLatenessSeconds", 12.5)
    seconds("ShardLatenessSeconds", 3)
    count_by("WeComErrors", "errcode", "60020")
    count_by("EventsRejected", "reason", "bad_signature")
    flush()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    names = sorted(m["Name"] for d in docs for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"])
    assert names == ["TouchesFailed", "WeComErrors"]  # the only custom metrics CloudWatch bills
    plain = next(d for d in docs if "counts" in d)
    assert plain["counts"] == {
        "TouchesFired": 5,
        "ShardLatenessSeconds.max": 12.5,
        "EventsRejected.bad_signature": 1,
    }
    caplog.set_level("INFO", logger="siyu")
    count("TouchesFired")  # no published metric in the invocation: the counts get a log line of their own
    flush()
    assert capsys.readouterr().out == ""  # no EMF document
    lines = [(r.getMessage(), getattr(r, "counts", None)) for r in caplog.records if r.getMessage() == "counts"]
    assert lines == [("counts", {"TouchesFired": 1})]
