"""The check-in and points suite again, against DynamoDB Local through the real DynamoStore: once per local day,
the local midnight, keywords, streaks and rewards, the ledger, leaderboards, and two redemptions at once (exactly
one of two 60-point redemptions from a balance of 100 succeeds) on AWS's own engine, transactions included.

The unit tests that look into the fake's state (erasure, the fact's detail) are not re-collected: the contract
suite (tests/integration/contract/test_points.py) pins erasure on both stores."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamodb.models import configure
from chalicelib.adapters.dynamodb.store import DynamoStore
from chalicelib.settings import Settings
from tests.unit import test_points
from tests.unit.conftest import make_env

STORE_AGNOSTIC = (
    "test_a_checkin_is_credited_once_per_customer_group_and_local_day",
    "test_a_checkin_without_a_group_earns_nothing",
    "test_a_checkin_across_a_local_midnight_is_two_days_and_a_streak_of_two",
    "test_a_replayed_event_or_signal_credits_nothing_twice",
    "test_group_messages_check_in_by_keyword_and_a_group_can_change_it",
    "test_a_missed_day_resets_the_streak",
    "test_a_seven_day_streak_makes_one_reward_task_per_run",
    "test_a_credit_is_idempotent_by_its_ref",
    "test_the_ledger_pages_newest_first",
    "test_two_redemptions_at_once_never_take_the_balance_below_zero",
    "test_a_repeated_redemption_answers_its_first_outcome",
    "test_the_leaderboard_ranks_by_group_points_then_who_got_there_first",
)
globals().update({name: getattr(test_points, name) for name in STORE_AGNOSTIC})


@pytest.fixture
def camp(ddb_settings: Settings) -> test_points.Camp:
    return test_points.Camp(make_env(DynamoStore(configure(ddb_settings), ddb_settings.table_name)))
