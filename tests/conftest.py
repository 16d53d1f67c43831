"""Generic test rules: markers by folder, and an AWS environment that can never reach a real account.

Safety comes first and happens at import, before any test module (or boto3 inside it) is imported: dummy
credentials, no profile, no shared config files, no instance metadata, and no SIYU_* variables leaking in from the
developer's shell (a stray SIYU_DYNAMODB_ENDPOINT must not point a test at a running devstack).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import pytest

from devstack.safe_env import UNSAFE_AWS_ENV

TESTS_DIR = Path(__file__).resolve().parent
FOLDER_MARKERS = {
    "unit": "unit: fast tests of domain and services with in-memory fakes (no network, no processes)",
    "functional": "functional: the Chalice app through chalice.test.Client with moto",
    "integration": "integration: adapters against DynamoDB Local (needs Java >= 17; fails instead of skipping in CI)",
}

SAFE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _make_environment_safe(environ: MutableMapping[str, str]) -> None:
    for name in UNSAFE_AWS_ENV:
        environ.pop(name, None)
    for name in [n for n in environ if n.startswith("SIYU_")]:
        del environ[name]
    environ.update(SAFE_AWS_ENV)


_make_environment_safe(os.environ)


def running_in_ci() -> bool:
    """CI=true (or 1/yes): what would be a skip on a laptop is a failure there."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    for line in FOLDER_MARKERS.values():
        config.addinivalue_line("markers", line)
    from tests.aws_calls.plugin import AwsCallsPlugin  # after the safe environment: it imports botocore

    config.pluginmanager.register(AwsCallsPlugin(config), "siyu-aws-calls")  # the policy test (policies/README.md)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder (tests/unit -> unit, ...) so `-m integration` and friends need no decorators."""
    for item in items:
        try:
            folder = Path(str(item.path)).resolve().relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(autouse=True)
def _safe_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Re-assert the dummy AWS environment per test, whatever an earlier test or import changed."""
    for name in UNSAFE_AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in SAFE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    yield
