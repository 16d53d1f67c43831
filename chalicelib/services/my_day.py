"""A staff member's day (「我的今天」): their tasks due today in the tenant's calendar, by due time; their follow-ups
(1:1 tasks, escalations) still open or done today; overdue tasks of the last week still waiting; and their hot leads.
And one task: read it, confirm it with a screenshot (proof), snooze it.

The day is a few Queries: the tasks index by owner and due range, the owner's hot-lead index, one BatchGet of the
customers named (the follow-ups', the hot leads', and those of any task for a single customer). A hot lead whose
customer has since moved to another owner, or was erased, is left out.

A proof is an image (PNG, JPEG, GIF or WebP by its bytes, at most 5 MB) kept in the blob store under the task
(``tasks/<task_id>/proof``, replaced by a later one); the task's ``proof_url`` is the console page that serves it,
to the task's owner and to ops only (``proof``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol

from chalicelib.domain.alerts import HOT_DAYS, HotLead
from chalicelib.domain.customers import Customer
from chalicelib.domain.instants import utc_key
from chalicelib.domain.sop import StaffTask
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import InvalidError, NotFoundError, UpstreamError
from chalicelib.ports import Clock, TaskRepository
from chalicelib.ports.alerts import HotLeadRepository
from chalicelib.ports.blobs import Blob, BlobStore

FOLLOW_UP_KINDS = frozenset({"follow_up", "escalation"})
WAITING = "created"  # nobody has acted on it yet (a confirmed or snoozed one is in hand)
LOOKBACK = timedelta(days=7)  # overdue tasks and open follow-ups from this far back still show
MAX_TASKS = 200
MAX_HOT = 50
MAX_PROOF_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = (  # what a proof's first bytes say it is (the browser's declared type is not trusted)
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class TaskActions(Protocol):
    """What a task page does through the staff task service (services/staff_tasks.py)."""

    def task(self, tenant_id: str, task_id: str, *, userid: str | None) -> StaffTask: ...
    def confirm(self, tenant_id: str, task_id: str, *, userid: str | None, proof_url: str | None) -> StaffTask: ...
    def snooze(self, tenant_id: str, task_id: str, *, userid: str | None, minutes: int) -> StaffTask: ...


class MyDayRepo(TaskRepository, HotLeadRepository, Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...


@dataclass(frozen=True)
class HotView:
    lead: HotLead
    customer: Customer


@dataclass(frozen=True)
class MyDay:
    """What the page shows; ``customers`` names the tasks' customers (a name is fine on the staff member's own page)."""

    date: str  # the tenant-local day
    tasks: list[StaffTask]  # mass and welcome tasks due today, by due time (done ones too: shown as done)
    follow_ups: list[StaffTask]  # 1:1 follow-ups and escalations: open ones of the last week, and today's
    overdue: list[StaffTask]  # mass tasks due before today, still not sent
    hot: list[HotView]
    customers: dict[str, Customer] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskView:
    task: StaffTask
    customers: list[Customer]  # the task's customers still on record, in its order (at most MAX_SHOWN)
    more: int  # how many more customers the task has


MAX_SHOWN = 50


def proof_path(tenant_id: str, task_id: str) -> str:
    """The console page that serves a task's proof (its ``proof_url``)."""
    return f"/console/{tenant_id}/tasks/{task_id}/proof"


def image_type(data: bytes) -> str | None:
    """The image type ``data`` is, by its first bytes; None if it is not an image a proof may be."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


class MyDayService:
    def __init__(
        self,
        repo: MyDayRepo,
        clock: Clock,
        tasks: TaskActions,
        blobs: BlobStore | None = None,
        *,
        lookback: timedelta = LOOKBACK,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.tasks = tasks
        self.blobs = blobs
        self.lookback = lookback

    def day(self, tenant_id: str, userid: str) -> MyDay:
        tenant = self.repo.get_tenant(tenant_id)
        if tenant is None:
            raise NotFoundError(f"tenant {tenant_id} does not exist")
        zone = tenant.zone
        now = self.clock.now()
        today = now.astimezone(zone).date()
        start = datetime.combine(today, time(0, 0), zone)
        end = datetime.combine(today + timedelta(days=1), time(0, 0), zone)
        # Today's tasks (all of them, done ones too), then the last week's still waiting: two bounded reads, so a
        # busy week never pushes today's tasks past the limit.
        todays = self.repo.list_tasks(
            tenant_id, userid=userid, status=None, due_from=utc_key(start), due_to=utc_key(end), limit=MAX_TASKS
        )
        earlier = self.repo.list_tasks(
            tenant_id,
            userid=userid,
            status=WAITING,
            due_from=utc_key(start - self.lookback),
            due_to=utc_key(start),
            limit=MAX_TASKS,
        )
        tasks = [t for t in todays if t.kind not in FOLLOW_UP_KINDS]
        follow_ups = [t for t in [*earlier, *todays] if t.kind in FOLLOW_UP_KINDS]
        overdue = [t for t in earlier if t.kind not in FOLLOW_UP_KINDS]
        leads = self.repo.hot_leads(tenant_id, userid, since_key=utc_key(now - timedelta(days=HOT_DAYS)), limit=MAX_HOT)
        # A task for one customer says who (a mass task of one is a customer's touch, e.g. a plan's first step).
        alone = {t.customer_ids[0] for t in [*tasks, *overdue] if len(t.customer_ids) == 1}
        named = {cid for t in follow_ups for cid in t.customer_ids} | alone | {h.customer_id for h in leads}
        customers = self.repo.get_customers(tenant_id, sorted(named)) if named else {}
        hot = [
            HotView(h, customers[h.customer_id])
            for h in leads
            if h.customer_id in customers
            and customers[h.customer_id].owner_userid == userid
            and datetime.fromisoformat(h.until) > now
        ]
        return MyDay(today.isoformat(), tasks, follow_ups, overdue, hot, customers)

    # --- one task ---------------------------------------------------------------------------------------------

    def task(self, tenant_id: str, task_id: str, *, userid: str | None) -> TaskView:
        """A task and its customers; a staff member (``userid``) sees only their own (404 otherwise)."""
        task = self.tasks.task(tenant_id, task_id, userid=userid)
        ids = list(task.customer_ids[:MAX_SHOWN])
        found = self.repo.get_customers(tenant_id, ids) if ids else {}
        return TaskView(task, [found[c] for c in ids if c in found], max(len(task.customer_ids) - MAX_SHOWN, 0))

    def confirm_with_proof(
        self, tenant_id: str, task_id: str, *, userid: str | None, data: bytes, content_type: str = ""
    ) -> StaffTask:
        """Confirm the task with a screenshot: the image is kept under the task, then the task is confirmed with
        the console URL that serves it. A staff member confirms only their own task."""
        self.tasks.task(tenant_id, task_id, userid=userid)  # theirs, before anything is stored
        if not data:
            raise InvalidError("请上传发送成功的截图作为凭证。", details=[{"path": "/proof", "message": "required"}])
        kind = image_type(data)
        if kind is None or len(data) > MAX_PROOF_BYTES:
            raise InvalidError(
                "截图须为 PNG、JPEG、GIF 或 WebP 图片，且不超过 5 MB。",
                details=[{"path": "/proof", "message": "an image of at most 5 MB"}],
            )
        if self.blobs is None:
            raise UpstreamError("no blob store is configured: proofs cannot be kept")
        self.blobs.put(tenant_id, f"tasks/{task_id}/proof", data, kind)
        return self.tasks.confirm(tenant_id, task_id, userid=userid, proof_url=proof_path(tenant_id, task_id))

    def snooze(self, tenant_id: str, task_id: str, *, userid: str | None, minutes: int) -> StaffTask:
        if not 1 <= minutes <= 10080:
            raise InvalidError(
                "稍后提醒须在 1 分钟到 7 天之间。", details=[{"path": "/minutes", "message": "1..10080"}]
            )
        return self.tasks.snooze(tenant_id, task_id, userid=userid, minutes=minutes)

    def proof(self, tenant_id: str, task_id: str, *, userid: str | None) -> Blob:
        """A task's proof image, for its owner (``userid``) or ops (None); 404 for anyone else or without one."""
        task = self.tasks.task(tenant_id, task_id, userid=userid)
        blob = None
        if self.blobs is not None and task.proof_url == proof_path(tenant_id, task_id):
            blob = self.blobs.get(tenant_id, f"tasks/{task_id}/proof")
        if blob is None:
            raise NotFoundError(f"task {task_id} has no proof")
        return blob
