"""Storage of the SOP runtime: enrollments, touches in their buckets, bucket registry, caps, staff tasks.

Every transition is a conditional write, so a fire that arrives twice or concurrently cannot move a touch twice.
Keys (docs/data-model.md, "SOP engine"):
- enrollment: ``T#<tid>#C#<cid>`` / ``ENR#<plan_id>`` (in the customer's partition: erasure deletes it)
- quota counter: ``T#<tid>#C#<cid>`` / ``F#<month end>#Q#<local month>``, a timeline item: ``take_quota`` is in
  adapters/dynamodb/timeline.py
- touch: ``T#<tid>#BKT#<bucket_id>`` / ``<cid>#<enrollment>#<step>#<occurrence>`` (TTL 35 days after due, or
  after the next touch's due when it names one in ``nb``: an implied touch, see ``Touch``)
- bucket: ``T#<tid>#BKT#<bucket_id>`` / ``BUCKET`` (``feeders``: the buckets whose sent touches imply touches
  here); while open it is in gsi1 at ``T#<tid>#DUE#<UTC date>`` / ``<minute>#<bucket_id>`` (sparse: draining
  removes it), which is what the backstop sweeps
- task: ``T#<tid>#TASK#<task_id>`` / ``TASK`` (the head), in gsi1 at ``T#<tid>#TASKS`` / ``<due UTC>#<task_id>``;
  its customer ids in ``RCPT`` beside it, in no index
- task sync cursor: ``T#<tid>#TASKSYNC`` / ``CURSOR`` (where the status sync resumes)
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.keys import bucket_pk, customer_pk, plan_buckets_pk, task_pk, tasks_index_pk
from chalicelib.adapters.dynamodb.timeline import touch_entry
from chalicelib.adapters.dynamodb.translate import translate as _translate
from chalicelib.domain.instants import utc_key
from chalicelib.domain.sop import ACTIVE, DROPPED, SCHEDULED, SKIPPED, Bucket, Enrollment, StaffTask, Touch
from chalicelib.domain.timeline import Entry, touch_suffix
from chalicelib.errors import ConflictError

TOUCH_TTL_DAYS = 35
TASK_TTL_DAYS = 180


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _doc(data: dict[str, Any]) -> dict[str, str]:
    return _s(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _ttl(iso_due: str, days: int) -> dict[str, str]:
    return {"N": str(int((datetime.fromisoformat(iso_due) + timedelta(days=days)).timestamp()))}


def _ttl_minute(minute: str, days: int) -> dict[str, str]:
    due = datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC)
    return {"N": str(int((due + timedelta(days=days)).timestamp()))}


def due_partition(tid: str, minute: str) -> str:
    return f"T#{tid}#DUE#{minute[:8]}"


class SopStoreMixin:
    """SOP repository methods of DynamoStore (uses ``self.client``, ``self.table``)."""

    client: Any
    table: str

    if TYPE_CHECKING:

        def _batch_get(
            self, keys: list[tuple[str, str]], *, consistent: bool = False
        ) -> dict[tuple[str, str], dict[str, Any]]: ...
        def put_entry(self, tenant_id: str, customer_id: str, suffix: str, entry: Entry) -> None: ...
        def _log_enrollment(self, tenant_id: str, e: Enrollment) -> None: ...

        def put_roster(self, tenant_id: str, enrollment: Enrollment) -> None: ...

    def _call(self, op: str, **kwargs: Any) -> Any:
        with _translate():
            return getattr(self.client, op)(TableName=self.table, **kwargs)

    def _conditional(self, op: str, **kwargs: Any) -> bool:
        """True if the write happened, False if its condition failed (the expected 'someone else did it')."""
        try:
            self._call(op, **kwargs)
        except ConflictError:
            return False
        return True

    # --- enrollments ------------------------------------------------------------------------------------------

    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None:
        resp = self._call(
            "get_item",
            Key={"pk": _s(customer_pk(tenant_id, customer_id)), "sk": _s(f"ENR#{plan_id}")},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return Enrollment(**json.loads(item["doc"]["S"])) if item else None

    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]:
        """Many customers' enrollments in one plan, strongly consistent, in BatchGetItem calls (the fire reads a page
        of touches' enrollments in a round trip or two instead of one GetItem each)."""
        keys = [(customer_pk(tenant_id, cid), f"ENR#{plan_id}") for cid in customer_ids]
        found = (Enrollment(**json.loads(raw["doc"]["S"])) for raw in self._batch_get(keys, consistent=True).values())
        return {e.customer_id: e for e in found}

    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool:
        """Start an enrollment unless the re-entry policy forbids it (False then): never = only the first time;
        after_completion = not while one is active; always = replace even an active one."""
        item = self._enrollment_item(tenant_id, enrollment)
        self.put_roster(tenant_id, enrollment)  # the plan's listing first (adapters/dynamodb/enrollments.py)
        if reentry == "always":
            self._call("put_item", Item=item)
            self._log_enrollment(tenant_id, enrollment)
            return True
        cond = "attribute_not_exists(pk)"
        values: dict[str, Any] = {}
        if reentry == "after_completion":
            cond += " OR #st <> :active"
            values = {":active": _s(ACTIVE)}
        kwargs: dict[str, Any] = {"Item": item, "ConditionExpression": cond}
        if values:
            kwargs.update(ExpressionAttributeValues=values, ExpressionAttributeNames={"#st": "status"})
        if not self._conditional("put_item", **kwargs):
            return False
        self._log_enrollment(tenant_id, enrollment)
        return True

    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool:
        """Active → completed/exited, only for that very enrollment (a later run is untouched)."""
        ended = replace(enrollment, status=status, exit_reason=reason, ended_at=at)
        if not self._conditional(
            "put_item",
            Item=self._enrollment_item(tenant_id, ended),
            ConditionExpression="#st = :active AND eid = :eid",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":active": _s(ACTIVE), ":eid": _s(enrollment.enrollment_id)},
        ):
            return False
        self._log_enrollment(tenant_id, ended)
        return True

    @staticmethod
    def _enrollment_item(tenant_id: str, e: Enrollment) -> dict[str, Any]:
        return {
            "pk": _s(customer_pk(tenant_id, e.customer_id)),
            "sk": _s(f"ENR#{e.plan_id}"),
            "kind": _s("enrollment"),
            "status": _s(e.status),
            "eid": _s(e.enrollment_id),
            "doc": _doc(asdict(e)),
        }

    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]:
        resp = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": _s(customer_pk(tenant_id, customer_id)), ":p": _s("ENR#")},
            ConsistentRead=True,
        )
        return [Enrollment(**json.loads(i["doc"]["S"])) for i in resp.get("Items", [])]

    # --- buckets and touches ----------------------------------------------------------------------------------

    def register_bucket(self, tenant_id: str, bucket: Bucket) -> bool:
        """Record a bucket once (True only for the first caller: only that one creates the schedule). A second,
        small item lists the bucket under its plan version, which is what a migration walks."""
        first = self._conditional(
            "put_item",
            Item={
                "pk": _s(bucket_pk(tenant_id, bucket.bucket_id)),
                "sk": _s("BUCKET"),
                "kind": _s("bucket"),
                "doc": _doc(asdict(bucket)),
                "gsi1pk": _s(due_partition(tenant_id, bucket.minute)),
                "gsi1sk": _s(f"{bucket.minute}#{bucket.bucket_id}"),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        if first:
            self._call(
                "put_item",
                Item={
                    "pk": _s(plan_buckets_pk(tenant_id, bucket.plan_id, bucket.version)),
                    "sk": _s(f"{bucket.minute}#{bucket.step_id}"),
                    "kind": _s("plan_bucket"),
                    "doc": _doc(asdict(bucket)),
                    "expires_at": _ttl_minute(bucket.minute, TOUCH_TTL_DAYS),
                },
            )
        return first

    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]:
        """The buckets of one plan version due at or after ``from_minute`` (UTC "YYYYMMDDHHMM")."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk >= :m",
            "ExpressionAttributeValues": {
                ":pk": _s(plan_buckets_pk(tenant_id, plan_id, version)),
                ":m": _s(from_minute),
            },
        }
        out: list[Bucket] = []
        while True:
            resp = self._call("query", **kwargs)
            out += [Bucket(**json.loads(i["doc"]["S"])) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def repin_enrollment(self, tenant_id: str, enrollment: Enrollment, version: int) -> bool:
        """Move an active enrollment to another plan version (a migration), only if it is still that run."""
        moved = replace(enrollment, version=version)
        return self._conditional(
            "put_item",
            Item=self._enrollment_item(tenant_id, moved),
            ConditionExpression="#st = :active AND eid = :eid",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":active": _s(ACTIVE), ":eid": _s(enrollment.enrollment_id)},
        )

    def reopen_bucket(self, tenant_id: str, bucket: Bucket) -> None:
        """A touch joined a bucket that may have fired already: put it back where the backstop looks."""
        self._call(
            "update_item",
            Key={"pk": _s(bucket_pk(tenant_id, bucket.bucket_id)), "sk": _s("BUCKET")},
            UpdateExpression="SET gsi1pk = :g, gsi1sk = :s",
            ExpressionAttributeValues={
                ":g": _s(due_partition(tenant_id, bucket.minute)),
                ":s": _s(f"{bucket.minute}#{bucket.bucket_id}"),
            },
        )

    def get_bucket(self, tenant_id: str, bucket_id: str) -> Bucket | None:
        item = self._call("get_item", Key={"pk": _s(bucket_pk(tenant_id, bucket_id)), "sk": _s("BUCKET")}).get("Item")
        return Bucket(**json.loads(item["doc"]["S"])) if item else None

    def drain_bucket(self, tenant_id: str, bucket_id: str) -> None:
        self._call(
            "update_item",
            Key={"pk": _s(bucket_pk(tenant_id, bucket_id)), "sk": _s("BUCKET")},
            UpdateExpression="REMOVE gsi1pk, gsi1sk",
            ConditionExpression="attribute_exists(pk)",
        )

    def open_buckets(self, tenant_id: str, *, day: str, until_minute: str) -> list[Bucket]:
        resp = self._call(
            "query",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g AND gsi1sk <= :m",
            ExpressionAttributeValues={":g": _s(f"T#{tenant_id}#DUE#{day}"), ":m": _s(until_minute + "~")},
        )
        return [Bucket(**json.loads(i["doc"]["S"])) for i in resp.get("Items", [])]

    def feed_bucket(self, tenant_id: str, bucket_id: str, *, feeder: str) -> None:
        """Record that touches closed in bucket ``feeder`` may imply touches in this (registered) bucket."""
        self._call(
            "update_item",
            Key={"pk": _s(bucket_pk(tenant_id, bucket_id)), "sk": _s("BUCKET")},
            UpdateExpression="ADD feeders :f",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":f": {"SS": [feeder]}},
        )

    def add_touch(self, tenant_id: str, touch: Touch) -> bool:
        """Schedule a touch once: the key is (enrollment, step, occurrence), so a repeat is a no-op (False)."""
        return self._conditional(
            "put_item",
            Item={
                "pk": _s(bucket_pk(tenant_id, touch.bucket_id)),
                "sk": _s(touch.key),
                "kind": _s("touch"),
                "state": _s(touch.state),
                "doc": _doc(asdict(touch)),
                "expires_at": _ttl(touch.due_at, TOUCH_TTL_DAYS),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def _partition(self, pk: str, *, implying: str | None = None) -> list[dict[str, Any]]:
        """Every item of one partition, or only the touches implying one in bucket ``implying`` (strongly
        consistent: a write made before the fire is seen by it)."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":pk": _s(pk)},
        }
        if implying is not None:
            kwargs["FilterExpression"] = "nb = :nb"
            kwargs["ExpressionAttributeValues"][":nb"] = _s(implying)
        out: list[dict[str, Any]] = []
        while True:
            resp = self._call("query", **kwargs)
            out += resp.get("Items", [])
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = SCHEDULED) -> list[Touch]:
        """The bucket's touches: those written in it, and those implied by sent touches of its feeder buckets
        that are not written here yet (scheduled, by definition)."""
        items = self._partition(bucket_pk(tenant_id, bucket_id))
        written = {i["sk"]["S"]: self._touch(i) for i in items if i.get("kind", {}).get("S") == "touch"}
        head = next((i for i in items if i["sk"]["S"] == "BUCKET"), None)
        out = list(written.values())
        if head is not None and "feeders" in head:
            step_id = json.loads(head["doc"]["S"])["step_id"]
            for feeder in sorted(head["feeders"]["SS"]):
                for item in self._partition(bucket_pk(tenant_id, feeder), implying=bucket_id):
                    implied = self._touch(item).implied_next(step_id)
                    if implied.key not in written:
                        written[implied.key] = implied
                        out.append(implied)
        return sorted((t for t in out if state is None or t.state == state), key=lambda t: t.key)

    @staticmethod
    def _touch(item: dict[str, Any]) -> Touch:
        return replace(Touch(**json.loads(item["doc"]["S"])), state=item["state"]["S"])

    def move_touch(
        self,
        tenant_id: str,
        touch: Touch,
        *,
        to_state: str,
        from_state: str,
        task_id: str | None = None,
        reason: str | None = None,
        next_bucket: str | None = None,
        next_due: str | None = None,
    ) -> bool:
        """A guarded state transition (scheduled → sent/skipped/dropped): only one caller wins. A scheduled touch
        may be implied and not written yet; the same conditional write then creates it. Closing a touch as sent
        can name the enrollment's next touch (see ``Touch``), whose TTL the item then follows."""
        updated = replace(
            touch,
            state=to_state,
            task_id=task_id or touch.task_id,
            reason=reason,
            next_bucket=next_bucket,
            next_due=next_due,
        )
        cond = "#st = :from OR attribute_not_exists(pk)" if from_state == SCHEDULED else "#st = :from"
        update = "SET #st = :to, doc = :doc, kind = :k, expires_at = :ttl"
        values: dict[str, Any] = {
            ":to": _s(to_state),
            ":from": _s(from_state),
            ":doc": _doc(asdict(updated)),
            ":k": _s("touch"),
            ":ttl": _ttl(next_due or touch.due_at, TOUCH_TTL_DAYS),
        }
        if next_bucket:
            update += ", nb = :nb"
            values[":nb"] = _s(next_bucket)
        won = self._conditional(
            "update_item",
            Key={"pk": _s(bucket_pk(tenant_id, touch.bucket_id)), "sk": _s(touch.key)},
            UpdateExpression=update,
            ConditionExpression=cond,
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=values,
        )
        if won and to_state in (SKIPPED, DROPPED):  # a sent touch is logged by take_quota, in its own write
            entry = touch_entry(touch, to_state, reason)
            self.put_entry(tenant_id, touch.customer_id, touch_suffix(touch.key), entry)
        return won

    # --- staff tasks ------------------------------------------------------------------------------------------

    def _task_item(self, tenant_id: str, task: StaffTask) -> dict[str, Any]:
        """The task's head: everything but its customer ids, small, and the only item in the tasks index."""
        due = utc_key(datetime.fromisoformat(task.due_at))
        head = asdict(task)
        del head["customer_ids"]
        return {
            "pk": _s(task_pk(tenant_id, task.task_id)),
            "sk": _s("TASK"),
            "kind": _s("task"),
            "status": _s(task.status),
            "userid": _s(task.userid),
            "n": {"N": str(len(task.customer_ids))},
            "doc": _doc(head),
            "gsi1pk": _s(tasks_index_pk(tenant_id)),
            "gsi1sk": _s(f"{due}#{task.task_id}"),
            "expires_at": _ttl(task.due_at, TASK_TTL_DAYS),
        }

    def _recipients_item(self, tenant_id: str, task: StaffTask) -> dict[str, Any]:
        """The task's customer ids (up to 10,000: ~200 KB), beside the head and outside every index, so saving a
        status or listing tasks never rewrites or reads them."""
        return {
            "pk": _s(task_pk(tenant_id, task.task_id)),
            "sk": _s("RCPT"),
            "kind": _s("task_recipients"),
            "ids": _s(",".join(task.customer_ids)),
            "expires_at": _ttl(task.due_at, TASK_TTL_DAYS),
        }

    def create_task(self, tenant_id: str, task: StaffTask) -> bool:
        """Claim a task id once (False if it exists: the caller looks at what is there). The recipients go first,
        so a head is never seen without them."""
        if not self._conditional(
            "put_item",
            Item=self._recipients_item(tenant_id, task),
            ConditionExpression="attribute_not_exists(pk)",
        ):
            return False
        return self._conditional(
            "put_item", Item=self._task_item(tenant_id, task), ConditionExpression="attribute_not_exists(pk)"
        )

    def get_task(self, tenant_id: str, task_id: str) -> StaffTask | None:
        """Head and recipients in one strongly consistent Query of the task's partition."""
        items = self._call(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(task_pk(tenant_id, task_id))},
            ConsistentRead=True,
        ).get("Items", [])
        by_sk = {i["sk"]["S"]: i for i in items}
        if "TASK" not in by_sk:
            return None
        return self._task(by_sk["TASK"], by_sk.get("RCPT"))

    @staticmethod
    def _task(item: dict[str, Any], recipients: dict[str, Any] | None) -> StaffTask:
        data = json.loads(item["doc"]["S"])
        if recipients is not None:
            ids = recipients["ids"]["S"]
            data["customer_ids"] = tuple(ids.split(",")) if ids else ()
        else:  # written before recipients had their own item
            data["customer_ids"] = tuple(data.get("customer_ids", ()))
        return StaffTask(**data)

    def save_task(self, tenant_id: str, task: StaffTask, *, expected_status: str, recipients: bool = False) -> bool:
        """Save the head if its status is still ``expected_status``; the recipients only when they changed
        (``recipients``: a concurrent fire claimed some of them first)."""
        saved = self._conditional(
            "put_item",
            Item=self._task_item(tenant_id, task),
            ConditionExpression="#st = :st",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":st": _s(expected_status)},
        )
        if saved and recipients:
            self._call("put_item", Item=self._recipients_item(tenant_id, task))
        return saved

    def get_task_sync_cursor(self, tenant_id: str) -> str | None:
        """Where the task status sync resumes (a tasks-index key ``<due UTC>#<task_id>``); None: from the start."""
        item = self._call(
            "get_item", Key={"pk": _s(f"T#{tenant_id}#TASKSYNC"), "sk": _s("CURSOR")}, ConsistentRead=True
        ).get("Item")
        return item["cursor"]["S"] if item and "cursor" in item else None

    def put_task_sync_cursor(self, tenant_id: str, cursor: str | None) -> None:
        item: dict[str, Any] = {"pk": _s(f"T#{tenant_id}#TASKSYNC"), "sk": _s("CURSOR"), "kind": _s("task_sync")}
        if cursor:
            item["cursor"] = _s(cursor)
        self._call("put_item", Item=item)

    # --- bulk enrollment jobs ---------------------------------------------------------------------------------

    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool:
        """Create a job, or save its next state only if it is still at the state before (``seq`` - 1): two
        workers never both advance a job, and a stale one can never rewrite a finished job."""
        item = {
            "pk": _s(f"T#{tenant_id}#JOB#{job['job_id']}"),
            "sk": _s("JOB"),
            "kind": _s("job"),
            "seq": {"N": str(job["seq"])},
            "doc": _doc(job),
        }
        if job.get("status") == "running":
            item.update(gsi1pk=_s(f"T#{tenant_id}#JOBS"), gsi1sk=_s(job["job_id"]))
        if create:
            return self._conditional("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)")
        return self._conditional(
            "put_item",
            Item=item,
            ConditionExpression="seq = :prev",
            ExpressionAttributeValues={":prev": {"N": str(job["seq"] - 1)}},
        )

    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        item = self._call(
            "get_item", Key={"pk": _s(f"T#{tenant_id}#JOB#{job_id}"), "sk": _s("JOB")}, ConsistentRead=True
        ).get("Item")
        return json.loads(item["doc"]["S"]) if item else None

    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]:
        resp = self._call(
            "query",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": _s(f"T#{tenant_id}#JOBS")},
        )
        return [json.loads(i["doc"]["S"]) for i in resp.get("Items", [])]
