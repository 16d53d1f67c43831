"""A fire that fans out (issue 8 §7): the coordinator's split of a large bucket into shards, and the small thread
pool a shard runs its independent conditional writes in.

The coordinator (the bucket's scheduled fire) lists the bucket's scheduled touches; if they fit one shard it fires
them itself, as before (the common case stays one invocation). Otherwise it plans shards (domain/shards.py) and
hands each to the ``ShardDispatcher``, leaving the bucket open: each shard fires only its touches, and the backstop's
next fire of the open bucket finds what is still scheduled (nothing, once every shard ran) and drains it. A lost
shard's touches are still scheduled then, so the backstop fires them. Every transition is the same conditional write
as before, so a shard delivered twice or a coordinator run twice hands each touch to one staff task only.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from chalicelib.domain.shards import Shard, plan_shards
from chalicelib.domain.sop import Touch
from chalicelib.observability import logger
from chalicelib.ports import ShardDispatcher

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

DEFAULT_SHARD_SIZE = 500  # touches per shard (settings.fire_shard_size); 500 rows are ~60 KB of the 256 KB event
DEFAULT_WRITERS = 8  # concurrent conditional writes within one shard (boto3 clients are thread-safe)
SETTLE = timedelta(minutes=2)  # a large bucket's own shards are given this long before the backstop fans it out

In = TypeVar("In")
Out = TypeVar("Out")


class FanOut:
    """How a kernel splits its fires: ``dispatcher`` None never splits (every bucket fires in one invocation)."""

    def __init__(
        self,
        dispatcher: ShardDispatcher | None = None,
        *,
        bound: int = DEFAULT_SHARD_SIZE,
        writers: int = DEFAULT_WRITERS,
    ) -> None:
        if bound < 1:
            raise ValueError("shard size must be at least 1")
        self.dispatcher = dispatcher
        self.bound = bound
        self.writers = writers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def split(self, tenant_id: str, bucket_id: str, touches: Sequence[Touch]) -> list[Shard]:
        """Dispatch the bucket's touches as shards if they exceed one shard; the shards sent ([] : fire inline)."""
        if self.dispatcher is None or len(touches) <= self.bound:
            return []
        shards = plan_shards(touches, self.bound)
        for shard in shards:
            self.dispatcher.dispatch(tenant_id, bucket_id, shard)
        logger.info(
            "bucket fanned out",
            extra={"tenant": tenant_id, "bucket": bucket_id, "touches": len(touches), "shards": len(shards)},
        )
        return shards

    def settling(self, minute: str, now: datetime, scheduled: int) -> bool:
        """True for the backstop meeting a bucket that would fan out within ``SETTLE`` of its minute: its scheduled
        fire's shards are likely still running, and shards dispatched again now would race them for the same
        touches (no touch sent twice, but a losing twin's quota already counted). The next run fires what is left."""
        if self.dispatcher is None or scheduled <= self.bound:
            return False
        return now - datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC) < SETTLE

    def each(self, fn: Callable[[In], Out], items: Sequence[In]) -> list[Out]:
        """``fn`` over ``items``, concurrently when there are several (results in order). For independent
        conditional writes only: each decides on its own, whoever runs first."""
        if self.writers <= 1 or len(items) <= 1:
            return [fn(i) for i in items]
        from concurrent.futures import ThreadPoolExecutor  # here: a cold `import app` never needs it

        with self._lock:  # shards running in threads of one process share the pool
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.writers, thread_name_prefix="siyu-writes")
        here = contextvars.copy_context()  # the invocation's log keys (request and tenant id) go along
        return list(self._pool.map(lambda item: here.copy().run(fn, item), items))
