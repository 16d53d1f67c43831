"""In-memory plan repository, mixed into FakeStore with the same contract as PlanStoreMixin."""

from __future__ import annotations


class FakePlanStoreMixin:
    """Plan repository methods of FakeStore."""
