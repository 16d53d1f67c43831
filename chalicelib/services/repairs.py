"""The repair queue's use cases: intake puts what a callback could not finish; a job makes it, with backoff.

Why a queue and not the redelivery: WeCom redelivers a callback it got no answer to, but a callback that answered
(within its budget) is never sent again, and a redelivered one is a duplicate that does nothing. So the profile sync,
the tag marking and the contact way's rotation that failed, or had no time left, are put here, and the backstop
(every five minutes, chalicelib/jobs/repairs.py) retries each until it succeeds. An item that keeps failing, or that
can never succeed (WeCom rejects its arguments: the customer deleted the staff member, the contact way is gone),
becomes dead with its reason, where operators see it (docs/operations.md). Every repair is idempotent: applied
twice, it has one effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from chalicelib.domain.customers import apply_profile_sync
from chalicelib.domain.instants import iso_of
from chalicelib.domain.repairs import (
    CONTACT_WAY,
    MARK_TAG,
    MAX_RECEIVES,
    PROFILE_SYNC,
    RepairDelivery,
    RepairItem,
    backoff_seconds,
)
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import (
    ConflictError,
    SiyuError,
    WeComInvalidArgumentError,
    WeComRateLimitError,
)
from chalicelib.observability import count, logger
from chalicelib.ports import ChannelRepository, Clock, CustomerRepository, IntakeRepository, WeComPort
from chalicelib.services.identities import Identities, credentials

RATE_LIMIT_WAIT_SECONDS = 60  # 45009 blocks the caller for 60 s at least
RECEIVE_BATCH = 10


class RepairQueue(Protocol):
    """Where repairs wait. Deployed: SQS with a dead-letter queue; locally and in tests, adapters/repair_queue.py
    and tests/fakes/repairs.py. An item handed out and neither done nor retried comes back after a lease."""

    def put(self, item: RepairItem, *, delay_seconds: int = 0) -> None: ...
    def receive(self, limit: int) -> list[RepairDelivery]: ...
    def done(self, delivery: RepairDelivery) -> None: ...
    def retry(self, delivery: RepairDelivery, *, delay_seconds: int, reason: str) -> None: ...
    def dead(self, delivery: RepairDelivery, *, reason: str) -> None: ...


class RepairRepo(CustomerRepository, ChannelRepository, IntakeRepository, Protocol):
    def get_tenant(self, tenant_id: str, *, consistent: bool = False) -> Tenant | None: ...


@dataclass
class RepairReport:
    received: int = 0
    repaired: int = 0
    retried: int = 0
    dead: int = 0


class Repairs:
    def __init__(self, repo: RepairRepo, wecom: WeComPort, clock: Clock, queue: RepairQueue) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.queue = queue
        self.handlers: dict[str, Callable[[Tenant, RepairItem], None]] = {}  # kinds other services make

    def register(self, kind: str, handler: Callable[[Tenant, RepairItem], None]) -> None:
        """Let another service make repairs of ``kind`` (the group re-read: services/groups/events.py)."""
        self.handlers[kind] = handler

    def enqueue(self, item: RepairItem) -> bool:
        """Queue ``item``; never raises (the callback has answered its part). False: the queue refused it, which is
        logged and counted (``RepairEnqueueFailed``), the one way a repair can be lost."""
        try:
            self.queue.put(item)
        except Exception as exc:  # any failure of the queue must not fail the callback
            count("RepairEnqueueFailed")
            logger.error(
                "repair could not be queued",
                extra={"tenant": item.tenant_id, "kind": item.kind, "key": item.key, "error": type(exc).__name__},
            )
            return False
        count(f"RepairQueued.{item.kind}")
        logger.info("repair queued", extra={"tenant": item.tenant_id, "kind": item.kind, "key": item.key})
        return True

    def run(self, *, stop: Callable[[], bool]) -> RepairReport:
        """Take due items until the queue is empty or ``stop()``; each is made, retried later, or given up."""
        report = RepairReport()
        while not stop():
            batch = self.queue.receive(RECEIVE_BATCH)
            if not batch:
                break
            for delivery in batch:
                report.received += 1
                self._one(delivery, report)
        return report

    def _one(self, delivery: RepairDelivery, report: RepairReport) -> None:
        item = delivery.item
        if item is None:
            self.queue.dead(delivery, reason="unreadable")
            report.dead += 1
            count("RepairDead")
            return
        where = {"tenant": item.tenant_id, "kind": item.kind, "key": item.key, "receives": delivery.receives}
        try:
            self.apply(item)
        except SiyuError as exc:
            final = isinstance(exc, WeComInvalidArgumentError) or delivery.receives >= MAX_RECEIVES
            if final:
                self.queue.dead(delivery, reason=exc.code)
                report.dead += 1
                count("RepairDead")
                logger.warning("repair given up", extra={**where, "code": exc.code})
                return
            wait = backoff_seconds(delivery.receives, item.key)
            if isinstance(exc, WeComRateLimitError):
                wait = max(wait, RATE_LIMIT_WAIT_SECONDS)
            self.queue.retry(delivery, delay_seconds=wait, reason=exc.code)
            report.retried += 1
            count("RepairRetried")
            logger.info("repair failed; retrying later", extra={**where, "code": exc.code, "wait": wait})
            return
        self.queue.done(delivery)
        report.repaired += 1
        count(f"Repaired.{item.kind}")

    def apply(self, item: RepairItem) -> None:
        """Make one repair (idempotent); raises the SiyuError that stopped it. Nothing to repair any more (tenant,
        customer or channel gone) is success."""
        tenant = self.repo.get_tenant(item.tenant_id)
        if tenant is None:
            return
        if item.kind == PROFILE_SYNC:
            self._profile(tenant, item)
        elif item.kind == MARK_TAG:
            tags = [str(t) for t in item.data.get("add_tag") or []]
            if tags:
                self.wecom.mark_tag(
                    credentials(tenant),
                    userid=str(item.data["userid"]),
                    external_userid=str(item.data["external_userid"]),
                    add_tag=tags,
                    remove_tag=[],
                )
        elif item.kind == CONTACT_WAY:
            self._contact_way(tenant, item)
        elif item.kind in self.handlers:
            self.handlers[item.kind](tenant, item)

    def _profile(self, tenant: Tenant, item: RepairItem) -> None:
        customer_id = str(item.data["customer_id"])
        userid = str(item.data.get("userid", ""))
        identities = Identities(self.repo, self.wecom)
        raw = self.wecom.get_external_contact(credentials(tenant), str(item.data["external_userid"]))
        facts = identities.facts(raw, userid)
        for _ in range(3):
            customer = self.repo.get_customer(tenant.tenant_id, customer_id)
            if customer is None:
                return  # erased or merged away meanwhile
            now = iso_of(self.clock.now(), tenant.zone)
            updated = apply_profile_sync(identities.claim_for(tenant, customer, raw, userid), facts, now=now)
            if updated == customer:
                return  # applied before: a repair made twice has one effect
            if updated.version == customer.version:  # only the aliases are new
                updated = replace(updated, version=customer.version + 1, updated_at=now)
            try:
                self.repo.save_customer(tenant.tenant_id, updated, expected_version=customer.version)
                return
            except ConflictError:
                continue  # the customer changed meanwhile: read again
        raise ConflictError("the customer kept changing during its profile repair")

    def _contact_way(self, tenant: Tenant, item: RepairItem) -> None:
        channel = self.repo.get_channel(tenant.tenant_id, str(item.data["channel_id"]))
        if channel is None or not channel.config_id or channel.config_id != item.data.get("config_id"):
            return  # the channel, or its contact way, is gone or replaced: nothing left to rotate
        self.wecom.update_contact_way(
            credentials(tenant),
            config_id=channel.config_id,
            users=[str(u) for u in item.data.get("users") or []],
            state=channel.state,
            remark=channel.name[:30],
        )
