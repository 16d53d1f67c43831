"""Catching up the channel plan's enrollment that an add's callback never made.

A callback stores the customer first (the write that makes WeCom's redelivery a duplicate), then enrolls them in
their channel's plan (新客培育). A crash between the two, or a storage error on the enrollment, would lose it for
good: the redelivery is a duplicate and does nothing. So the backstop, every five minutes, looks at the customers
added a few minutes earlier (services/recent_adds.py) and enrolls those whose channel has a plan and who have no
enrollment in it at all. Any enrollment, active or ended, is an answer, not a loss: a customer who already exited is
never enrolled again by this.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.domain.channels import Channel
from chalicelib.domain.sop import Enrollment
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import SiyuError
from chalicelib.observability import count, logger
from chalicelib.ports import Clock, Enroller
from chalicelib.services.recent_adds import RecentAddsRepo, recent_adds


class CatchUpRepo(RecentAddsRepo, Protocol):
    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None: ...
    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]: ...


class IntakeCatchUp:
    def __init__(self, repo: CatchUpRepo, enroller: Enroller, clock: Clock) -> None:
        self.repo = repo
        self.enroller = enroller
        self.clock = clock

    def run(self, tenant: Tenant) -> int:
        """Enroll the recently added customers their callback left without their channel's plan; how many."""
        channels: dict[str, Channel | None] = {}
        caught = 0
        for customers in recent_adds(self.repo, tenant.tenant_id, self.clock.now()):
            by_plan: dict[str, list[str]] = {}
            for customer in customers:
                channel = self._channel(tenant.tenant_id, customer.source_channel_id, channels)
                if channel is not None and channel.plan_id:
                    by_plan.setdefault(channel.plan_id, []).append(customer.customer_id)
            for plan_id, customer_ids in by_plan.items():
                enrolled = self.repo.get_enrollments(tenant.tenant_id, customer_ids, plan_id)
                caught += sum(self._enroll(tenant, cid, plan_id) for cid in customer_ids if cid not in enrolled)
        return caught

    def _channel(self, tenant_id: str, channel_id: str, seen: dict[str, Channel | None]) -> Channel | None:
        if channel_id not in seen:
            seen[channel_id] = self.repo.get_channel(tenant_id, channel_id) if channel_id.startswith("ch") else None
        return seen[channel_id]

    def _enroll(self, tenant: Tenant, customer_id: str, plan_id: str) -> bool:
        try:
            enrollment = self.enroller.enroll(tenant, customer_id, plan_id, source="channel")
        except SiyuError as exc:  # the next run tries again while the customer is in its window
            logger.warning("catch-up enrollment failed", extra={"tenant": tenant.tenant_id, "code": exc.code})
            return False
        if enrollment is None:
            return False  # refused (audience, paused plan...): the callback would have been refused the same way
        count("Intake.enrollment_caught_up")
        logger.info("channel enrollment caught up", extra={"tenant": tenant.tenant_id, "customer_id": customer_id})
        return True
