"""infra/profiles.json: the three cost profiles load, say what docs/deploy.md says they say, and a profile the
stack could not deploy (or that would risk data) is refused with the knob named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.alarms import select_alarms
from infra.profiles import FUNCTION_NAMES, PROFILES_FILE, ProfileError, load_profile, load_profiles, parse_profile
from tests.unit.infra_template import chalice_template


def _raw(name: str = "small") -> dict[str, Any]:
    body: dict[str, Any] = json.loads(PROFILES_FILE.read_text(encoding="utf-8"))[name]
    return body


def test_there_are_exactly_three_profiles_and_each_is_valid() -> None:
    assert list(load_profiles()) == ["small", "medium", "large"]


def test_small_is_one_institution_at_the_least_cost() -> None:
    small = load_profile("small")
    assert small.memory_mb == {"api_handler": 512, "fire": 1024, "backstop": 512, "task_sync": 512, "silence": 512}
    assert set(small.reserved_concurrency.values()) == {None}
    assert (small.log_level, small.log_retention_days) == ("INFO", 14)
    assert small.pitr == {"main": True, "idempotency": False}
    assert (small.backstop_rate_minutes, small.fire_shard_size, small.tracing) == (10, 500, False)
    # core alarms only: with the three DLQ alarms, 7 in all, inside CloudWatch's 10 free alarms
    assert len(small.alarms) + 3 <= 10 and "ShardLatenessAlarm" not in small.alarms


def test_large_protects_the_account_and_traces_the_fire() -> None:
    large = load_profile("large")
    assert large.reserved_concurrency["fire"] == 300
    assert large.reserved_concurrency["api_handler"] is None  # never cap the WeCom callbacks
    assert (large.log_retention_days, large.tracing, large.backstop_rate_minutes) == (90, True, 5)
    assert large.fire_shard_size == 1000
    assert large.pitr["main"] is True


def test_profiles_grow_monotonically_where_they_should() -> None:
    small, medium, large = (load_profile(n) for n in ("small", "medium", "large"))
    assert small.log_retention_days < medium.log_retention_days < large.log_retention_days
    assert small.api_rate_per_second < medium.api_rate_per_second < large.api_rate_per_second
    assert set(small.alarms) < set(medium.alarms) == set(large.alarms)


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_every_alarm_a_profile_names_is_in_the_template(name: str) -> None:
    select_alarms(chalice_template(), load_profile(name))  # raises on a name the template lacks


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="no profile 'tiny'; known: small, medium, large"):
        load_profile("tiny")


def test_pitr_on_the_main_table_is_not_a_cost_knob() -> None:
    raw = _raw()
    raw["pitr"]["main"] = False
    with pytest.raises(ProfileError, match="PITR on the main table stays on"):
        parse_profile("cheap", raw)


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("log_retention_days", 10, "log_retention_days 10"),
        ("log_level", "VERBOSE", "log_level"),
        ("fire_shard_size", 2000, "fire_shard_size"),
        ("backstop_rate_minutes", 0, "backstop_rate_minutes"),
        ("memory_mb", {**dict.fromkeys(FUNCTION_NAMES, 512), "fire": 64}, "memory_mb.fire"),
        ("memory_mb", {"fire": 1024}, "memory_mb must name exactly the functions"),
        ("reserved_concurrency", {**dict.fromkeys(FUNCTION_NAMES), "fire": 0}, "reserved_concurrency.fire"),
        (
            "published_metrics",
            ["TouchesFailed"],
            "leaves out the metric of WeComTokenFailuresAlarm, WeComTrustedIpAlarm",
        ),
    ],
)
def test_a_value_the_stack_cannot_take_is_refused(knob: str, value: object, message: str) -> None:
    raw = _raw()
    raw[knob] = value
    with pytest.raises(ProfileError, match=message):
        parse_profile("bad", raw)


def test_a_missing_knob_is_named(tmp_path: Path) -> None:
    raw = _raw()
    del raw["tracing"]
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"small": raw}))
    with pytest.raises(ProfileError, match="profile 'small' has no 'tracing'"):
        load_profiles(path)


def test_small_publishes_only_what_its_alarms_read_and_the_others_everything() -> None:
    small, medium, large = (load_profile(n) for n in ("small", "medium", "large"))
    assert small.published_metrics == ("TouchesFailed", "WeComTokenFailures", "WeComErrors")
    assert medium.published_metrics is None and large.published_metrics is None
