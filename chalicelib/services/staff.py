"""Staff (成员) administration."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.staff import DEFAULT_DAILY_CAP, Staff
from chalicelib.errors import NotFoundError
from chalicelib.ports import Clock, StaffRepository

UPDATABLE = ("name", "role", "daily_cap", "active", "lead_userid")


class StaffService:
    def __init__(self, repo: StaffRepository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    def _now(self) -> str:
        return self.clock.now().isoformat(timespec="seconds")

    def create(self, tenant_id: str, data: dict[str, Any]) -> Staff:
        now = self._now()
        staff = Staff(
            userid=data["userid"],
            name=data["name"],
            role=data.get("role", "sales"),
            daily_cap=data.get("daily_cap", DEFAULT_DAILY_CAP),
            active=data.get("active", True),
            lead_userid=data.get("lead_userid"),
            created_at=now,
            updated_at=now,
        )
        self.repo.create_staff(tenant_id, staff)
        return staff

    def get(self, tenant_id: str, userid: str) -> Staff:
        staff = self.repo.get_staff(tenant_id, userid)
        if staff is None:
            raise NotFoundError(f"staff {userid} does not exist")
        return staff

    def list(self, tenant_id: str) -> list[Staff]:
        return sorted(self.repo.list_staff(tenant_id), key=lambda s: s.userid)

    def update(self, tenant_id: str, userid: str, data: dict[str, Any]) -> Staff:
        staff = self.get(tenant_id, userid)
        changes = {name: data[name] for name in UPDATABLE if name in data}
        updated = replace(staff, **changes, updated_at=self._now())
        self.repo.put_staff(tenant_id, updated)
        return updated

    def delete(self, tenant_id: str, userid: str) -> None:
        self.get(tenant_id, userid)
        self.repo.delete_staff(tenant_id, userid)
