"""Hot leads and the alerts outbox (issue 13; docs/data-model.md, "Hot leads and alerts").

Keys (keys/alerts.py):
- hot state: ``T#<tid>#C#<cid>`` / ``HOT`` (in the customer's partition: erasure deletes it), ``hot_key`` and
  ``cleared_key`` (UTC keys), ``doc`` {owner_userid, hot_at, until, ref}; while listed, gsi1
  ``T#<tid>#HOT#<owner>`` / ``<hot_key>#<cid>``; TTL a day after ``until``.
- alert: ``T#<tid>#ALERT#<alert_id>`` / ``ALERT``, ``status``, ``doc`` (the Alert, ids only: no name, no text);
  while pending, gsi1 ``T#<tid>#ALERTS`` / ``<due UTC>#<alert_id>`` (sending: at its lease's end); TTL 30 days.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.alert_models import AlertItem, AlertRateItem, HotLeadItem
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.alerts import ALERT_TTL_DAYS, PENDING, SENDING, Alert, HotLead
from chalicelib.domain.instants import utc_key


def _hot(item: HotLeadItem, customer_id: str) -> HotLead:
    doc = json.loads(item.doc or "{}")
    return HotLead(customer_id=customer_id, **doc)


def _alert(item: AlertItem) -> Alert:
    return Alert(**{**json.loads(item.doc or "{}"), "status": item.status})


def due_key_of(alert: Alert) -> str | None:
    """Where the alert sits in the due index: a pending one at its due time, a sending one at its lease's end."""
    if alert.status == PENDING:
        return utc_key(datetime.fromisoformat(alert.due_at))
    if alert.status == SENDING and alert.lease_until:
        return utc_key(datetime.fromisoformat(alert.lease_until))
    return None


def _doc(alert: Alert) -> str:
    return json.dumps({n: v for n, v in asdict(alert).items() if n != "status"}, ensure_ascii=False, sort_keys=True)


def _alert_item(tenant_id: str, alert: Alert) -> AlertItem:
    due = due_key_of(alert)
    return AlertItem(
        pk=k.alert_pk(tenant_id, alert.alert_id),
        sk=k.ALERT_SK,
        status=alert.status,
        doc=_doc(alert),
        gsi1pk=k.alerts_due_pk(tenant_id) if due else None,
        gsi1sk=k.alerts_due_sk(due, alert.alert_id) if due else None,
        expires_at=datetime.fromisoformat(alert.created_at) + timedelta(days=ALERT_TTL_DAYS),
    )


class AlertRepository(DynamoBase):
    # --- hot leads ----------------------------------------------------------------------------------------------

    def mark_hot(self, tenant_id: str, lead: HotLead, *, hot_key: str) -> bool:
        item = HotLeadItem(
            pk=k.customer_pk(tenant_id, lead.customer_id),
            sk=k.HOT_SK,
            hot_key=hot_key,
            doc=json.dumps({n: v for n, v in asdict(lead).items() if n != "customer_id"}, ensure_ascii=False),
            gsi1pk=k.hot_gsi_pk(tenant_id, lead.owner_userid),
            gsi1sk=k.hot_gsi_sk(hot_key, lead.customer_id),
            expires_at=datetime.fromisoformat(lead.until) + timedelta(days=1),
        )
        newer = (HotLeadItem.hot_key < hot_key) & (
            HotLeadItem.cleared_key.does_not_exist() | (HotLeadItem.cleared_key < hot_key)
        )
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist() | newer))

    def clear_hot(self, tenant_id: str, customer_id: str, *, cleared_key: str) -> bool:
        item = HotLeadItem(pk=k.customer_pk(tenant_id, customer_id), sk=k.HOT_SK)
        actions: list[Action] = [
            HotLeadItem.cleared_key.set(cleared_key),
            SiyuItem.gsi1pk.remove(),
            SiyuItem.gsi1sk.remove(),
        ]
        cond = SiyuItem.gsi1pk.exists() & (HotLeadItem.hot_key <= cleared_key)
        return self.conditional(lambda: item.update(actions=actions, condition=cond))

    def get_hot(self, tenant_id: str, customer_id: str) -> HotLead | None:
        item = self.get(HotLeadItem, k.customer_pk(tenant_id, customer_id), k.HOT_SK, consistent=True)
        if item is None or not item.gsi1pk:
            return None
        return _hot(item, customer_id)

    def hot_leads(self, tenant_id: str, userid: str, *, since_key: str, limit: int) -> list[HotLead]:
        with translate():
            items = HotLeadItem.gsi1.query(
                k.hot_gsi_pk(tenant_id, userid),
                SiyuItem.gsi1sk >= since_key,
                scan_index_forward=False,
                limit=limit,
            )
            return [_hot(i, k.customer_of_pk(i.pk)) for i in items if isinstance(i, HotLeadItem)]

    # --- the alerts outbox --------------------------------------------------------------------------------------

    def create_alert(self, tenant_id: str, alert: Alert) -> bool:
        item = _alert_item(tenant_id, alert)
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist()))

    def get_alert(self, tenant_id: str, alert_id: str) -> Alert | None:
        item = self.get(AlertItem, k.alert_pk(tenant_id, alert_id), k.ALERT_SK, consistent=True)
        return None if item is None else _alert(item)

    def save_alert(self, tenant_id: str, alert: Alert, *, expected: Alert) -> bool:
        item = _alert_item(tenant_id, alert)
        cond = (AlertItem.status == expected.status) & (AlertItem.doc == _doc(expected))
        return self.conditional(lambda: item.save(condition=cond))

    def due_alerts(self, tenant_id: str, *, until_key: str, limit: int) -> list[Alert]:
        with translate():
            items = AlertItem.gsi1.query(
                k.alerts_due_pk(tenant_id), SiyuItem.gsi1sk <= k.alerts_due_upto(until_key), limit=limit
            )
            return [_alert(i) for i in items if isinstance(i, AlertItem)]

    def take_alert_slot(
        self, tenant_id: str, userid: str, *, minute: str, hour: str, per_minute: int, per_hour: int
    ) -> str | None:
        # The minute first: a full minute leaves the hour untouched; a full hour after the minute counted only
        # over-counts that minute (the safe side).
        expires = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC) + timedelta(hours=2)
        for window, key, limit in (("minute", minute, per_minute), ("hour", hour, per_hour)):
            item = AlertRateItem(pk=k.alert_rate_pk(tenant_id, userid), sk=k.alert_rate_sk(window, key))
            actions: list[Action] = [AlertRateItem.n.add(1), SiyuItem.expires_at.set(expires)]
            cond = AlertRateItem.n.does_not_exist() | (AlertRateItem.n < limit)
            if not self.conditional(lambda: item.update(actions=actions, condition=cond)):  # noqa: B023
                return window
        return None
