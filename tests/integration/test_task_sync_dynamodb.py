"""The task sync suite again, on DynamoDB Local through the real store: the status-conditional saves, the lead
task's conditional create (one, even for concurrent runs), the sync cursor and the tasks index ordering."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_task_sync, test_task_sync_erasure
from tests.unit.test_task_sync import SyncEnv

for _module in (test_task_sync, test_task_sync_erasure):
    globals().update({name: fn for name, fn in vars(_module).items() if name.startswith("test_")})
del globals()["test_app_schedules_the_job_every_ten_minutes"]  # no storage in it: once is enough


@pytest.fixture
def env(ddb_settings: Settings) -> SyncEnv:
    store: Any = DynamoStore(configure(ddb_settings), ddb_settings.table_name)
    return SyncEnv(store)
