"""Integration fixtures: one in-memory DynamoDB Local per test session (per xdist worker), fresh tables per test.

Without Java the tests skip with the reason printed, except under CI=true, where a skip would hide that the
integration suite never ran: there the fixture fails instead.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from chalicelib.settings import (
    ENV_DYNAMODB_ENDPOINT,
    ENV_IDEMPOTENCY_TABLE,
    ENV_REGION,
    ENV_SCHEDULE_GROUP,
    ENV_STAGE,
    ENV_TABLE,
    Settings,
)
from devstack.dynamodb_local import DynamoDBLocalError, ensure_installed, java_available, java_missing_reason
from devstack.dynamodb_local import start_on_free_port as start_dynamodb_local
from devstack.provision import delete_tables, local_client, provision

LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> NoReturn:
    """Skip on a laptop, fail in CI; print the reason either way so it shows up in the run's output."""
    print(f"\nintegration tests: {reason}", file=sys.stderr)
    if _in_ci():
        pytest.fail(f"CI=true and DynamoDB Local is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """URL of an in-memory DynamoDB Local on a free loopback port, started once and stopped at session end."""
    if not java_available():
        _unavailable(java_missing_reason())
    try:
        install_dir = ensure_installed()
    except DynamoDBLocalError as exc:
        _unavailable(str(exc))
    server = start_dynamodb_local(install_dir=install_dir)
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _local_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Integration tests talk to DynamoDB Local only, with obviously fake credentials."""
    for name, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_local_endpoint: str) -> Any:
    """A boto3 DynamoDB client bound to DynamoDB Local (dummy credentials, us-east-1)."""
    return local_client("dynamodb", dynamodb_local_endpoint, "us-east-1")


@pytest.fixture
def ddb_settings(
    dynamodb_local_endpoint: str, dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for uniquely named, freshly provisioned tables; the environment says the same for get_settings()."""
    suffix = uuid.uuid4().hex[:12]
    env = {
        ENV_STAGE: "test",
        ENV_TABLE: f"siyu-test-{suffix}",
        ENV_IDEMPOTENCY_TABLE: f"siyu-test-{suffix}-idempotency",
        ENV_SCHEDULE_GROUP: f"siyu-test-{suffix}",
        ENV_DYNAMODB_ENDPOINT: dynamodb_local_endpoint,
        ENV_REGION: "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(env)
    provision(settings, dynamodb_client=dynamodb_client)
    try:
        yield settings
    finally:
        delete_tables(settings, dynamodb_client)


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One repository contract, two implementations: DynamoStore on DynamoDB Local, and the in-memory fake."""
    if request.param == "fake":
        from tests.fakes.store import FakeStore

        yield FakeStore()
        return
    from chalicelib.adapters.dynamodb.models import configure
    from chalicelib.adapters.dynamodb.store import DynamoStore

    settings: Settings = request.getfixturevalue("ddb_settings")
    yield DynamoStore(configure(settings), settings.table_name)
