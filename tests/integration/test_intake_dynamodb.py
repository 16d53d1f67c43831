"""The whole intake suite again, this time against DynamoDB Local through the real DynamoStore.

Every behaviour the unit tests pin on the in-memory fake — idempotency, concurrent duplicates, merges, erasure —
must hold on AWS's own engine too, conditional writes and transactions included.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_intake
from tests.unit.conftest import Env, make_env

# Re-collect every test of the unit module here; the `env` fixture below swaps the store.
globals().update({name: fn for name, fn in vars(test_intake).items() if name.startswith("test_")})


class DynamoEnv(Env):
    def counters(self, userid: str, date: str) -> dict[str, int]:
        item = self.store.client.get_item(
            TableName=self.store.table,
            Key={"pk": {"S": k.staff_day_pk("unit", userid)}, "sk": {"S": k.staff_day_sk(date)}},
            ConsistentRead=True,
        ).get("Item", {})
        return {name: int(v["N"]) for name, v in item.items() if "N" in v}

    def _count(self, prefix: str) -> int:
        pages = self.store.client.get_paginator("scan").paginate(TableName=self.store.table)
        return sum(
            1
            for page in pages
            for item in page["Items"]
            if item["pk"]["S"].startswith(prefix) and item["kind"]["S"] in ("ignored", "customer")
        )

    def ignored_count(self) -> int:
        return self._count("T#unit#IGN#")

    def customer_count(self) -> int:
        return self._count("T#unit#C#")


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return make_env(store, DynamoEnv)
