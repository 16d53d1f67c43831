"""Storage of the customer timeline and the erasure walk. Mixed into DynamoStore; see docs/data-model.md, "Timeline".

Keys (all in the customer's partition ``T#<tid>#C#<cid>``, under the one prefix ``F#``, see domain/timeline.py):
- an entry item: ``F#<time:010d>#<suffix>`` (intake facts, tag changes, business events, enrollments, exits,
  skipped touches), one ``doc`` as facts have;
- the month quota item: ``F#<month end>#Q#<YYYY-MM>``, counters ``m`` / ``d#…`` and list ``tl`` of sent touches.
Beside them, outside the timeline's prefix, ``REFERRAL``: the id of the customer's referral code (老带新).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.enrollments import roster_keys
from chalicelib.adapters.dynamodb.task_erasure import TaskErasureMixin
from chalicelib.adapters.dynamodb.tasks import task_of
from chalicelib.adapters.dynamodb.translate import translate as _translate
from chalicelib.domain import timeline as tl
from chalicelib.domain.facts import Alias, Fact
from chalicelib.domain.sop import ACTIVE, COMPLETED, Enrollment, StaffTask, Touch
from chalicelib.domain.timeline import Entry, TimelineItem, epoch_of
from chalicelib.errors import ConflictError

TOMBSTONE_TTL_DAYS = 3
ERASE_PAGE = 100  # keys read per Query page of the erasure walk (BatchWriteItem takes 25 a call)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _below(bound: str) -> str:
    """The greatest key string that still sorts before ``bound`` among ASCII keys (BETWEEN is inclusive)."""
    return bound[:-1] + chr(ord(bound[-1]) - 1) + "\x7f"


def item_entries(raw: dict[str, Any]) -> tuple[Entry, ...]:
    """The entries one timeline item renders as: a fact is one, a month item one per list element."""
    if "tl" in raw:
        return tuple(tl.sent_entry(e["S"]) for e in raw["tl"].get("L", []))
    if "doc" not in raw:
        return ()
    data = json.loads(raw["doc"]["S"])
    time = tl.time_of_sk(raw["sk"]["S"])
    return (
        Entry(
            time=time,
            type=data.get("type", ""),
            at=data.get("at", ""),
            userid=data.get("userid", ""),
            channel_id=data.get("channel_id", ""),
            detail=data.get("detail", {}),
            ref=raw["sk"]["S"].split("#", 2)[2],
        ),
    )


def append_sent(touch: Touch, *, last: bool) -> tuple[str, dict[str, Any]]:
    """The UpdateExpression part and values that append a sent touch to the quota item's ``tl`` list."""
    record = tl.sent_record(touch.bucket_id, touch.occurrence_key, touch.due_at, last=last)
    return "tl = list_append(if_not_exists(tl, :tl0), :tl1)", {":tl0": {"L": []}, ":tl1": {"L": [_s(record)]}}


def touch_entry(touch: Touch, outcome: str, reason: str | None = None, *, last: bool = False) -> Entry:
    return tl.touch_entry(touch.bucket_id, touch.occurrence_key, touch.due_at, outcome, reason, last=last)


class TimelineStoreMixin(TaskErasureMixin):
    """Timeline and erasure repository methods of DynamoStore."""

    client: Any
    table: str

    if TYPE_CHECKING:

        def _call(self, op: str, **kwargs: Any) -> Any: ...
        def _conditional(self, op: str, **kwargs: Any) -> bool: ...
        def _batch_get(
            self, keys: list[tuple[str, str]], *, consistent: bool = False
        ) -> dict[tuple[str, str], dict[str, Any]]: ...

    def timeline_items(
        self, tenant_id: str, customer_id: str, *, below: str, above: str = tl.PREFIX, limit: int | None = None
    ) -> tuple[list[TimelineItem], bool]:
        """Timeline items with ``above`` <= sk < ``below``, newest first: one Query (with ``limit``), or every
        such item (without). The flag says whether more items may follow below the last one."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": _s(k.customer_pk(tenant_id, customer_id)),
                ":lo": _s(above),
                ":hi": _s(_below(below)),
            },
            "ScanIndexForward": False,
        }
        if limit is not None:
            params["Limit"] = limit
        out: list[TimelineItem] = []
        while True:
            resp = self._call("query", **params)
            out += [TimelineItem(r["sk"]["S"], item_entries(r)) for r in resp.get("Items", [])]
            last = resp.get("LastEvaluatedKey")
            if limit is not None or not last:
                return out, bool(last)
            params["ExclusiveStartKey"] = last

    def put_entry(self, tenant_id: str, customer_id: str, suffix: str, entry: Entry) -> None:
        """One entry item (PutItem, no condition: callers record only writes they won, and a repeat of the same
        entry rewrites the same key)."""
        data: dict[str, Any] = {"type": entry.type, "at": entry.at, "userid": entry.userid}
        data.update({"channel_id": entry.channel_id, "detail": entry.detail})
        doc = json.dumps(
            {n: v for n, v in data.items() if v not in ("", {})}, ensure_ascii=False, separators=(",", ":")
        )
        self._call(
            "put_item",
            Item={
                "pk": _s(k.customer_pk(tenant_id, customer_id)),
                "sk": _s(tl.sk_at(entry.time, suffix)),
                "kind": _s("fact"),
                "doc": _s(doc),
            },
        )

    def _log_enrollment(self, tenant_id: str, e: Enrollment) -> None:
        """The customer's timeline hears of a won enrollment write (start, exit): one entry item (1 WCU).
        A completion is not logged: the sent touch of the last step says it (no write of its own on the fire path)."""
        if e.status == COMPLETED:
            return
        at = e.ended_at if e.status != ACTIVE and e.ended_at else e.enrolled_at
        detail: dict[str, Any] = {"plan_id": e.plan_id, "version": e.version, "enrollment_id": e.enrollment_id}
        if e.status == ACTIVE:
            detail["source"] = e.source
            entry, suffix = Entry(time=epoch_of(at), type="enrolled", at=at, detail=detail), "enr."
        else:
            detail.update({"status": e.status, "reason": e.exit_reason})
            entry, suffix = Entry(time=epoch_of(at), type="enrollment_ended", at=at, detail=detail), "end."
        self.put_entry(tenant_id, e.customer_id, suffix + e.enrollment_id, entry)

    def touch_tasks(self, tenant_id: str, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The task id of each (bucket_id, ``<customer_id>#<enrollment>#<step>#<occurrence>``) that has one: one
        BatchGetItem for a page's touches (their sort keys are the customer subject's, keys.touch_sk)."""
        by_key = {(k.bucket_pk(tenant_id, b), k.touch_sk("customer", *ref.split("#", 1))): (b, ref) for b, ref in refs}
        found = self._batch_get(list(by_key))
        out: dict[tuple[str, str], str] = {}
        for key, raw in found.items():
            task_id = json.loads(raw.get("doc", {}).get("S", "{}")).get("task_id")
            if task_id:
                out[by_key[key]] = task_id
        return out

    def task_heads(self, tenant_id: str, task_ids: list[str]) -> dict[str, StaffTask]:
        """Task heads without their recipients: one BatchGetItem."""
        found = self._batch_get([(k.task_pk(tenant_id, t), "TASK") for t in dict.fromkeys(task_ids)])
        heads = (task_of(raw, None) for raw in found.values())
        return {t.task_id: t for t in heads}

    def timeline(self, tenant_id: str, customer_id: str, *, limit: int) -> list[Fact]:
        """The customer's facts alone (no month items), newest first: for operators and tests."""
        items, _ = self.timeline_items(tenant_id, customer_id, below=tl.PREFIX + "~", limit=limit)
        return [
            Fact(tenant_id, customer_id, e.time, i.sk.split("#", 2)[2], e.type, e.at, e.userid, e.channel_id, e.detail)
            for i in items
            if not tl.is_month_item(i.sk)
            for e in i.entries
        ]

    # --- the month quota item (the SOP engine's caps) -------------------------------------------------------------

    def take_quota(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int,
        touch: Touch | None = None,
        last: bool = False,
    ) -> str | None:
        """Count one touch against the customer's WeCom monthly receive limit and, for capped content types, the
        daily cap, in one conditional write on the month's item. None if counted, else the rule that refused
        ("cap" or "monthly_limit"). The month's item is a timeline item: the same write appends ``touch`` as sent
        (``last``: its step completes the enrollment), so the timeline costs the fire no write of its own."""
        names = {"#m": "m"}
        values: dict[str, Any] = {":one": {"N": "1"}, ":mcap": {"N": str(month_cap)}, ":k": _s("quota")}
        set_part = " SET kind = :k"
        if touch is not None:
            append, append_values = append_sent(touch, last=last)
            set_part += ", " + append
            values.update(append_values)
        update, cond = "ADD #m :one", "(attribute_not_exists(#m) OR #m < :mcap)"
        if day_key is not None and day_cap is not None:
            names["#d"] = f"d#{day_key}"
            values[":dcap"] = {"N": str(day_cap)}
            update += ", #d :one"
            cond += " AND (attribute_not_exists(#d) OR #d < :dcap)"
        key = {"pk": _s(k.customer_pk(tenant_id, customer_id)), "sk": _s(tl.month_sk(month, tl.QUOTA_TAG))}
        if self._conditional(
            "update_item",
            Key=key,
            UpdateExpression=update + set_part,
            ConditionExpression=cond,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ):
            return None
        item = self._call("get_item", Key=key, ConsistentRead=True).get("Item", {})
        return "monthly_limit" if int(item.get("m", {}).get("N", "0")) >= month_cap else "cap"

    # --- the referral link (老带新) ----------------------------------------------------------------------------

    def claim_referral_code(self, tenant_id: str, customer_id: str, channel_id: str) -> str:
        """The id of the customer's referral code: ``channel_id`` if this call claims it (a conditional put in
        their own partition), else the one claimed before, so concurrent first calls agree on one code."""
        key = {"pk": _s(k.customer_pk(tenant_id, customer_id)), "sk": _s(k.REFERRAL_SK)}
        item = {**key, "kind": _s("referral"), "channel_id": _s(channel_id)}
        if self._conditional("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)"):
            return channel_id
        held = self.referral_code_of(tenant_id, customer_id)
        if held is None:  # claimed and erased in between
            raise ConflictError("the customer's referral code changed; try again")
        return held

    def referral_code_of(self, tenant_id: str, customer_id: str) -> str | None:
        key = {"pk": _s(k.customer_pk(tenant_id, customer_id)), "sk": _s(k.REFERRAL_SK)}
        item = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
        return item["channel_id"]["S"] if item else None

    # --- erasure ----------------------------------------------------------------------------------------------

    def rename_counter(self, tenant_id: str, userid: str, date: str, old: str, new: str) -> bool:
        """Fold a staff-day counter attribute into another (a legacy ``c#rf_<cid>`` into ``c#rf_erased``): one
        UpdateItem, only while the old attribute is there, so a repeat changes nothing."""
        try:
            self._call(
                "update_item",
                Key={"pk": _s(k.staff_day_pk(tenant_id, userid)), "sk": _s(k.staff_day_sk(date))},
                UpdateExpression="SET #new = if_not_exists(#new, :zero) + #old REMOVE #old",
                ConditionExpression="attribute_exists(#old)",
                ExpressionAttributeNames={"#new": new, "#old": old},
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ConflictError:
            return False
        return True

    def erase_customer(
        self, tenant_id: str, customer_id: str, *, tombstones: list[Alias], max_items: int = 1_000_000
    ) -> int:
        """Deletes the customer's partition (every item, whatever its kind) and replaces its aliases with
        tombstones that keep no customer id. With ``max_items``, a call stops after that many and returns -1 - the
        count when items remain: the profile, deleted last, still marks the erasure as unfinished."""
        deleted, more = self.erase_partition(tenant_id, customer_id, max_items=max_items)
        if more:
            return -1 - deleted
        self.put_tombstones(tenant_id, tombstones)
        resp = self._call(
            "delete_item",
            Key={"pk": _s(k.customer_pk(tenant_id, customer_id)), "sk": _s(k.PROFILE_SK)},
            ReturnValues="ALL_OLD",
        )
        return deleted + (1 if resp.get("Attributes") else 0)

    def put_tombstones(self, tenant_id: str, tombstones: list[Alias]) -> None:
        for a in tombstones:
            erased = a.erased_at or 0
            self._call(
                "put_item",
                Item={
                    "pk": _s(k.alias_pk(tenant_id, a.kind, a.digest)),
                    "sk": _s(k.ALIAS_SK),
                    "kind": _s("alias"),
                    "erased_at": {"N": str(erased)},
                    "expires_at": {"N": str(erased + TOMBSTONE_TTL_DAYS * 86400)},
                },
            )

    def erase_touches(self, tenant_id: str, customer_id: str, bucket_ids: list[str]) -> tuple[int, set[str]]:
        """Delete the customer's touches in these buckets (their keys start with the customer id); returns how
        many and the task ids they named."""
        deleted, tasks = 0, set()
        for bucket_id in bucket_ids:
            params: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :c)",
                "ExpressionAttributeValues": {
                    ":pk": _s(k.bucket_pk(tenant_id, bucket_id)),
                    ":c": _s(k.touch_sk_prefix("customer", customer_id)),
                },
                "ConsistentRead": True,
            }
            while True:
                resp = self._call("query", **params)
                for raw in resp.get("Items", []):
                    task_id = json.loads(raw.get("doc", {}).get("S", "{}")).get("task_id")
                    if task_id:
                        tasks.add(task_id)
                    self._call("delete_item", Key={"pk": raw["pk"], "sk": raw["sk"]})
                    deleted += 1
                if not resp.get("LastEvaluatedKey"):
                    break
                params["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return deleted, tasks

    def erase_partition(self, tenant_id: str, customer_id: str, *, max_items: int) -> tuple[int, bool]:
        """Delete up to ``max_items`` items of the customer's partition other than the profile, a Query page at a
        time; returns (deleted, whether items other than the profile remain). The profile goes last (in
        ``erase_customer``), so an interrupted erasure is found and resumed by the next call."""
        pk = k.customer_pk(tenant_id, customer_id)
        deleted = 0
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(pk)},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        while deleted < max_items:
            params["Limit"] = min(ERASE_PAGE, max_items - deleted)
            resp = self._call("query", **params)
            keys = [{"pk": r["pk"], "sk": r["sk"]} for r in resp.get("Items", []) if r["sk"]["S"] != k.PROFILE_SK]
            # The plans' rosters name the customer too; they go before the enrollments that lead to them, so an
            # erasure that stops in between still finds them when it resumes.
            plans = [key["sk"]["S"].removeprefix("ENR#") for key in keys if key["sk"]["S"].startswith("ENR#")]
            roster = [{"pk": _s(p), "sk": _s(s)} for p, s in roster_keys(tenant_id, customer_id, plans)]
            for i in range(0, len(roster), 25):
                self._write_deletes(roster[i : i + 25])
            for i in range(0, len(keys), 25):
                self._write_deletes(keys[i : i + 25])
            deleted += len(keys)
            if not resp.get("LastEvaluatedKey"):
                return deleted, False
            params["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return deleted, True

    def _write_deletes(self, keys: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {self.table: [{"DeleteRequest": {"Key": key}} for key in keys]}
        for _ in range(8):
            with _translate():
                resp = self.client.batch_write_item(RequestItems=request)
            request = resp.get("UnprocessedItems") or {}
            if not request:
                return
        for req in request.get(self.table, []):
            self._call("delete_item", Key=req["DeleteRequest"]["Key"])
