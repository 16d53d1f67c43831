"""The SOP engine suite again, on DynamoDB Local through the real store: conditional touch transitions, bucket
registry, caps, tasks and enrollments must hold on AWS's own engine, concurrent fires included."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_sop_engine
from tests.unit.test_sop_engine import Env

globals().update({name: fn for name, fn in vars(test_sop_engine).items() if name.startswith("test_")})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return Env(store)
