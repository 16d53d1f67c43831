"""The fan-out suite again, on DynamoDB Local through the real store: a sharded fire (inline, held, lost, threaded)
sends each touch once, its twins change nothing, and a shard's re-read of its touches holds on AWS's own engine."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_sop_fanout

# The tests that run on a store (they take ``new_store``); the planner's and the adapters' need no DynamoDB.
globals().update(
    {
        name: fn
        for name, fn in vars(test_sop_fanout).items()
        if name.startswith("test_") and "new_store" in inspect.signature(fn).parameters
    }
)


@pytest.fixture
def new_store(ddb_settings: Settings) -> Callable[[], Any]:
    return lambda: DynamoStore(configure(ddb_settings), ddb_settings.table_name)
