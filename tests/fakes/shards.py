"""Shard dispatchers for tests: one that runs each shard at once, in the caller's thread, and one that keeps them
for the test to run later (or to lose)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain.shards import Shard

Target = Callable[[str, str, Shard], Any]


class InlineShards:
    """Runs each dispatched shard at once through ``target`` (the engine's ``fire_shard``)."""

    def __init__(self, target: Target | None = None) -> None:
        self.target = target
        self.dispatched: list[tuple[str, str, Shard]] = []
        self.reports: list[Any] = []

    def dispatch(self, tenant_id: str, bucket_id: str, shard: Shard) -> None:
        assert self.target is not None, "bind the engine's fire_shard first"
        self.dispatched.append((tenant_id, bucket_id, shard))
        self.reports.append(self.target(tenant_id, bucket_id, shard))


class HeldShards:
    """Keeps dispatched shards, as an asynchronous invocation not yet run; ``run`` runs them (again, if told)."""

    def __init__(self) -> None:
        self.dispatched: list[tuple[str, str, Shard]] = []

    def dispatch(self, tenant_id: str, bucket_id: str, shard: Shard) -> None:
        self.dispatched.append((tenant_id, bucket_id, shard))

    def run(self, target: Target, *, lose: frozenset[int] = frozenset()) -> list[Any]:
        """Run every shard held so far except the indexes in ``lose`` (lost invocations); their reports."""
        return [target(t, b, s) for t, b, s in self.dispatched if s.index not in lose]
