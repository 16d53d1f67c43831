"""domain/metrics/holdout.py and lift.py: the holdout is stable and about the percentage asked for; lift and its
Newcombe interval match the published worked examples (issue 11 §2 "Holdout")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.metrics.holdout import bucket, in_holdout
from chalicelib.domain.metrics.lift import Lift, lift, wilson

ids = st.text(st.characters(min_codepoint=32, max_codepoint=0x9FFF), min_size=1, max_size=40)


@given(tenant=ids, plan=ids, customer=ids, percent=st.integers(0, 50))
def test_the_same_plan_and_customer_get_the_same_answer_every_time(
    tenant: str, plan: str, customer: str, percent: int
) -> None:
    first = in_holdout(tenant, plan, customer, percent)
    assert all(in_holdout(tenant, plan, customer, percent) == first for _ in range(3))
    assert 0 <= bucket(tenant, plan, customer) < 10_000


@given(tenant=ids, plan=ids, customer=ids, low=st.integers(0, 50), high=st.integers(0, 50))
def test_raising_the_percentage_keeps_everyone_held_out(
    tenant: str, plan: str, customer: str, low: int, high: int
) -> None:
    low, high = min(low, high), max(low, high)
    if in_holdout(tenant, plan, customer, low):
        assert in_holdout(tenant, plan, customer, high)


def test_a_fixed_assignment_does_not_change_between_releases() -> None:
    # Pinned values: a change to the hash would silently move customers between arms of running plans.
    assert [bucket("demo", "pl_a", f"c{i}") for i in range(3)] == [3644, 3328, 2055]
    assert in_holdout("demo", "pl_a", "c2", 21) and not in_holdout("demo", "pl_a", "c2", 20)  # bucket 2055


@pytest.mark.parametrize("percent", [5, 10, 25, 50])
def test_about_percent_of_10000_customers_are_held_out(percent: int) -> None:
    held = sum(in_holdout("demo", "pl_3dyu7u3mt24gy49s", f"c{i:05d}", percent) for i in range(10_000))
    assert abs(held / 10_000 - percent / 100) <= 0.015


def test_the_assignment_differs_per_plan_and_per_tenant() -> None:
    a = {i for i in range(2000) if in_holdout("demo", "pl_a", f"c{i}", 10)}
    b = {i for i in range(2000) if in_holdout("demo", "pl_b", f"c{i}", 10)}
    c = {i for i in range(2000) if in_holdout("other", "pl_a", f"c{i}", 10)}
    assert a != b and a != c
    assert len(a & b) < len(a) // 2  # independent draws overlap ~10%, not wholesale


def test_zero_percent_holds_no_one_out_and_a_bad_percent_is_refused() -> None:
    assert not any(in_holdout("demo", "pl_a", f"c{i}", 0) for i in range(1000))
    for bad in (-1, 51):
        with pytest.raises(ValueError):
            in_holdout("demo", "pl_a", "c1", bad)


# --- lift ---------------------------------------------------------------------------------------------------------

# Newcombe (1998), Table II, method 10 (hybrid score): (x1/n1 - x2/n2) → (lower, upper), to 4 decimals.
NEWCOMBE = [
    ((56, 70, 48, 80), 0.2000, (0.0524, 0.3339)),
    ((9, 10, 3, 10), 0.6000, (0.1705, 0.8090)),
    ((6, 7, 2, 7), 0.5714, (0.0582, 0.8062)),
    ((5, 56, 0, 29), 0.0893, (-0.0381, 0.1926)),
    ((0, 10, 0, 20), 0.0, (-0.1611, 0.2775)),
    ((0, 10, 0, 10), 0.0, (-0.2775, 0.2775)),
    ((10, 10, 0, 20), 1.0, (0.6791, 1.0)),
    ((10, 10, 0, 10), 1.0, (0.6075, 1.0)),
]


@pytest.mark.parametrize(("counts", "diff", "interval"), NEWCOMBE)
def test_lift_and_its_interval_match_newcombes_worked_examples(
    counts: tuple[int, int, int, int], diff: float, interval: tuple[float, float]
) -> None:
    x1, n1, x2, n2 = counts
    got = lift(n1, x1, n2, x2)
    assert got.treated_rate == x1 / n1 and got.holdout_rate == x2 / n2
    assert got.lift is not None and round(got.lift, 4) == diff
    assert (round(got.ci_low or 0, 4), round(got.ci_high or 0, 4)) == interval


def test_the_wilson_interval_by_hand() -> None:
    # 56/70: p = 0.8, z² = 3.84146; centre = (0.8 + z²/140)/(1 + z²/70) = 0.82744/1.05488 = 0.78439,
    # half-width = z·sqrt(0.16/70 + z²/19600)/1.05488 = 1.95996·0.049817/1.05488 = 0.09256.
    low, high = wilson(56, 70)
    assert (round(low, 4), round(high, 4)) == (0.6918, 0.8770)


def test_an_empty_arm_has_no_lift() -> None:
    assert lift(0, 0, 10, 2) == Lift(None, 0.2, None, None, None)
    assert lift(10, 2, 0, 0) == Lift(0.2, None, None, None, None)
    assert not lift(10, 2, 0, 0).significant


def test_significance_is_an_interval_that_excludes_zero() -> None:
    assert lift(70, 56, 80, 48).significant  # (0.0524, 0.3339)
    assert not lift(56, 5, 29, 0).significant  # (-0.0381, 0.1926)
    assert lift(80, 48, 70, 56).significant  # the same, the other way round: (-0.3339, -0.0524)


def test_impossible_counts_are_refused() -> None:
    for args in ((10, 11, 10, 1), (10, 1, 10, 11), (-1, 0, 10, 1)):
        with pytest.raises(ValueError):
            lift(*args)
