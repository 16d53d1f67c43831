"""In-memory enrollment listings and stage moves with the same contract as EnrollmentRepository (listings) and
CustomerRepository.advance_stage."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib.domain.customers import Stage
from chalicelib.domain.sop import CUSTOMER, Enrollment, Subject
from chalicelib.errors import InvalidError
from chalicelib.ports import Page


def _cursor_out(scope: str, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": scope, "k": key}).encode()).decode().rstrip("=")


def _cursor_in(cursor: str | None, scope: str) -> str | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ok = isinstance(data, dict) and data.get("s") == scope and isinstance(data.get("k"), str)
    except (ValueError, TypeError) as exc:
        raise InvalidError("cursor is not valid", code="invalid") from exc
    if not ok:
        raise InvalidError("cursor is not valid", code="invalid")
    return str(data["k"])


class FakeEnrollmentStoreMixin:
    lock: Any
    customers: dict[tuple[str, str], Any]

    if TYPE_CHECKING:  # provided by FakeSopStoreMixin

        def _sop(self) -> dict[str, dict[Any, Any]]: ...

    def _roster(self) -> set[tuple[str, str, str]]:
        if not hasattr(self, "_roster_state"):
            self._roster_state: set[tuple[str, str, str]] = set()
        return self._roster_state

    def put_roster(self, tenant_id: str, enrollment: Enrollment) -> None:
        with self.lock:
            self._roster().add((tenant_id, enrollment.plan_id, enrollment.subject.id))

    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool:
        with self.lock:
            current = self.customers.get((tenant_id, customer_id))
            if current is None or current.stage not in from_stages:
                return False
            self.customers[(tenant_id, customer_id)] = replace(current, stage=to, version=current.version + 1)
            return True

    def list_customer_enrollments(
        self, tenant_id: str, customer_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> Page:
        scope = f"{tenant_id}#C#{customer_id}"
        rows = sorted(
            (plan_id, e)
            for (t, c, plan_id), e in self._sop()["enrollments"].items()
            if t == tenant_id and c == customer_id
        )
        return _page(rows, scope, status, cursor, limit)

    def list_plan_enrollments(
        self,
        tenant_id: str,
        plan_id: str,
        *,
        status: str | None,
        cursor: str | None,
        limit: int,
        kind: str = CUSTOMER,
    ) -> Page:
        from tests.fakes.sop import subject_key  # the fake's subject keys (that module imports this one)

        scope = f"{tenant_id}#PLE#{plan_id}"
        enrollments = self._sop()["enrollments"]
        rows = sorted(
            (sid, enrollments[key])
            for (t, p, sid) in self._roster()
            if t == tenant_id
            and p == plan_id
            and (key := (tenant_id, subject_key(Subject(kind, sid)), plan_id)) in enrollments
        )
        return _page(rows, scope, status, cursor, limit)


def _page(rows: list[tuple[str, Enrollment]], scope: str, status: str | None, cursor: str | None, limit: int) -> Page:
    after = _cursor_in(cursor, scope)
    picked = [(k, e) for k, e in rows if (after is None or k > after) and (status is None or e.status == status)]
    page = picked[:limit]
    more = len(picked) > limit
    return Page([e for _, e in page], _cursor_out(scope, page[-1][0]) if more and page else None)
