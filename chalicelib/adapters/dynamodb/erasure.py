"""The erasure walk: a customer's partition, their touches and roster entries, and tombstones for their aliases;
see docs/data-model.md, "Timeline and erasure".

The walk reads items of every kind (touches and enrollments included), so it goes through the base's ``walk``;
the profile is deleted last, so an interrupted erasure is found and resumed by the next call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.enrollments import roster_keys
from chalicelib.adapters.dynamodb.models import AliasItem, CustomerItem, SiyuItem
from chalicelib.adapters.dynamodb.points import board_keys
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.facts import Alias

TOMBSTONE_TTL_DAYS = 3
ERASE_PAGE = 100  # keys read per Query page of the erasure walk (BatchWriteItem takes 25 a call)


class ErasureRepository(DynamoBase):
    def erase_customer(
        self, tenant_id: str, customer_id: str, *, tombstones: list[Alias], max_items: int = 1_000_000
    ) -> int:
        """Deletes the customer's partition (every item, whatever its kind) and replaces its aliases with
        tombstones that keep no customer id. With ``max_items``, a call stops after that many and returns -1 - the
        count when items remain: the profile, deleted last, still marks the erasure as unfinished."""
        deleted, more = self._erase_partition(tenant_id, customer_id, max_items=max_items)
        if more:
            return -1 - deleted
        self._put_tombstones(tenant_id, tombstones)
        profile = CustomerItem(pk=k.customer_pk(tenant_id, customer_id), sk=k.PROFILE_SK)
        existed = self.conditional(lambda: profile.delete(condition=SiyuItem.pk.exists()))
        return deleted + (1 if existed else 0)

    def _put_tombstones(self, tenant_id: str, tombstones: list[Alias]) -> None:
        """Each alias becomes a bare tombstone (no customer id) that expires after 3 days."""
        for a in tombstones:
            erased = a.erased_at or 0
            item = AliasItem(pk=k.alias_pk(tenant_id, a.kind, a.digest), sk=k.ALIAS_SK, erased_at=erased)
            item.expires_at = datetime.fromtimestamp(erased + TOMBSTONE_TTL_DAYS * 86400, UTC)
            with translate():
                item.save()

    def erase_touches(self, tenant_id: str, customer_id: str, bucket_ids: list[str]) -> tuple[int, set[str]]:
        """Delete the customer's touches in these buckets (their keys start with the customer id); returns how
        many and the task ids they named."""
        deleted, tasks = 0, set[str]()
        for bucket_id in bucket_ids:
            pk, start = k.bucket_pk(tenant_id, bucket_id), None
            while True:
                raws, start = self.walk(pk, prefix=k.touches_of_customer(customer_id), start=start)
                tasks.update(t for t in map(_task_of, raws) if t)
                self.batch_delete([(r["pk"]["S"], r["sk"]["S"]) for r in raws])
                deleted += len(raws)
                if not start:
                    break
        return deleted, tasks

    def _erase_partition(self, tenant_id: str, customer_id: str, *, max_items: int) -> tuple[int, bool]:
        """Delete up to ``max_items`` items of the customer's partition other than the profile, a Query page at a
        time; returns (deleted, whether items other than the profile remain). The profile goes last (in
        ``erase_customer``), so an interrupted erasure is found and resumed by the next call."""
        pk = k.customer_pk(tenant_id, customer_id)
        deleted, start = 0, None
        while deleted < max_items:
            raws, start = self.walk(pk, keys_only=True, limit=min(ERASE_PAGE, max_items - deleted), start=start)
            keys = [(r["pk"]["S"], r["sk"]["S"]) for r in raws if r["sk"]["S"] != k.PROFILE_SK]
            # The plans' rosters name the customer too; they go before the enrollments that lead to them, so an
            # erasure that stops in between still finds them when it resumes.
            plans = [sk.removeprefix(k.ENROLLMENT_PREFIX) for _, sk in keys if sk.startswith(k.ENROLLMENT_PREFIX)]
            self.batch_delete(roster_keys(tenant_id, customer_id, plans))
            # So do the groups' leaderboards: each standing names its board entry, deleted before the standing.
            standings = [key for key in keys if key[1].startswith(k.STANDING_PREFIX)]
            if standings:
                found = self.batch_get(standings, consistent=True).values()
                self.batch_delete(board_keys(tenant_id, customer_id, found))
            self.batch_delete(keys)
            deleted += len(keys)
            if not start:
                return deleted, False
        return deleted, True


def _task_of(raw: Raw) -> str | None:
    task_id = json.loads(raw.get("doc", {}).get("S", "{}")).get("task_id")
    return str(task_id) if task_id else None
