"""What keeps a fire's delivery crash-safe (issue 9 §2): the msgid claims and the fire leases.

Keys (docs/data-model.md, "Delivery claims and leases"; built in keys.py):
- msgid claim: ``T#<tid>#MSGID#<msgid>`` / ``MSGID`` (``MsgidItem``): the one Siyu task a WeCom msgid belongs to,
  written by a conditional put, so two tasks can never adopt the same WeCom task
- lease: ``T#<tid>#LEASE#<bucket>[#<shard>]`` / ``LEASE`` (``LeaseItem``): which fire claims a bucket's touches now
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import LeaseItem, MsgidItem, SiyuItem
from chalicelib.adapters.dynamodb.sop_table import ttl_after

MSGID_TTL_DAYS = 180  # as long as the task it names (tasks.py)
LEASE_TTL_DAYS = 1  # a lapsed lease is only clutter after that


def utc_iso(at: datetime) -> str:
    """A lease's instants as comparable strings (UTC, whole seconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeliveryRepository(DynamoBase):
    def claim_msgid(self, tenant_id: str, msgid: str, task_id: str, *, at: str) -> bool:
        """Record that ``msgid`` belongs to ``task_id``: True if it now does (claimed here, or by this task
        before), False if another task holds it."""
        item = MsgidItem(
            pk=k.msgid_pk(tenant_id, msgid), sk=k.MSGID_SK, task_id=task_id, expires_at=ttl_after(at, MSGID_TTL_DAYS)
        )
        return self.conditional(
            lambda: item.save(condition=SiyuItem.pk.does_not_exist() | (MsgidItem.task_id == task_id))
        )

    def take_lease(self, tenant_id: str, name: str, owner: str, *, now: datetime, hold: timedelta) -> bool:
        """Hold ``name`` for ``hold`` from ``now``: True if it was free, lapsed or already ``owner``'s."""
        item = LeaseItem(
            pk=k.lease_pk(tenant_id, name),
            sk=k.LEASE_SK,
            owner=owner,
            until=utc_iso(now + hold),
            expires_at=ttl_after(now.isoformat(), LEASE_TTL_DAYS),
        )
        free = SiyuItem.pk.does_not_exist() | (LeaseItem.until <= utc_iso(now)) | (LeaseItem.owner == owner)
        return self.conditional(lambda: item.save(condition=free))

    def release_lease(self, tenant_id: str, name: str, owner: str) -> None:
        """Give ``name`` up if ``owner`` still holds it (a lease another fire took since is left alone)."""
        item = LeaseItem(pk=k.lease_pk(tenant_id, name), sk=k.LEASE_SK)
        self.conditional(lambda: item.delete(condition=LeaseItem.owner == owner))
