"""The callback scenarios: new customers and their duplicate deliveries, with the tenant cache as in production and
off, interleaved round by round over one running ``Stack`` (bench/harness.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.common import quiet_stdout
from bench.harness import Scenario, Stack
from bench.meter import count_all_dynamodb_calls

CACHE_ENV = "SIYU_TENANT_CACHE_SECONDS"


@dataclass
class Plan:
    """How one scenario makes its deliveries: the event to post, the outcome to expect, the env to post it under."""

    scenario: Scenario
    fields: Callable[[], dict[str, Any]]
    expect: str
    env: dict[str, str | None]


@contextlib.contextmanager
def patched_env(env: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, remove) variables for one delivery; the app reads Settings per call, so a different
    value selects a different, separately cached Services (e.g. tenant cache off) without rebuilding anything."""
    saved = {name: os.environ.get(name) for name in env}
    try:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_rounds(stack: Stack, plans: list[Plan], audit: list[int], *, measured: bool) -> None:
    """One delivery per plan, in order. Rounds interleave the scenarios so that all of them see the same machine
    and the same DynamoDB Local JIT state (run one after the other, the later ones looked faster)."""
    for plan in plans:
        with patched_env(plan.env), quiet_stdout():
            fields = plan.fields()
            audit_before, meter_before = audit[0], stack.meter.mark()
            sample = stack.deliver(fields, plan.expect)
            escaped = (audit[0] - audit_before) - (stack.meter.mark() - meter_before)
        if measured:
            plan.scenario.samples.append(sample)
            plan.scenario.unmetered_calls += escaped


def run_scenarios(stack: Stack, n: int, warmup: int, progress: Callable[[str], None]) -> list[Scenario]:
    """New customers and duplicates with the tenant cache as configured for production (a warm container), and both
    with the tenant cache off (what a cache miss costs: a cold container's first callback, or one per minute)."""
    with quiet_stdout():
        state = stack.setup_tenant()
    last: dict[str, dict[str, Any]] = {}  # the latest applied event per configuration, replayed as the duplicate

    def new_customer(config: str) -> Callable[[], dict[str, Any]]:
        def make() -> dict[str, Any]:
            last[config] = stack.scan(state)
            return last[config]

        return make

    def duplicate(config: str) -> Callable[[], dict[str, Any]]:
        return lambda: last[config]

    on: dict[str, str | None] = {CACHE_ENV: None}  # unset: the production default (60 s)
    off: dict[str, str | None] = {CACHE_ENV: "0"}
    plans = [
        Plan(
            Scenario("new", "New customer", "A scan of the channel's code by a customer never seen", n, warmup, True),
            new_customer("on"),
            "created",
            on,
        ),
        Plan(
            Scenario("duplicate", "Duplicate delivery", "WeCom re-delivers an event already applied", n, warmup, True),
            duplicate("on"),
            "duplicate",
            on,
        ),
        Plan(
            Scenario(
                "new_nocache",
                "New customer, tenant cache off",
                f"As *New customer*, with `{CACHE_ENV}=0` (the tenant is read on every callback)",
                n,
                warmup,
                False,
            ),
            new_customer("off"),
            "created",
            off,
        ),
        Plan(
            Scenario(
                "duplicate_nocache",
                "Duplicate delivery, tenant cache off",
                f"As *Duplicate delivery*, with `{CACHE_ENV}=0`",
                n,
                warmup,
                False,
            ),
            duplicate("off"),
            "duplicate",
            off,
        ),
    ]
    with count_all_dynamodb_calls() as audit:
        progress(f"warm-up: {warmup} rounds of {len(plans)} deliveries")
        for _ in range(warmup):
            run_rounds(stack, plans, audit, measured=False)
        progress(f"measuring: {n} rounds of {len(plans)} deliveries ({', '.join(p.scenario.key for p in plans)})")
        for i in range(n):
            run_rounds(stack, plans, audit, measured=True)
            if (i + 1) % 50 == 0:
                progress(f"  {i + 1}/{n} rounds")
    return [p.scenario for p in plans]
