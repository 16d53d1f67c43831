"""The enrollment-answers suite again, on DynamoDB Local through the real store: the plan roster and its consistent
batch read, the customer partition listing, tenant- and partition-bound cursors, the stage's conditional
UpdateItem, and erasure of roster entries."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_enrollment_answers
from tests.unit.test_lifecycle import Env

globals().update({n: fn for n, fn in vars(test_enrollment_answers).items() if n.startswith("test_")})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return Env(store)
