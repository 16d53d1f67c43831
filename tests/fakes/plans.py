"""In-memory plan repository, mixed into FakeStore with the same contract as PlanRepository."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from chalicelib.domain.plan_names import name_key, name_taken
from chalicelib.domain.plans import Plan
from chalicelib.errors import ConflictError
from chalicelib.ports import Page


class FakePlanStoreMixin:
    """Plan repository methods of FakeStore: heads by (tenant, plan), versions by (tenant, plan, version)."""

    lock: threading.RLock

    @property
    def plan_heads(self) -> dict[tuple[str, str], Plan]:
        heads: dict[tuple[str, str], Plan] = self.__dict__.setdefault("_plan_heads", {})
        return heads

    @property
    def plan_versions(self) -> dict[tuple[str, str, int], Plan]:
        versions: dict[tuple[str, str, int], Plan] = self.__dict__.setdefault("_plan_versions", {})
        return versions

    @staticmethod
    def _as_of(version: Plan, head: Plan) -> Plan:
        """A version carries the plan-wide status, rev and current version, as the real store reads them."""
        return replace(version, status=head.status, rev=head.rev, current_version=head.version)

    @property
    def plan_names(self) -> dict[tuple[str, str], str]:
        names: dict[tuple[str, str], str] = self.__dict__.setdefault("_plan_names", {})
        return names

    def plan_name_owner(self, tenant_id: str, name: str) -> str | None:
        return self.plan_names.get((tenant_id, name_key(name)))

    def create_plan(self, tenant_id: str, plan: Plan) -> None:
        with self.lock:
            if (tenant_id, plan.plan_id) in self.plan_heads:
                raise ConflictError(f"plan {plan.plan_id} already exists")
            holder = self.plan_name_owner(tenant_id, plan.name)
            if holder is not None:
                raise name_taken(plan.name, holder)
            self.plan_names[(tenant_id, name_key(plan.name))] = plan.plan_id
            self.plan_heads[(tenant_id, plan.plan_id)] = plan
            self.plan_versions[(tenant_id, plan.plan_id, plan.version)] = plan

    def get_plan(self, tenant_id: str, plan_id: str, version: int | None = None) -> Plan | None:
        head = self.plan_heads.get((tenant_id, plan_id))
        if head is None:
            return None
        found = head if version is None else self.plan_versions.get((tenant_id, plan_id, version))
        return self._as_of(found, head) if found is not None else None

    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page:
        from tests.fakes.store import _page  # store.py imports this module

        ids = sorted(
            p for (t, p), head in self.plan_heads.items() if t == tenant_id and status in (None, head.status.value)
        )
        plans: list[Any] = [self.get_plan(tenant_id, p) for p in ids]
        return _page(plans, ids, cursor, limit, tenant_id)

    def list_plan_versions(self, tenant_id: str, plan_id: str) -> list[Plan]:
        head = self.plan_heads.get((tenant_id, plan_id))
        if head is None:
            return []
        found = sorted(
            ((v, p) for (t, pid, v), p in self.plan_versions.items() if (t, pid) == (tenant_id, plan_id)),
            key=lambda vp: vp[0],
        )
        return [self._as_of(p, head) for _, p in found]

    def save_plan(
        self, tenant_id: str, plan: Plan, *, expected_rev: int, write_version: bool, renamed_from: str | None = None
    ) -> None:
        with self.lock:
            head = self.plan_heads.get((tenant_id, plan.plan_id))
            if head is None or head.rev != expected_rev:
                raise ConflictError(f"plan {plan.plan_id} changed concurrently; reload and retry")
            rename = renamed_from is not None and name_key(renamed_from) != name_key(plan.name)
            holder = self.plan_name_owner(tenant_id, plan.name) if rename else None
            if holder is not None and holder != plan.plan_id:
                raise name_taken(plan.name, holder)
            key = (tenant_id, plan.plan_id, plan.version)
            if write_version:
                existing = self.plan_versions.get(key)
                if existing is not None and existing.published_at:
                    raise ConflictError(f"version {plan.version} of plan {plan.plan_id} is published and immutable")
                self.plan_versions[key] = plan
            self.plan_heads[(tenant_id, plan.plan_id)] = plan
            if rename and renamed_from is not None:
                if self.plan_names.get((tenant_id, name_key(renamed_from))) == plan.plan_id:
                    del self.plan_names[(tenant_id, name_key(renamed_from))]
                self.plan_names[(tenant_id, name_key(plan.name))] = plan.plan_id
