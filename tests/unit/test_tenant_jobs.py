"""The periodic jobs' shared tenant loop: every tenant page by page, failures isolated, and the deadline honoured."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.tenants import Tenant
from chalicelib.jobs.tenants import Deadline, TenantRun, for_each_tenant
from chalicelib.ports import Page


class Tenants:
    """A tenant lister that pages ``names`` two at a time, as the store pages its tenants."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.pages_read = 0

    def find(self, *, cursor: str | None, limit: int) -> Page:
        start = int(cursor or 0)
        self.pages_read += 1
        items = [_tenant(n) for n in self.names[start : start + 2]]
        more = start + 2 < len(self.names)
        return Page(items, str(start + 2) if more else None)


def _tenant(tenant_id: str) -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        name=tenant_id,
        corp_id="ww" + tenant_id,
        timezone="Asia/Shanghai",
        wecom_token="token",
        wecom_aes_key="k" * 43,
        wecom_secret="secret",
        salt="salt",
        created_at="2026-12-01T10:00:00+08:00",
    )


class Ticks:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_every_tenant_on_every_page_and_totals_summed() -> None:
    tenants = Tenants(["a", "b", "c", "d", "e"])
    seen: list[str] = []

    def work(t: Tenant) -> dict[str, Any]:
        seen.append(t.tenant_id)
        return {"sent": 2, "note": "text is not summed", "ok": True}

    run = for_each_tenant(tenants, work, job="test")
    assert seen == ["a", "b", "c", "d", "e"]
    assert tenants.pages_read == 3
    assert run == TenantRun(done=5, failed=0, totals={"sent": 10})


def test_a_failing_tenant_is_counted_and_the_rest_still_run(caplog: pytest.LogCaptureFixture) -> None:
    def work(t: Tenant) -> dict[str, int]:
        if t.tenant_id == "b":
            raise RuntimeError("boom")
        return {"fired": 1}

    run = for_each_tenant(Tenants(["a", "b", "c"]), work, job="backstop")
    assert (run.done, run.failed, run.totals) == (2, 1, {"fired": 2})


def test_no_tenant_starts_after_the_deadline() -> None:
    ticks = Ticks()
    deadline = Deadline.after(10, ticks)
    seen: list[str] = []

    def work(t: Tenant) -> None:
        seen.append(t.tenant_id)
        ticks.now += 4  # each tenant takes 4 s: the third one starts at +8, the fourth would start at +12

    run = for_each_tenant(Tenants(["a", "b", "c", "d", "e"]), work, job="sync", deadline=deadline)
    assert seen == ["a", "b", "c"]
    assert run.done == 3
    assert deadline.passed() and deadline.left() == -2


def test_a_deadline_already_passed_reads_nothing() -> None:
    ticks = Ticks()
    tenants = Tenants(["a"])
    run = for_each_tenant(tenants, lambda t: None, job="sync", deadline=Deadline(ticks.now, ticks))
    assert (run.done, tenants.pages_read) == (0, 0)


class _Context:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


class _Event:
    def __init__(self, context: Any) -> None:
        self.context = context


def test_lambda_deadline_keeps_a_safety_margin_and_at_least_a_second() -> None:
    ticks = Ticks()
    roomy = Deadline.of_lambda(_Event(_Context(30_000)), default_seconds=12, safety_seconds=5, monotonic=ticks)
    assert roomy.left() == 25
    short = Deadline.of_lambda(_Event(_Context(2_000)), default_seconds=12, safety_seconds=5, monotonic=ticks)
    assert short.left() == 1.0
    local = Deadline.of_lambda(None, default_seconds=12, safety_seconds=5, monotonic=ticks)
    assert local.left() == 12
