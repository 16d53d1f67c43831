"""Bulk enrollment jobs on DynamoDB Local: the job record's conditional advance, the running-jobs index."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_bulk_enrollment
from tests.unit.conftest import Env, make_env

globals().update({name: fn for name, fn in vars(test_bulk_enrollment).items() if name.startswith("test_")})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return make_env(store)
