"""Staff task status from WeCom, and escalation of overdue tasks to the staff member's lead.

A confirm-to-send task is ``created`` once WeCom answered ``add_msg_template`` with a msgid; it is sent only when the
staff member confirms it in their WeCom client. The sync asks WeCom (``get_groupmsg_task`` for the staff member's
status, ``get_groupmsg_send_result`` for each customer's outcome, both cursor-paginated) and records ``sent`` with
``sent_at``, the counts {sent, not_sent, not_friend, limit_hit} and each customer's outcome.

A task still not sent ``escalate_after`` (default 120 minutes) after its due time — or after its snooze ends, as a
snooze moves the due time — escalates once to the staff member's lead (``Staff.lead_userid``): the task records
``escalated_to``/``escalated_at`` and the lead gets an ``escalation`` task whose id is derived from the task's id,
so however often or concurrently the job runs there is one lead task. Without a (distinct, active) lead the
escalation is recorded with ``escalated_to`` None. A lead task closes itself (``done``) once the original is sent
or confirmed. Follow-up tasks escalate the same way; escalation tasks do not escalate further.

Every task that is not final is checked: ``created`` and ``confirmed`` alike (a staff member confirming in Siyu does
not make WeCom send anything, so a confirmed task is polled until WeCom reports it sent). A task leaves the sync
when WeCom reports it sent, or when it expires: ``window`` (7 days) after its due time it is no longer polled. Only
``created`` tasks escalate; a confirmed one is the staff member's word that it is in hand.

Bounded work: at most ``max_tasks`` tasks per tenant per run (and the job's time budget), walking the open tasks of
the last ``window`` by due time from a per-tenant cursor, so a backlog is covered over successive runs.
Every write is conditional on the status read, so concurrent runs and staff actions do not clobber each other's
status changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.customers import Customer, customer_id_for
from chalicelib.domain.instants import iso_of, utc_key
from chalicelib.domain.signals import TASK_ESCALATED, TASK_SENT, Signal
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.staff import Staff
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import NotFoundError, RateLimitedError, SiyuError, WeComAuthError, WeComRateLimitError
from chalicelib.observability import logger
from chalicelib.ports import Clock, SignalPublisher, TaskRepository, WeComCredentials, WeComPort
from chalicelib.ports.moments import MomentsPort
from chalicelib.services.moment_sync import MomentSync
from chalicelib.services.signals import NoSignals
from chalicelib.services.sop.moments import MOMENT_TASK

PENDING = "created"  # not confirmed by anyone yet: the status that escalates
CONFIRMED = "confirmed"  # confirmed in Siyu by hand: still polled until WeCom reports it sent
OPEN = (PENDING, CONFIRMED)  # what the sync walks; sent, done and failed are final
ESCALATE_AFTER = timedelta(minutes=120)
SYNC_WINDOW = timedelta(days=7)  # created tasks due earlier than this are no longer polled
MAX_TASKS = 200  # per tenant per run
MAX_PAGES = 50  # a WeCom cursor that never ends stops here (10,000 customers are 10 pages of 1,000)

# Errors that would fail every other task of the tenant too (45009/45033, bad secret, IP not trusted): stop its run.
STOP_ERRORS = (RateLimitedError, WeComRateLimitError, WeComAuthError)
# get_groupmsg_task: per-staff status. 1 ("confirmed") is taken as in progress: neither sent nor overdue.
STAFF_NOT_SENT, STAFF_CONFIRMED, STAFF_SENT = 0, 1, 2
# get_groupmsg_send_result: per-customer status → the count it adds to.
CUSTOMER_STATUS = {0: "not_sent", 1: "sent", 2: "not_friend", 3: "limit_hit"}


class TaskSyncRepo(TaskRepository, Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_staff(self, tenant_id: str, userid: str) -> Staff | None: ...
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_task_sync_cursor(self, tenant_id: str) -> str | None: ...
    def put_task_sync_cursor(self, tenant_id: str, cursor: str | None) -> None: ...


@dataclass
class SyncReport:
    tenant_id: str
    checked: int = 0  # tasks looked at
    sent: int = 0  # newly recorded as sent in WeCom
    escalated: int = 0  # escalations recorded (with or without a lead task)
    lead_tasks: int = 0  # lead tasks created
    resolved: int = 0  # lead tasks closed because the original was sent or confirmed
    errors: int = 0  # tasks WeCom could not tell about this time (retried next run)
    more: bool = False  # stopped at the bound: the next run resumes at the cursor


def escalation_task_id(task_id: str) -> str:
    """The lead task's id: one per escalated task, whoever creates it."""
    return f"es_{hashlib.sha256(task_id.encode()).hexdigest()[:24]}"


def _index_key(task: StaffTask) -> str:
    """The task's position in the tasks index (``<due UTC>#<task_id>``), which is what list_tasks orders by."""
    return f"{utc_key(datetime.fromisoformat(task.due_at))}#{task.task_id}"


def _creds(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant.tenant_id, tenant.corp_id, tenant.wecom_secret)


class TaskSyncService:
    def __init__(
        self,
        repo: TaskSyncRepo,
        wecom: WeComPort,
        clock: Clock,
        *,
        escalate_after: timedelta = ESCALATE_AFTER,
        max_tasks: int = MAX_TASKS,
        window: timedelta = SYNC_WINDOW,
        signals: SignalPublisher | None = None,
        moments: MomentsPort | None = None,
    ) -> None:
        self.signals: SignalPublisher = signals or NoSignals()  # task_sent, for the metrics
        moments = moments if moments is not None else wecom if isinstance(wecom, MomentsPort) else None
        self.moment_sync = MomentSync(repo, wecom, moments) if moments is not None else None
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.escalate_after = escalate_after
        self.max_tasks = max_tasks
        self.window = window

    def run(self, tenant_id: str, *, stop: Callable[[], bool] | None = None) -> SyncReport:
        """Sync and escalate up to ``max_tasks`` open tasks of one tenant, resuming where the last run stopped.
        ``stop`` (the job's time budget) ends the run early; the cursor keeps the place."""
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        report = SyncReport(tenant_id)
        now = self.clock.now()
        floor = utc_key(now - self.window)
        cursor = self.repo.get_task_sync_cursor(tenant_id)
        start = cursor if cursor and cursor > floor else floor
        batch = self._open_tasks(tenant_id, start)
        next_cursor = None
        for n, task in enumerate(batch):
            if n >= self.max_tasks or (stop is not None and stop()):
                next_cursor, report.more = _index_key(task), True
                break
            try:
                self._visit(tenant, task, now, report)
            except STOP_ERRORS as exc:  # slow down, or the corp's config is broken: resume with this task next run
                report.errors += 1
                next_cursor, report.more = _index_key(task), True
                logger.warning(
                    "task sync stopped for the tenant",
                    extra={"tenant": tenant_id, "task": task.task_id, "code": exc.code},
                )
                break
            except SiyuError as exc:  # this task only (e.g. an unknown msgid): the others go on
                report.errors += 1
                logger.warning("task sync failed", extra={"tenant": tenant_id, "task": task.task_id, "code": exc.code})
        if next_cursor != cursor:
            self.repo.put_task_sync_cursor(tenant_id, next_cursor)
        return report

    def _open_tasks(self, tenant_id: str, start: str) -> list[StaffTask]:
        """The first ``max_tasks + 1`` open tasks from ``start`` in index order: one filtered listing per open
        status, merged (the index orders by due time, so the merge is that order too)."""
        rows = [
            (_index_key(task), task)
            for status in OPEN
            for task in self.repo.list_tasks(
                tenant_id, userid=None, status=status, due_from=start, due_to=None, limit=self.max_tasks + 1
            )
        ]
        rows.sort(key=lambda row: row[0])
        return [task for _, task in rows[: self.max_tasks + 1]]

    # --- one task ---------------------------------------------------------------------------------------------

    def _visit(self, tenant: Tenant, task: StaffTask, now: datetime, report: SyncReport) -> None:
        report.checked += 1
        if task.kind == "escalation":
            self._settle(tenant, task, report)
            return
        if task.kind == MOMENT_TASK:  # a Moments post (moment_sync.py): published → its customers' outcomes
            rows = self.moment_sync.published(tenant, task) if self.moment_sync and task.msgid else None
            if rows is not None:
                self._record(tenant, task, rows, 0, now, report)
                return
        elif task.msgid:
            status, send_time = self._staff_status(tenant, task)
            if status == STAFF_SENT:
                self._record_sent(tenant, task, send_time, now, report)
                return
            if status != STAFF_NOT_SENT:
                return  # the staff member is sending it: not overdue
        if task.status == PENDING and self._overdue(task, now):
            self._escalate(tenant, task, now, report)

    def _staff_status(self, tenant: Tenant, task: StaffTask) -> tuple[int, int]:
        """The executor's (status, send_time) in get_groupmsg_task; (0, 0) if WeCom does not list them."""
        msgid = task.msgid or ""
        rows = _pages(
            lambda cursor: self.wecom.get_groupmsg_task(_creds(tenant), msgid=msgid, cursor=cursor), "task_list"
        )
        for row in rows:
            if row.get("userid") == task.userid:
                return int(row.get("status") or 0), int(row.get("send_time") or 0)
        return STAFF_NOT_SENT, 0

    def _record_sent(self, tenant: Tenant, task: StaffTask, send_time: int, now: datetime, report: SyncReport) -> None:
        msgid = task.msgid or ""
        self._record(tenant, task, self._send_result(tenant, task, msgid), send_time, now, report)

    def _send_result(self, tenant: Tenant, task: StaffTask, msgid: str) -> list[tuple[str, int]]:
        return [
            (str(row.get("external_userid") or ""), int(row.get("status") or 0))
            for row in _pages(
                lambda cursor: self.wecom.get_groupmsg_send_result(
                    _creds(tenant), msgid=msgid, userid=task.userid, cursor=cursor
                ),
                "send_list",
            )
        ]

    def _record(
        self,
        tenant: Tenant,
        task: StaffTask,
        rows: list[tuple[str, int]],
        send_time: int,
        now: datetime,
        report: SyncReport,
    ) -> None:
        """The task is sent: its counts and each customer's outcome (by external_userid and status code)."""
        counts = dict.fromkeys(CUSTOMER_STATUS.values(), 0)
        for _ext, status in rows:
            if status in CUSTOMER_STATUS:
                counts[CUSTOMER_STATUS[status]] += 1
        by_customer = dict(zip(task.customer_ids, self._outcomes(tenant, task, rows), strict=True))
        sent_at = iso_of(datetime.fromtimestamp(send_time, UTC) if send_time else now, tenant.zone)
        # Re-read, so a snooze or escalation written meanwhile is kept; a manual confirmation becomes ``sent`` too.
        # Outcomes go by the re-read recipients: one erased meanwhile must not shift the others' (by position).
        for _ in range(3):
            current = self.repo.get_task(tenant.tenant_id, task.task_id)
            if current is None or current.status not in OPEN:
                return  # a concurrent run recorded it already
            outcomes = "".join(by_customer.get(cid, "-") for cid in current.customer_ids)
            sent = replace(
                current, status="sent", sent_at=sent_at, results={**current.results, **counts}, outcomes=outcomes
            )
            if self.repo.save_task(tenant.tenant_id, sent, expected_status=current.status):
                report.sent += 1
                told = Signal(TASK_SENT, now, ref=sent.task_id, since=sent.created(), count=len(sent.customer_ids))
                self.signals.publish(tenant, sent.userid, told)
                if sent.escalated_at:
                    self._close_lead_task(tenant, sent, report)
                return

    def _outcomes(self, tenant: Tenant, task: StaffTask, rows: list[tuple[str, int]]) -> str:
        """One outcome character per task customer. A customer's id derives from the digest of its first
        external_userid (as intake makes it), so most map without a read; the rest (merged customers with a second
        external_userid) are looked up among the task's customers not mapped yet."""
        position = {cid: i for i, cid in enumerate(task.customer_ids)}
        codes = ["-"] * len(task.customer_ids)
        unmapped: list[tuple[str, int]] = []
        for ext, status in rows:
            i = position.get(customer_id_for(tenant.hmac_hex("ext:" + ext)))
            if i is None:
                unmapped.append((ext, status))
            else:
                codes[i] = _code(status)
        if unmapped:
            by_ext: dict[str, int] = {}
            for i, cid in enumerate(task.customer_ids):
                if codes[i] != "-":
                    continue
                customer = self.repo.get_customer(tenant.tenant_id, cid)
                if customer is not None:
                    for ext in (customer.external_userid, *customer.external_userids):
                        by_ext.setdefault(ext, i)
            for ext, status in unmapped:
                if ext in by_ext:
                    codes[by_ext[ext]] = _code(status)
        return "".join(codes)

    # --- escalation -------------------------------------------------------------------------------------------

    def _overdue(self, task: StaffTask, now: datetime) -> bool:
        """Not escalated yet and ``escalate_after`` past its due time and past the end of any snooze."""
        if task.escalated_at:
            return False
        since = datetime.fromisoformat(task.due_at)
        if task.snoozed_until:
            since = max(since, datetime.fromisoformat(task.snoozed_until))
        return now >= since + self.escalate_after

    def _escalate(self, tenant: Tenant, task: StaffTask, now: datetime, report: SyncReport) -> None:
        """The lead task first (its id makes it once), then the mark on the task: a crash in between is repaired by
        the next run, which finds the lead task there and only marks."""
        tid = tenant.tenant_id
        at = iso_of(now, tenant.zone)
        lead = self._lead_of(tid, task.userid)
        lead_task_id = escalation_task_id(task.task_id)
        if lead is not None:
            overdue = int((now - datetime.fromisoformat(task.due_at)) / timedelta(minutes=1))
            if self.repo.create_task(
                tid,
                StaffTask(
                    task_id=lead_task_id,
                    userid=lead.userid,
                    kind="escalation",
                    status=PENDING,
                    due_at=at,
                    created_at=at,
                    recipients=task.recipients,
                    recipient_kind=task.recipient_kind,
                    text=task.text,
                    notes=f"升级提醒：{task.userid} 的任务 {task.task_id} 逾期 {overdue} 分钟仍未发送，请跟进。",
                    plan_id=task.plan_id,
                    step_id=task.step_id,
                    bucket_id=task.bucket_id,
                    reason="overdue",
                    parent_task_id=task.task_id,
                ),
            ):
                report.lead_tasks += 1
        for _ in range(3):
            current = self.repo.get_task(tid, task.task_id)
            if current is None or current.status != PENDING:
                if lead is not None:  # done meanwhile: the lead has nothing to chase
                    self._close_lead_task(tenant, current or task, report)
                return
            if current.escalated_at:
                return  # a concurrent run marked it
            marked = replace(current, escalated_to=lead.userid if lead else None, escalated_at=at)
            if self.repo.save_task(tid, marked, expected_status=PENDING):
                report.escalated += 1
                # Told once, by the run whose mark won: the alerts reach the owner and the lead in WeCom.
                escalated = Signal(
                    TASK_ESCALATED, now, ref=task.task_id, kind=task.kind, staff=task.userid, member=marked.escalated_to
                )
                self.signals.publish(tenant, task.task_id, escalated)
                logger.info(
                    "task escalated",
                    extra={
                        "tenant": tid,
                        "task": task.task_id,
                        "lead": marked.escalated_to or "",
                        "has_lead": bool(lead),
                    },
                )
                return

    def _lead_of(self, tenant_id: str, userid: str) -> Staff | None:
        """The staff member's lead, if there is one who can act on it (known, active, not themselves)."""
        staff = self.repo.get_staff(tenant_id, userid)
        if staff is None or not staff.lead_userid or staff.lead_userid == userid:
            return None
        lead = self.repo.get_staff(tenant_id, staff.lead_userid)
        return lead if lead is not None and lead.active else None

    def _settle(self, tenant: Tenant, lead_task: StaffTask, report: SyncReport) -> None:
        """An open lead task whose original is no longer pending is done."""
        parent = self.repo.get_task(tenant.tenant_id, lead_task.parent_task_id or "")
        if parent is not None and parent.status == PENDING:
            return
        reason = f"resolved:{parent.status if parent else 'gone'}"
        if self.repo.save_task(
            tenant.tenant_id, replace(lead_task, status="done", reason=reason), expected_status=PENDING
        ):
            report.resolved += 1

    def _close_lead_task(self, tenant: Tenant, task: StaffTask, report: SyncReport) -> None:
        lead_task = self.repo.get_task(tenant.tenant_id, escalation_task_id(task.task_id))
        if lead_task is not None and lead_task.status == PENDING:
            self._settle(tenant, lead_task, report)


def _code(status: int) -> str:
    return str(status) if status in CUSTOMER_STATUS else "-"


def _pages(fetch: Callable[[str], dict[str, Any]], key: str) -> Iterator[dict[str, Any]]:
    """Rows of a WeCom cursor-paginated list, following next_cursor (bounded, and never around a loop)."""
    cursor, seen = "", set()
    for _ in range(MAX_PAGES):
        page = fetch(cursor)
        yield from page.get(key) or []
        cursor = str(page.get("next_cursor") or "")
        if not cursor or cursor in seen:
            return
        seen.add(cursor)
