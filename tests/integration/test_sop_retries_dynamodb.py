"""The retry and reconciliation suite (tests/unit/test_sop_retries.py) again, on DynamoDB Local through the real
store: retrying and failed tasks, failed touches that still imply the next one, msgid claims and task leases."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_sop_retries
from tests.unit.test_sop_engine import Env
from tests.unit.test_sop_retries import metrics  # noqa: F401 (a fixture the suite's tests take)

globals().update({name: fn for name, fn in vars(test_sop_retries).items() if name.startswith("test_")})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return Env(store)
