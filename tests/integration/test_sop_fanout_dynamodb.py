"""The fan-out suite again, on DynamoDB Local through the real store: a sharded fire (inline, held, lost, threaded)
sends each touch once, its twins change nothing, and a shard's re-read of its touches holds on AWS's own engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_sop_fanout

globals().update({name: fn for name, fn in vars(test_sop_fanout).items() if name.startswith("test_")})


@pytest.fixture
def new_store(ddb_settings: Settings) -> Callable[[], Any]:
    return lambda: DynamoStore(configure(ddb_settings), ddb_settings.table_name)
