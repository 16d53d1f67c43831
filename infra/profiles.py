"""Cost profiles (infra/profiles.json): the knobs that scale the stack's cost with the institution's size.

The file is the one place the values live (the cost model reads it too); this module reads it into a frozen
Profile and refuses a value the stack could not deploy or a promise could not survive (PITR off on the main table:
data loss is never a cost knob). Why each value: docs/deploy.md, "Cost profiles"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILES_FILE = Path(__file__).resolve().parent / "profiles.json"

#: Chalice function names, in the order the template lists them (the contract in issue 12's split).
FUNCTION_NAMES = ("api_handler", "fire", "backstop", "task_sync", "silence")

#: CloudWatch Logs accepts only these retention periods (days).
RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
# The metric each Siyu alarm reads (infra/resources.json): a profile that keeps the alarm must publish the metric.
ALARM_METRICS = {
    "FireFailuresAlarm": "FireFailures",
    "ShardLatenessAlarm": "ShardLatenessSeconds",
    "TouchesFailedAlarm": "TouchesFailed",
    "WeComTokenFailuresAlarm": "WeComTokenFailures",
    "WeComTrustedIpAlarm": "WeComErrors",
}
MAX_SHARD_SIZE = 1300  # a shard's async payload must stay under Lambda's 256 KB (docs/operations.md, fan-out)


class ProfileError(ValueError):
    """A profile name that does not exist, or a profile whose values the stack cannot take."""


@dataclass(frozen=True)
class Profile:
    """One profile's knobs, validated."""

    name: str
    memory_mb: Mapping[str, int]
    reserved_concurrency: Mapping[str, int | None]
    log_level: str
    log_retention_days: int
    pitr: Mapping[str, bool]
    alarms: tuple[str, ...]
    published_metrics: tuple[str, ...] | None  # None: every metric is a CloudWatch metric; else only these
    backstop_rate_minutes: int
    fire_shard_size: int
    tracing: bool
    api_rate_per_second: int
    api_burst: int


def _per_function(name: str, knob: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict) or set(values) != set(FUNCTION_NAMES):
        raise ProfileError(f"profile {name!r}: {knob} must name exactly the functions {', '.join(FUNCTION_NAMES)}")
    return dict(values)


def _check(profile: Profile) -> None:
    name = profile.name
    for function, mb in profile.memory_mb.items():
        if not isinstance(mb, int) or not 128 <= mb <= 10240:
            raise ProfileError(f"profile {name!r}: memory_mb.{function} must be 128..10240 MB, not {mb!r}")
    for function, reserved in profile.reserved_concurrency.items():
        if reserved is not None and (not isinstance(reserved, int) or reserved < 1):
            raise ProfileError(f"profile {name!r}: reserved_concurrency.{function} must be null or >= 1")
    if profile.log_level not in LOG_LEVELS:
        raise ProfileError(f"profile {name!r}: log_level must be one of {sorted(LOG_LEVELS)}")
    if profile.log_retention_days not in RETENTION_DAYS:
        raise ProfileError(
            f"profile {name!r}: log_retention_days {profile.log_retention_days} is not one CloudWatch takes"
        )
    if set(profile.pitr) != {"main", "idempotency"}:
        raise ProfileError(f"profile {name!r}: pitr must name main and idempotency")
    if profile.pitr["main"] is not True:
        raise ProfileError(f"profile {name!r}: PITR on the main table stays on (data loss is never a cost knob)")
    if profile.published_metrics is not None:
        unpublished = sorted(
            alarm for alarm in profile.alarms if ALARM_METRICS.get(alarm, "") not in (*profile.published_metrics, "")
        )
        if unpublished:
            raise ProfileError(f"profile {name!r}: published_metrics leaves out the metric of {', '.join(unpublished)}")
    if not 1 <= profile.backstop_rate_minutes <= 60:
        raise ProfileError(f"profile {name!r}: backstop_rate_minutes must be 1..60")
    if not 1 <= profile.fire_shard_size <= MAX_SHARD_SIZE:
        raise ProfileError(f"profile {name!r}: fire_shard_size must be 1..{MAX_SHARD_SIZE} (256 KB async payloads)")
    if profile.api_rate_per_second < 1 or profile.api_burst < 1:
        raise ProfileError(f"profile {name!r}: api_throttle needs a positive rate_per_second and burst")


def _published(raw: Any) -> tuple[str, ...] | None:
    """``"all"``, or the metric names that stay CloudWatch metrics (the rest ride in the log line: observability.py)."""
    return None if raw == "all" else tuple(str(m) for m in raw)


def parse_profile(name: str, raw: Mapping[str, Any]) -> Profile:
    """A Profile from its JSON object; ProfileError naming the knob when a value is missing or out of range."""
    try:
        throttle = raw["api_throttle"]
        profile = Profile(
            name=name,
            memory_mb=_per_function(name, "memory_mb", raw["memory_mb"]),
            reserved_concurrency=_per_function(name, "reserved_concurrency", raw["reserved_concurrency"]),
            log_level=str(raw["log_level"]),
            log_retention_days=int(raw["log_retention_days"]),
            pitr={k: bool(v) for k, v in dict(raw["pitr"]).items()},
            alarms=tuple(str(a) for a in raw["alarms"]),
            published_metrics=_published(raw["published_metrics"]),
            backstop_rate_minutes=int(raw["backstop_rate_minutes"]),
            fire_shard_size=int(raw["fire_shard_size"]),
            tracing=bool(raw["tracing"]),
            api_rate_per_second=int(throttle["rate_per_second"]),
            api_burst=int(throttle["burst"]),
        )
    except KeyError as exc:
        raise ProfileError(f"profile {name!r} has no {exc.args[0]!r}") from exc
    _check(profile)
    return profile


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    """Every profile in the file, validated."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: parse_profile(name, body) for name, body in raw.items()}


def load_profile(name: str, path: Path = PROFILES_FILE) -> Profile:
    """The named profile; ProfileError listing the known ones when there is no such profile."""
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"no profile {name!r}; known: {', '.join(profiles)}")
    return profiles[name]
