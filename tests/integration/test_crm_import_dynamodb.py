"""The CRM import's service story (tests/unit/test_crm_import.py) on DynamoDB Local: all or nothing, a crash mid-write
invisible until a re-run completes it, past buyers recognised at import and at their first add, erasure."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_crm_import
from tests.unit.conftest import Env, make_env

SERVICE_TESTS = (
    "test_a_dry_run_checks_and_counts_but_stores_nothing",
    "test_a_bad_file_imports_nothing_and_names_every_bad_row",
    "test_a_past_buyer_scanning_later_is_recognised_and_not_nurtured",
    "test_an_existing_customer_gets_the_order_at_import_once",
    "test_an_import_that_died_mid_write_is_invisible_and_a_rerun_completes_it",
    "test_erasing_a_customer_erases_their_crm_orders",
    "test_a_customer_added_while_the_import_is_written_gets_the_order_when_it_completes",
    "test_a_phone_staff_note_later_is_matched_and_ends_the_nurture_plan",
)
globals().update({name: getattr(test_crm_import, name) for name in SERVICE_TESTS})


@pytest.fixture
def env(ddb_settings: Settings) -> Env:
    return make_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name))
