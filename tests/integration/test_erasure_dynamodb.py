"""Erasure leaves nothing behind, on DynamoDB Local: the services-level story of tests/unit/test_erasure.py over the
real store, then a Scan of the main table and the idempotency table (and the schedules' payloads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_erasure
from tests.unit.conftest import make_env
from tests.unit.test_erasure import Story

globals().update({name: fn for name, fn in vars(test_erasure).items() if name.startswith("test_")})


class DynamoStory(Story):
    tables: tuple[str, ...] = ()

    def everything(self) -> str:
        items: list[Any] = []
        for table in self.tables:
            for page in self.store.client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                items += page["Items"]
        return json.dumps(items, ensure_ascii=False) + json.dumps(self.scheduler.schedules, ensure_ascii=False)


@pytest.fixture
def story(ddb_settings: Settings) -> Story:
    env = make_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name), DynamoStory)
    assert isinstance(env, DynamoStory)
    env.tables = (ddb_settings.table_name, ddb_settings.idempotency_table_name)
    return env
