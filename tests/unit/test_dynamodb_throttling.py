"""DynamoDB throttling is retried with jittered backoff (issue 9 §1): by botocore's ``standard`` retry mode, which
PynamoDB configures from the models' ``max_retry_attempts``. Checked against a local HTTP endpoint that throttles the
first requests, so what is asserted is the client's behaviour, not its configuration."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError
from pynamodb.connection.base import Connection

from chalicelib.adapters.dynamodb.models import SiyuItem

THROTTLES = ("ProvisionedThroughputExceededException", "ThrottlingException")


class Throttling(BaseHTTPRequestHandler):
    """Answers ``throttle`` errors first (one per request, in turn), then an item."""

    errors: list[str] = []
    requests = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests += 1
        body: dict[str, Any]
        if self.errors:
            code = self.errors.pop(0)
            body, status = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "slow down"}, 400
        else:
            body, status = {"Item": {"pk": {"S": "p"}, "sk": {"S": "s"}}}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[float]]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "local")
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)  # the backoff, recorded, not waited
    server = HTTPServer(("127.0.0.1", 0), Throttling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Throttling.requests = 0
    try:
        yield f"http://127.0.0.1:{server.server_port}", slept
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> dict[str, Any]:
    """A GetItem through the botocore client PynamoDB builds for the models (their retry settings)."""
    connection = Connection(region="us-east-1", host=url, max_retry_attempts=SiyuItem.Meta.max_retry_attempts)
    answer: dict[str, Any] = connection.client.get_item(TableName="siyu", Key={"pk": {"S": "p"}, "sk": {"S": "s"}})
    return answer


def test_throttled_requests_are_retried_with_jittered_backoff(endpoint: tuple[str, list[float]]) -> None:
    url, slept = endpoint
    Throttling.errors = list(THROTTLES) + list(THROTTLES)[:1]  # three throttles, then the item
    item = _get(url)
    assert item["Item"]["pk"] == {"S": "p"} and Throttling.requests == 4
    assert len(slept) == 3 and all(0 <= s <= 20 for s in slept)  # random * min(20, 2^attempt): full jitter


def test_throttling_that_outlasts_the_retries_raises(endpoint: tuple[str, list[float]]) -> None:
    url, _ = endpoint
    Throttling.errors = ["ThrottlingException"] * 10
    with pytest.raises(ClientError, match="ThrottlingException"):
        _get(url)
    assert Throttling.requests == 1 + SiyuItem.Meta.max_retry_attempts
