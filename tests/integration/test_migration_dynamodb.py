"""Migrations on DynamoDB Local: the plan-version bucket index, conditional moves and re-pinned enrollments."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_migration
from tests.unit.conftest import Env, make_env

globals().update({name: fn for name, fn in vars(test_migration).items() if name.startswith("test_")})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return make_env(store)
