"""Silence timers: one item per (customer, plan) beside the enrollment, with a sparse, movable index entry at its due
time — so the silence job reads only what is due, never the customers.

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
from datetime import timedelta

from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SilenceTimerItem, SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.silence import SilenceTimer, from_key

TIMER_TTL_DAYS = 35
_STATIC = ("customer_id", "plan_id", "enrollment_id", "version", "days", "then_plan_id")


def _doc(t: SilenceTimer) -> str:
    return json.dumps({n: v for n, v in asdict(t).items() if n in _STATIC}, ensure_ascii=False)


def _key(tenant_id: str, t: SilenceTimer) -> SilenceTimerItem:
    return SilenceTimerItem(pk=k.customer_pk(tenant_id, t.customer_id), sk=k.silence_sk(t.plan_id))


def _placed(tenant_id: str, t: SilenceTimer, due: str) -> list[Action]:
    """The actions that put the timer at ``due``: its index entry and its TTL follow."""
    return [
        SilenceTimerItem.due.set(due),
        SilenceTimerItem.gsi1pk.set(k.silence_gsi_pk(tenant_id, due)),
        SilenceTimerItem.gsi1sk.set(k.silence_gsi_sk(due, t.customer_id, t.plan_id)),
        SilenceTimerItem.expires_at.set(from_key(due) + timedelta(days=TIMER_TTL_DAYS)),
    ]


def _timer(item: SilenceTimerItem) -> SilenceTimer:
    return SilenceTimer(**json.loads(item.doc or "{}"), due=item.due, claimed_at=item.claimed_at)


class SilenceRepository(DynamoBase):
    def put_silence_timer(self, tenant_id: str, timer: SilenceTimer) -> bool:
        """Start the timer of an enrollment; it replaces the timer of an earlier run of the same plan. False if
        this enrollment's timer exists already (a repeat must not reset a timer activity has moved)."""
        item = SilenceTimerItem(
            pk=k.customer_pk(tenant_id, timer.customer_id),
            sk=k.silence_sk(timer.plan_id),
            eid=timer.enrollment_id,
            due=timer.due,
            doc=_doc(timer),
            gsi1pk=k.silence_gsi_pk(tenant_id, timer.due),
            gsi1sk=k.silence_gsi_sk(timer.due, timer.customer_id, timer.plan_id),
            expires_at=from_key(timer.due) + timedelta(days=TIMER_TTL_DAYS),
        )
        cond = SiyuItem.pk.does_not_exist() | (SilenceTimerItem.eid != timer.enrollment_id)
        return self.conditional(lambda: item.save(condition=cond))

    def silence_timers_of(self, tenant_id: str, customer_id: str) -> list[SilenceTimer]:
        """The customer's timers (one per plan it was enrolled in with a silence rule), strongly consistent."""
        prefix = SilenceTimerItem.sk.startswith(k.SILENCE_PREFIX)
        items, _ = self.query(SilenceTimerItem, k.customer_pk(tenant_id, customer_id), prefix, consistent=True)
        return [_timer(i) for i in items]

    def move_silence_timer(self, tenant_id: str, timer: SilenceTimer, due: str) -> bool:
        """Push the timer's due time (and its index entry) forward to ``due``; False if it is not that enrollment's
        any more, is already at or past ``due``, or the silence job holds it."""
        cond = (
            (SilenceTimerItem.eid == timer.enrollment_id)
            & (SilenceTimerItem.due < due)
            & SilenceTimerItem.claim.does_not_exist()
        )
        item = _key(tenant_id, timer)
        return self.conditional(lambda: item.update(actions=_placed(tenant_id, timer, due), condition=cond))

    def due_silence_timers(self, tenant_id: str, *, day: str, until: str) -> list[SilenceTimer]:
        """Timers in the UTC ``day``'s index partition ("YYYY-MM-DD") due at or before ``until`` (a UTC key). The
        index is eventually consistent: a claim re-checks the due time."""
        with translate():
            items = SilenceTimerItem.gsi1.query(
                k.silence_gsi_pk(tenant_id, day), SiyuItem.gsi1sk <= k.silence_gsi_upto(until)
            )
            return [_timer(i) for i in items if isinstance(i, SilenceTimerItem)]

    def claim_silence_timer(
        self, tenant_id: str, timer: SilenceTimer, *, token: str, now: str, lease_until: str
    ) -> SilenceTimer | None:
        """Take the timer for ``token`` until ``lease_until`` if it is still this enrollment's, still due when it
        was read, and nobody holds a live lease. Returns the claimed timer (``claimed_at``: the first claim)."""
        item = _key(tenant_id, timer)
        actions: list[Action] = [
            SilenceTimerItem.claim.set(token),
            SilenceTimerItem.lease.set(lease_until),
            SilenceTimerItem.claimed_at.set(SilenceTimerItem.claimed_at | now),
        ]
        cond = (
            (SilenceTimerItem.eid == timer.enrollment_id)
            & (SilenceTimerItem.due == timer.due)
            & (SilenceTimerItem.lease.does_not_exist() | (SilenceTimerItem.lease < now))
        )
        # ``update`` reads the new item back (ALL_NEW) into ``item``.
        return _timer(item) if self.conditional(lambda: item.update(actions=actions, condition=cond)) else None

    def delete_silence_timer(self, tenant_id: str, timer: SilenceTimer, *, token: str) -> bool:
        """Remove a timer the caller holds (False if its claim was lost or it was replaced)."""
        item = _key(tenant_id, timer)
        return self.conditional(lambda: item.delete(condition=SilenceTimerItem.claim == token))

    def repin_silence_timer(self, tenant_id: str, timer: SilenceTimer, to: SilenceTimer | None) -> bool:
        """A migration moved the timer's enrollment to another plan version: take that version's rule (``to``:
        days, hand-off plan, due), or remove the timer when the version has none (``to`` None). Only while it is
        still that enrollment's timer and the silence job does not hold it."""
        item = _key(tenant_id, timer)
        cond = (SilenceTimerItem.eid == timer.enrollment_id) & SilenceTimerItem.claim.does_not_exist()
        if to is None:
            return self.conditional(lambda: item.delete(condition=cond))
        actions = [*_placed(tenant_id, to, to.due), SilenceTimerItem.doc.set(_doc(to))]
        return self.conditional(lambda: item.update(actions=actions, condition=cond))
