"""Alerts to staff in WeCom (application messages, message/send textcard) and the hot leads behind the first kind.

What raises an alert (each one subscribes through the signal bus, wiring.py):
- a positive reply (``reply`` kind positive) makes the customer hot (HOT_DAYS, cleared by an order) and alerts the
  customer's owner, once per reply (dedupe ``hot:<cid>:<reply ref>``);
- a task escalated by the task sync (``task_escalated``) alerts its owner and the lead it went to
  (``overdue:<task>:owner|lead``);
- a customer who deleted their staff member (``lost`` kind lost) alerts that staff member (``lost:<cid>:<ref>``).

Effectively once: the alert's id derives from its dedupe key and its outbox item is created with a conditional put;
a sender claims it (pending → sending with a lease, conditional on the item being exactly what it read, so a stale
copy or a second reclaimer loses), sends, and marks it sent. A crash after WeCom answered and before the mark leaves
it ``sending``: after the lease the periodic job sends it again with the same request, which WeCom's duplicate check
(enable_duplicate_check, 4 h) does not show twice. WeCom silently drops what
an app sends one member beyond 30 a minute or 1,000 an hour: Siyu counts its sends per member and calendar minute
and hour (conditional adds) and keeps to 15 and 500, so an alert over that waits for the next minute or hour instead
of being lost. Inside the quiet hours
(the tenant's touch rules; staff have no quiet hours of their own) an alert is due at their end: the task sync job
(jobs/tasks.py) sends due alerts every run, and retries failed sends with backoff (MAX_ATTEMPTS, then ``failed``).

The outbox keeps ids only; the card (a customer's name is fine in WeCom) is built when it is sent, so an erased
customer's alert is skipped. Nothing personal is logged. Without ``Tenant.agent_id`` (the self-built app's id, API
field ``wecom.agent_id``) no alert is made: the reason is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.alerts import (
    DUPLICATE_CHECK_MAX_SECONDS,
    FAILED,
    FINAL,
    HOT,
    HOT_DAYS,
    LOST,
    OVERDUE,
    PENDING,
    SELF_PER_HOUR,
    SELF_PER_MINUTE,
    SENDING,
    SENT,
    SKIPPED,
    Alert,
    Card,
    HotLead,
    alert_id,
    card_for,
    deliver_at,
    failed_try,
    hot_until,
    next_window,
    rate_windows,
)
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.replies import POSITIVE
from chalicelib.domain.signals import LOST as LOST_SIGNAL
from chalicelib.domain.signals import ORDER, REPLY, TASK_ESCALATED, Signal
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.touch_rules import rules_from_text
from chalicelib.errors import InvalidError, NotFoundError, SiyuError, WeComInvalidArgumentError
from chalicelib.observability import count, count_by, logger
from chalicelib.ports import Clock, WeComCredentials, WeComPort
from chalicelib.ports.alerts import AlertRepository, HotLeadRepository

TYPES = (REPLY, ORDER, LOST_SIGNAL, TASK_ESCALATED)  # what the alerts hear (wiring.py)
LEASE = timedelta(minutes=5)  # a sender's claim; a crashed sender's alert is due again after it
MAX_ATTEMPTS = 5
MAX_DUE = 100  # alerts sent per tenant per job run (the rest next run)


class AlertRepo(HotLeadRepository, AlertRepository, Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_staff(self, tenant_id: str, userid: str) -> Staff | None: ...
    def get_task(self, tenant_id: str, task_id: str) -> StaffTask | None: ...


@dataclass
class AlertReport:
    tenant_id: str
    sent: int = 0
    failed: int = 0  # tries that failed (retried later, or given up)
    skipped: int = 0
    more: bool = False  # stopped at the bound or the budget: the next run goes on


def agent_of(tenant: Tenant) -> int | None:
    """The tenant's self-built app id (``Tenant.agent_id``), None until configured (0)."""
    return tenant.agent_id if tenant.agent_id > 0 else None


class AlertService:
    def __init__(
        self,
        repo: AlertRepo,
        wecom: WeComPort,
        clock: Clock,
        *,
        console_url: str,
        hot_days: int = HOT_DAYS,
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.console_url = console_url
        self.hot_days = hot_days
        self.lease = lease
        self.max_attempts = max_attempts

    # --- signals ------------------------------------------------------------------------------------------------

    def on_signal(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
        """The bus's subscriber (TYPES): replies, orders, losses and escalations."""
        if signal.type == REPLY and signal.kind == POSITIVE and signal.ref:
            self.reply(tenant, subject_id, at=signal.at, ref=signal.ref)
        elif signal.type == ORDER:
            self.repo.clear_hot(tenant.tenant_id, subject_id, cleared_key=utc_key(signal.at))
        elif signal.type == LOST_SIGNAL:
            self.repo.clear_hot(tenant.tenant_id, subject_id, cleared_key=utc_key(self.clock.now()))
            if signal.kind == "lost" and signal.ref:  # the customer deleted them (not: staff deleted the customer)
                self.lost(tenant, subject_id, staff=signal.staff, ref=signal.ref)
        elif signal.type == TASK_ESCALATED:
            self.escalated(tenant, subject_id, owner=signal.staff, lead=signal.member)

    def reply(self, tenant: Tenant, customer_id: str, *, at: datetime, ref: str) -> Alert | None:
        """A positive reply: the customer is hot for ``hot_days`` (unless a newer fact says otherwise), and the
        owner hears it once. A repeat of the same reply finds the same hot state and the same alert."""
        customer = self.repo.get_customer(tenant.tenant_id, customer_id)
        until = hot_until(at, self.hot_days)
        if customer is None or until <= self.clock.now():
            return None
        zone = tenant.zone
        lead = HotLead(customer_id, customer.owner_userid, iso_of(at, zone), iso_of(until, zone), ref)
        if not self.repo.mark_hot(tenant.tenant_id, lead, hot_key=utc_key(at)):
            current = self.repo.get_hot(tenant.tenant_id, customer_id)
            if current is None or current.ref != ref:
                return None  # an older reply arriving late, or one an order already answered
        return self.raise_alert(tenant, HOT, customer.owner_userid, f"hot:{customer_id}:{ref}", customer_id=customer_id)

    def lost(self, tenant: Tenant, customer_id: str, *, staff: str | None, ref: str) -> Alert | None:
        userid = staff
        if not userid:
            customer = self.repo.get_customer(tenant.tenant_id, customer_id)
            userid = customer.owner_userid if customer else None
        if not userid:
            return None
        return self.raise_alert(tenant, LOST, userid, f"lost:{customer_id}:{ref}", customer_id=customer_id)

    def escalated(self, tenant: Tenant, task_id: str, *, owner: str | None, lead: str | None) -> list[Alert]:
        """The owner hears their task is overdue; the lead, that it was escalated to them."""
        made = []
        for role, userid in (("owner", owner), ("lead", lead)):
            if userid:
                alert = self.raise_alert(tenant, OVERDUE, userid, f"overdue:{task_id}:{role}", task_id=task_id)
                if alert is not None:
                    made.append(alert)
        return made

    # --- the outbox ---------------------------------------------------------------------------------------------

    def raise_alert(
        self,
        tenant: Tenant,
        kind: str,
        userid: str,
        dedupe_key: str,
        *,
        customer_id: str | None = None,
        task_id: str | None = None,
    ) -> Alert | None:
        """The alert of ``dedupe_key``, made once and sent at once unless the quiet hours defer it."""
        if agent_of(tenant) is None:
            count_by("AlertsSkipped", "reason", "no_agent")
            logger.info("alert not made: the tenant has no wecom agent_id", extra={"tenant": tenant.tenant_id})
            return None
        now = self.clock.now()
        zone = tenant.zone
        due = deliver_at(now, rules_from_text(tenant.touch_rules).quiet_hours, zone)
        alert = Alert(
            alert_id=alert_id(tenant.tenant_id, dedupe_key),
            kind=kind,
            userid=userid,
            dedupe_key=dedupe_key,
            due_at=iso_of(due, zone),
            created_at=iso_of(now, zone),
            customer_id=customer_id,
            task_id=task_id,
            deferred=due > now,
        )
        if self.repo.create_alert(tenant.tenant_id, alert):
            count_by("AlertsMade", "kind", kind)
        else:
            alert = self.repo.get_alert(tenant.tenant_id, alert.alert_id) or alert  # made before: as it is now
        if alert.status == PENDING and datetime.fromisoformat(alert.due_at) <= now:
            return self._send(tenant, alert, now) or alert
        return alert

    def run_due(self, tenant_id: str, *, stop: Callable[[], bool] | None = None) -> AlertReport:
        """Send the tenant's due alerts (deferred past the quiet hours, retried, or left by a crashed sender)."""
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        report = AlertReport(tenant_id)
        now = self.clock.now()
        due = self.repo.due_alerts(tenant_id, until_key=utc_key(now), limit=MAX_DUE + 1)
        for n, alert in enumerate(due):
            if n >= MAX_DUE or (stop is not None and stop()):
                report.more = True
                break
            done = self._send(tenant, alert, now)
            if done is None:
                continue
            if done.status == SENT:
                report.sent += 1
            elif done.status == SKIPPED:
                report.skipped += 1
            else:
                report.failed += 1
        return report

    def _send(self, tenant: Tenant, alert: Alert, now: datetime) -> Alert | None:
        """Claim, send, mark. None when another sender holds it (or it is final)."""
        tid, zone = tenant.tenant_id, tenant.zone
        if alert.status in FINAL:
            return None
        claimed = replace(alert, status=SENDING, lease_until=iso_of(now + self.lease, zone))
        if not self.repo.save_alert(tid, claimed, expected=alert):
            return None
        agent = agent_of(tenant)
        card = self._card(tenant, claimed)
        if agent is None or card is None:
            reason = "no_agent" if agent is None else "erased"
            return self._finish(tenant, claimed, replace(claimed, status=SKIPPED, reason=reason, lease_until=None))
        minute, hour = rate_windows(now)
        full = self.repo.take_alert_slot(
            tid, claimed.userid, minute=minute, hour=hour, per_minute=SELF_PER_MINUTE, per_hour=SELF_PER_HOUR
        )
        if full is not None:  # over the member's budget: WeCom would drop it; it waits for the next window
            count_by("AlertsDeferred", "window", full)
            later = iso_of(next_window(now, full), zone)
            deferred = replace(claimed, status=PENDING, due_at=later, lease_until=None, reason=full)
            return self._finish(tenant, claimed, deferred)
        try:
            result = self.wecom.send_app_message(
                WeComCredentials(tid, tenant.corp_id, tenant.wecom_secret),
                agent_id=agent,
                touser=claimed.userid,
                card=card,
                duplicate_check_interval=DUPLICATE_CHECK_MAX_SECONDS,
            )
        except SiyuError as exc:
            count_by("AlertsFailed", "code", exc.code)
            # WeCom refusing the request itself (81013: the member is outside the app's visible range) is not
            # retried: the same request would be refused again. Anything else may pass later.
            failed = failed_try(claimed, now=now, zone=zone, code=exc.code, max_attempts=self.max_attempts)
            if isinstance(exc, (InvalidError, WeComInvalidArgumentError)):
                failed = replace(failed, status=FAILED, due_at=claimed.due_at)
            return self._finish(tenant, claimed, failed)
        if claimed.userid.lower() in result.invalid_users:  # not a member the app can reach: no retry helps
            failed = replace(claimed, status=FAILED, reason="invalid_user", lease_until=None, msgid=result.msgid)
            return self._finish(tenant, claimed, failed)
        count_by("AlertsSent", "kind", claimed.kind)
        sent = replace(claimed, status=SENT, sent_at=iso_of(now, zone), msgid=result.msgid, lease_until=None)
        return self._finish(tenant, claimed, sent)

    def _finish(self, tenant: Tenant, claimed: Alert, alert: Alert) -> Alert:
        if not self.repo.save_alert(tenant.tenant_id, alert, expected=claimed):
            count("AlertsMarkLost")  # a sender whose lease ran out meanwhile; WeCom's duplicate check covers it
        logger.info(
            "alert",
            extra={
                "tenant": tenant.tenant_id,
                "alert": alert.alert_id,
                "kind": alert.kind,
                "status": alert.status,
                "reason": alert.reason or "",
                "deferred": alert.deferred,
            },
        )
        return alert

    def _card(self, tenant: Tenant, alert: Alert) -> Card | None:
        """The card, from the ids (None if its customer was erased). ``when``: the alert's making, so a resend
        of the same alert is the same request (WeCom's duplicate check compares requests)."""
        tid = tenant.tenant_id
        name, lead = "", ""
        if alert.customer_id:
            customer = self.repo.get_customer(tid, alert.customer_id)
            if customer is None:
                return None
            name = customer.name
        if alert.kind == OVERDUE and alert.dedupe_key.endswith(":lead") and alert.task_id:
            lead = self._owner_name(tid, alert.task_id) or "同事"
        made = datetime.fromisoformat(alert.created_at)
        when = f"{made.month}月{made.day}日 {made:%H:%M}"
        return card_for(alert, name=name, when=when, console_url=self.console_url, tenant_id=tid, lead=lead)

    def _owner_name(self, tenant_id: str, task_id: str) -> str:
        """The escalated task's owner as the lead knows them: their name, else their userid."""
        task = self.repo.get_task(tenant_id, task_id)
        if task is None:
            return ""
        staff = self.repo.get_staff(tenant_id, task.userid)
        return staff.name if staff is not None and staff.name else task.userid
