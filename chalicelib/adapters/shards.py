"""Shard dispatchers (the ``ShardDispatcher`` port, issue 8 §7): where a large fire's shards run.

Deployed, each shard is an asynchronous invocation (``InvocationType="Event"``) of the fire function itself: no new
resource, Lambda queues the event and retries a failed run twice, and the shards run concurrently up to the account's
Lambda concurrency. An asynchronous event is at most 256 KB, so the payload is checked here; at the default bound of
500 touches it is about 60-80 KB (docs/operations.md). Locally shards run in a thread pool of this process
(``ThreadedShards``: the devstack pump and the tests), or in a pool of worker processes (``ProcessShards``: the bench),
each given the deployed event and running the same fire entry point, as a Lambda invocation would.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from typing import Any

from chalicelib.domain.shards import Shard, shard_payload
from chalicelib.errors import InvalidError, UpstreamError
from chalicelib.observability import logger
from chalicelib.settings import Settings

MAX_EVENT_BYTES = 256 * 1024  # Lambda's limit for an asynchronous invocation's payload
KEEP_FUTURES = 10_000  # ThreadedShards keeps at most about this many finished shards for ``wait``

ShardTarget = Callable[[str, str, Shard], Any]
EventTarget = Callable[[dict[str, Any]], Any]


def shard_event(tenant_id: str, bucket_id: str, shard: Shard) -> bytes:
    """The fire function's event for one shard, as sent; InvalidError if it would not fit an async invocation."""
    body = json.dumps(shard_payload(tenant_id, bucket_id, shard), ensure_ascii=False, separators=(",", ":")).encode()
    if len(body) > MAX_EVENT_BYTES:
        raise InvalidError(f"a shard of {len(shard.touches)} touches is {len(body)} bytes, over {MAX_EVENT_BYTES}")
    return body


class LambdaShards:
    """Each shard is an asynchronous invocation of the fire function (its ARN is the Scheduler's target)."""

    def __init__(self, client: Any, *, function: str) -> None:
        self._client = client
        self.function = function

    @classmethod
    def for_settings(cls, settings: Settings) -> LambdaShards:
        """The stage's dispatcher; its boto3 client is built on first use (most fires fit one shard)."""

        def client() -> Any:
            import boto3

            return boto3.client("lambda", region_name=settings.region)

        return cls(client, function=settings.fire_target_arn)

    @property
    def client(self) -> Any:
        if callable(self._client) and not hasattr(self._client, "invoke"):
            self._client = self._client()
        return self._client

    def dispatch(self, tenant_id: str, bucket_id: str, shard: Shard) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        body = shard_event(tenant_id, bucket_id, shard)
        try:
            resp = self.client.invoke(FunctionName=self.function, InvocationType="Event", Payload=body)
        except (BotoCoreError, ClientError) as exc:
            raise UpstreamError(f"lambda invoke failed: {type(exc).__name__}") from exc
        if resp.get("StatusCode") != 202:
            raise UpstreamError(f"lambda invoke answered {resp.get('StatusCode')}, not 202")


class _Pending:
    """The shards a local dispatcher has handed out and not yet waited for (both local dispatchers keep them)."""

    def __init__(self) -> None:
        self._pending: list[Future[Any]] = []
        self._lock = threading.Lock()

    def _track(self, future: Future[Any]) -> None:
        with self._lock:
            if len(self._pending) >= KEEP_FUTURES:  # a long-running pump: forget shards long finished
                self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(future)

    def wait(self, timeout: float | None = None) -> list[Any]:
        """Results of the shards run so far (None for a failed one), once all have finished — including shards
        dispatched while waiting (a shard's inline fire may fan out in turn)."""
        results: list[Any] = []
        while True:
            with self._lock:
                pending, self._pending = self._pending, []
            if not pending:
                return results
            wait_all(pending, timeout=timeout)
            results += [_outcome(f) for f in pending]


def _outcome(future: Future[Any]) -> Any:
    try:
        return future.result()
    except Exception:
        logger.exception("shard failed; its touches stay for the backstop")
        return None


class ThreadedShards(_Pending):
    """Runs shards in a thread pool of this process (the local stack, the bench). ``bind`` names the entry point
    (the engine's fire of one shard); ``wait`` blocks until every shard dispatched so far has run. A shard that
    raises is logged and left to the backstop, as a lost invocation would be."""

    def __init__(self, workers: int = 4, target: ShardTarget | None = None) -> None:
        super().__init__()
        self.target = target
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="siyu-shard")

    def bind(self, target: ShardTarget) -> None:
        self.target = target

    def dispatch(self, tenant_id: str, bucket_id: str, shard: Shard) -> None:
        if self.target is None:
            raise RuntimeError("ThreadedShards has no target: bind the engine's fire first")
        shard_event(tenant_id, bucket_id, shard)  # the same size check as deployed
        here = contextvars.copy_context()  # the coordinator's log keys, as a deployed shard has its own
        self._track(self._pool.submit(here.run, self._run, self.target, tenant_id, bucket_id, shard))

    @staticmethod
    def _run(target: ShardTarget, tenant_id: str, bucket_id: str, shard: Shard) -> Any:
        try:
            return target(tenant_id, bucket_id, shard)
        except Exception:
            logger.exception("shard failed; its touches stay for the backstop", extra={"bucket": bucket_id})
            return None

    def close(self) -> None:
        """Stop the pool once the shards dispatched so far have run."""
        self._pool.shutdown(wait=True)


class ProcessShards(_Pending):
    """Runs each shard in a pool of worker processes, as deployed each runs in its own Lambda: one interpreter per
    shard, so concurrent shards are not serialised on one process's GIL as ``ThreadedShards``' are. ``target`` is a
    module-level function given the event ``LambdaShards`` would send, decoded (the fire entry point,
    ``chalicelib.jobs.sop.fire``, or a wrapper of it); a worker builds its services from the environment it
    inherits, as a cold Lambda does. ``warm`` starts every worker first, so a measured fire does not pay their
    start-up. A shard that raises is logged and left to the backstop."""

    def __init__(self, target: EventTarget, *, workers: int = 2, prepare: Callable[[], Any] | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        super().__init__()
        self.target = target
        self.workers = workers
        # spawn, not fork: the parent has threads (HTTP pools, the sandbox) a forked child must not inherit.
        # ``prepare`` (module-level) runs once in each worker as it starts: imports, building the services.
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=prepare)

    def warm(self) -> list[int]:
        """Start every worker (and run its ``prepare``) now; their process ids. The pool starts a worker for each
        task no idle worker takes, so ``workers`` short waits that overlap start them all."""
        return sorted(set(self._pool.map(_idle, [0.3] * self.workers)))

    def dispatch(self, tenant_id: str, bucket_id: str, shard: Shard) -> None:
        event = json.loads(shard_event(tenant_id, bucket_id, shard))  # the same size check and form as deployed
        self._track(self._pool.submit(self.target, event))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _idle(seconds: float) -> int:
    """A worker's share of ``warm``: long enough that the others start too."""
    import os
    import time

    time.sleep(seconds)
    return os.getpid()
