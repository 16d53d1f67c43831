"""Storage of silence timers: one item per (customer, plan) beside the enrollment, with a sparse, movable index entry
at its due time — so the silence job reads only what is due, never the customers.

Keys (docs/data-model.md, "Silence timers"):
- timer: ``T#<tid>#C#<cid>`` / ``SIL#<plan_id>`` (in the customer's partition: erasure deletes it), attributes
  ``eid`` (the enrollment it belongs to), ``due`` (UTC key), ``claim``/``lease``/``claimed_at`` while the silence
  job works on it, TTL 35 days after due (a safety net; the job deletes it when done)
- its index entry: gsi1 ``T#<tid>#SIL#<UTC date of due>`` / ``<due UTC>#<cid>#<plan_id>``. Moving the timer is an
  update of the same item's gsi1 keys, so the index holds exactly one due time per timer.

Every change is conditional: a start does not reset a timer of the same enrollment, a move only goes forward and not
while the job holds the timer, a claim is won by one caller per lease, a delete needs the claim.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from chalicelib.adapters.dynamodb.translate import translate as _translate
from chalicelib.domain.silence import SilenceTimer, from_key
from chalicelib.errors import ConflictError

TIMER_TTL_DAYS = 35
_STATIC = ("customer_id", "plan_id", "enrollment_id", "version", "days", "then_plan_id")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def timer_pk(tid: str, cid: str) -> str:
    return f"T#{tid}#C#{cid}"


def timer_sk(plan_id: str) -> str:
    return f"SIL#{plan_id}"


def silence_partition(tid: str, due: str) -> str:
    """The gsi1 partition of a due time: one per tenant and UTC date (``due`` is a UTC key)."""
    return f"T#{tid}#SIL#{due[:10]}"


def _index(tid: str, t: SilenceTimer, due: str) -> dict[str, Any]:
    return {
        ":g": _s(silence_partition(tid, due)),
        ":gs": _s(f"{due}#{t.customer_id}#{t.plan_id}"),
        ":x": {"N": str(int(from_key(due).timestamp()) + TIMER_TTL_DAYS * 86400)},
    }


class SilenceStoreMixin:
    """Silence-timer repository methods of DynamoStore (uses ``self.client`` and ``self.table``)."""

    client: Any
    table: str

    def _lc(self, op: str, **kwargs: Any) -> Any:
        with _translate():
            return getattr(self.client, op)(TableName=self.table, **kwargs)

    def _lc_if(self, op: str, **kwargs: Any) -> Any:
        """The call's response, or None when its condition failed (someone else got there first)."""
        try:
            return self._lc(op, **kwargs)
        except ConflictError:
            return None

    @staticmethod
    def _timer(item: dict[str, Any]) -> SilenceTimer:
        data = json.loads(item["doc"]["S"])
        claimed = item.get("claimed_at", {}).get("S")
        return SilenceTimer(**data, due=item["due"]["S"], claimed_at=claimed)

    def put_silence_timer(self, tenant_id: str, timer: SilenceTimer) -> bool:
        """Start the timer of an enrollment; it replaces the timer of an earlier run of the same plan. False if
        this enrollment's timer exists already (a repeat must not reset a timer activity has moved)."""
        values = _index(tenant_id, timer, timer.due)
        item = {
            "pk": _s(timer_pk(tenant_id, timer.customer_id)),
            "sk": _s(timer_sk(timer.plan_id)),
            "kind": _s("silence_timer"),
            "eid": _s(timer.enrollment_id),
            "due": _s(timer.due),
            "doc": _s(json.dumps({k: v for k, v in asdict(timer).items() if k in _STATIC}, ensure_ascii=False)),
            "gsi1pk": values[":g"],
            "gsi1sk": values[":gs"],
            "expires_at": values[":x"],
        }
        return (
            self._lc_if(
                "put_item",
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR eid <> :eid",
                ExpressionAttributeValues={":eid": _s(timer.enrollment_id)},
            )
            is not None
        )

    def silence_timers_of(self, tenant_id: str, customer_id: str) -> list[SilenceTimer]:
        """The customer's timers (one per plan it was enrolled in with a silence rule), strongly consistent."""
        resp = self._lc(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": _s(timer_pk(tenant_id, customer_id)), ":p": _s("SIL#")},
            ConsistentRead=True,
        )
        return [self._timer(i) for i in resp.get("Items", [])]

    def move_silence_timer(self, tenant_id: str, timer: SilenceTimer, due: str) -> bool:
        """Push the timer's due time (and its index entry) forward to ``due``; False if it is not that enrollment's
        any more, is already at or past ``due``, or the silence job holds it."""
        return (
            self._lc_if(
                "update_item",
                Key={"pk": _s(timer_pk(tenant_id, timer.customer_id)), "sk": _s(timer_sk(timer.plan_id))},
                UpdateExpression="SET #due = :due, gsi1pk = :g, gsi1sk = :gs, expires_at = :x",
                ConditionExpression="eid = :eid AND #due < :due AND attribute_not_exists(#claim)",
                ExpressionAttributeNames={"#due": "due", "#claim": "claim"},
                ExpressionAttributeValues={
                    ":due": _s(due),
                    ":eid": _s(timer.enrollment_id),
                    **_index(tenant_id, timer, due),
                },
            )
            is not None
        )

    def due_silence_timers(self, tenant_id: str, *, day: str, until: str) -> list[SilenceTimer]:
        """Timers in the UTC ``day``'s index partition ("YYYY-MM-DD") due at or before ``until`` (a UTC key). The
        index is eventually consistent: a claim re-checks the due time."""
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :g AND gsi1sk <= :u",
            "ExpressionAttributeValues": {":g": _s(f"T#{tenant_id}#SIL#{day}"), ":u": _s(until + "#~")},
        }
        out: list[SilenceTimer] = []
        while True:
            resp = self._lc("query", **kwargs)
            out += [self._timer(i) for i in resp.get("Items", [])]
            if not resp.get("LastEvaluatedKey"):
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def claim_silence_timer(
        self, tenant_id: str, timer: SilenceTimer, *, token: str, now: str, lease_until: str
    ) -> SilenceTimer | None:
        """Take the timer for ``token`` until ``lease_until`` if it is still this enrollment's, still due when it
        was read, and nobody holds a live lease. Returns the claimed timer (``claimed_at``: the first claim)."""
        resp = self._lc_if(
            "update_item",
            Key={"pk": _s(timer_pk(tenant_id, timer.customer_id)), "sk": _s(timer_sk(timer.plan_id))},
            UpdateExpression="SET #claim = :c, lease = :l, claimed_at = if_not_exists(claimed_at, :now)",
            ConditionExpression="eid = :eid AND #due = :due AND (attribute_not_exists(lease) OR lease < :now)",
            ExpressionAttributeNames={"#claim": "claim", "#due": "due"},
            ExpressionAttributeValues={
                ":c": _s(token),
                ":l": _s(lease_until),
                ":now": _s(now),
                ":eid": _s(timer.enrollment_id),
                ":due": _s(timer.due),
            },
            ReturnValues="ALL_NEW",
        )
        return self._timer(resp["Attributes"]) if resp is not None else None

    def delete_silence_timer(self, tenant_id: str, timer: SilenceTimer, *, token: str) -> bool:
        """Remove a timer the caller holds (False if its claim was lost or it was replaced)."""
        return (
            self._lc_if(
                "delete_item",
                Key={"pk": _s(timer_pk(tenant_id, timer.customer_id)), "sk": _s(timer_sk(timer.plan_id))},
                ConditionExpression="#claim = :c",
                ExpressionAttributeNames={"#claim": "claim"},
                ExpressionAttributeValues={":c": _s(token)},
            )
            is not None
        )

    def repin_silence_timer(self, tenant_id: str, timer: SilenceTimer, to: SilenceTimer | None) -> bool:
        """A migration moved the timer's enrollment to another plan version: take that version's rule (``to``:
        days, hand-off plan, due), or remove the timer when the version has none (``to`` None). Only while it is
        still that enrollment's timer and the silence job does not hold it."""
        key = {"pk": _s(timer_pk(tenant_id, timer.customer_id)), "sk": _s(timer_sk(timer.plan_id))}
        cond = "eid = :eid AND attribute_not_exists(#claim)"
        if to is None:
            return (
                self._lc_if(
                    "delete_item",
                    Key=key,
                    ConditionExpression=cond,
                    ExpressionAttributeNames={"#claim": "claim"},
                    ExpressionAttributeValues={":eid": _s(timer.enrollment_id)},
                )
                is not None
            )
        doc = json.dumps({k: v for k, v in asdict(to).items() if k in _STATIC}, ensure_ascii=False)
        return (
            self._lc_if(
                "update_item",
                Key=key,
                UpdateExpression="SET #due = :due, doc = :doc, gsi1pk = :g, gsi1sk = :gs, expires_at = :x",
                ConditionExpression=cond,
                ExpressionAttributeNames={"#due": "due", "#claim": "claim"},
                ExpressionAttributeValues={
                    ":due": _s(to.due),
                    ":doc": _s(doc),
                    ":eid": _s(timer.enrollment_id),
                    **_index(tenant_id, to, to.due),
                },
            )
            is not None
        )
