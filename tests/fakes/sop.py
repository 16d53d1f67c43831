"""In-memory SOP runtime store with the same conditional semantics as the DynamoDB SOP repositories (enrollments,
jobs, touches, staff tasks)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.timeline import touch_entry
from chalicelib.domain.instants import utc_key
from chalicelib.domain.sop import (
    ACTIVE,
    CUSTOMER,
    DROPPED,
    SCHEDULED,
    SKIPPED,
    Bucket,
    Enrollment,
    StaffTask,
    Subject,
    Touch,
)
from chalicelib.domain.timeline import Entry, touch_suffix
from chalicelib.errors import InvalidError
from chalicelib.ports import Page
from tests.fakes.enrollments import _cursor_in, _cursor_out


def subject_key(subject: Subject) -> str:
    """How the fake keys a subject's enrollments: a customer by its id (as the customer fakes expect)."""
    return subject.id if subject.kind == CUSTOMER else subject.key


def _enrollment_key(tenant_id: str, e: Enrollment) -> tuple[str, str, str]:
    return (tenant_id, subject_key(e.subject), e.plan_id)


class FakeSopStoreMixin:
    lock: Any

    if TYPE_CHECKING:  # FakeEnrollmentStoreMixin, FakeTimelineStoreMixin

        def put_roster(self, tenant_id: str, enrollment: Enrollment) -> None: ...
        def put_entry(
            self, tenant_id: str, customer_id: str, suffix: str, entry: Entry, *, once: bool = False
        ) -> bool: ...
        def log_enrollment(self, tenant_id: str, e: Enrollment) -> None: ...
        def _quota_entry(self, tenant_id: str, customer_id: str, month: str, touch: Touch, last: bool) -> None: ...
        def _quota_has(self, tenant_id: str, customer_id: str, month: str, touch: Touch, last: bool) -> bool: ...

    def _sop(self) -> dict[str, dict[Any, Any]]:
        if not hasattr(self, "_sop_state"):
            self._sop_state: dict[str, dict[Any, Any]] = {
                "enrollments": {},
                "buckets": {},
                "open": {},
                "touches": {},
                "feeders": {},
                "caps": {},
                "tasks": {},
            }
        return self._sop_state

    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None:
        return self._sop()["enrollments"].get((tenant_id, customer_id, plan_id))

    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]:
        found = self.subject_enrollments_in(tenant_id, [Subject.customer(cid) for cid in customer_ids], plan_id)
        return {subject.id: e for subject, e in found.items()}

    def subject_enrollments_in(
        self, tenant_id: str, subjects: list[Subject], plan_id: str
    ) -> dict[Subject, Enrollment]:
        found = {s: self._sop()["enrollments"].get((tenant_id, subject_key(s), plan_id)) for s in subjects}
        return {s: e for s, e in found.items() if e is not None}

    def _keep(self, tenant_id: str, run: Enrollment) -> None:
        """As EnrollmentRepository: a customer's run replaced by a re-entry keeps its start (if none is there) and
        its exit as real timeline entries; otherwise the enrollment renders them itself."""
        if run.subject.kind == CUSTOMER:
            self.log_enrollment(tenant_id, replace(run, status=ACTIVE))
            if run.status != ACTIVE:
                self.log_enrollment(tenant_id, run)

    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool:
        self.put_roster(tenant_id, enrollment)  # as the real store: the plan's listing first
        with self.lock:
            key = _enrollment_key(tenant_id, enrollment)
            current = self._sop()["enrollments"].get(key)
            if reentry == "never" and current is not None:
                return False
            if reentry == "after_completion" and current is not None and current.status == ACTIVE:
                return False
            self._sop()["enrollments"][key] = enrollment
            if current is not None and current.enrollment_id != enrollment.enrollment_id:
                self._keep(tenant_id, current)
            return True

    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool:
        with self.lock:
            key = _enrollment_key(tenant_id, enrollment)
            current = self._sop()["enrollments"].get(key)
            if current is None or current.status != ACTIVE or current.enrollment_id != enrollment.enrollment_id:
                return False
            self._sop()["enrollments"][key] = replace(enrollment, status=status, exit_reason=reason, ended_at=at)
            return True

    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]:
        return self.subject_enrollments(tenant_id, Subject.customer(customer_id))

    def subject_enrollments(self, tenant_id: str, subject: Subject) -> list[Enrollment]:
        key = subject_key(subject)
        return [e for (t, c, _), e in self._sop()["enrollments"].items() if t == tenant_id and c == key]

    def register_bucket(self, tenant_id: str, bucket: Bucket) -> bool:
        with self.lock:
            if (tenant_id, bucket.bucket_id) in self._sop()["buckets"]:
                return False
            self._sop()["buckets"][(tenant_id, bucket.bucket_id)] = bucket
            self._sop()["open"][(tenant_id, bucket.bucket_id)] = bucket
            return True

    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]:
        return sorted(
            (
                b
                for (t, _), b in self._sop()["buckets"].items()
                if t == tenant_id and b.plan_id == plan_id and b.version == version and b.minute >= from_minute
            ),
            key=lambda b: (b.minute, b.step_id),
        )

    def repin_enrollment(self, tenant_id: str, enrollment: Enrollment, version: int) -> bool:
        with self.lock:
            key = _enrollment_key(tenant_id, enrollment)
            current = self._sop()["enrollments"].get(key)
            if current is None or current.status != ACTIVE or current.enrollment_id != enrollment.enrollment_id:
                return False
            self._sop()["enrollments"][key] = replace(current, version=version)
            if version != enrollment.version and enrollment.subject.kind == CUSTOMER:
                self.log_enrollment(tenant_id, replace(enrollment, status=ACTIVE))  # its start keeps its version
            return True

    def reopen_bucket(self, tenant_id: str, bucket: Bucket) -> None:
        self._sop()["open"][(tenant_id, bucket.bucket_id)] = bucket

    def get_bucket(self, tenant_id: str, bucket_id: str) -> Bucket | None:
        return self._sop()["buckets"].get((tenant_id, bucket_id))

    def drain_bucket(self, tenant_id: str, bucket_id: str) -> None:
        self._sop()["open"].pop((tenant_id, bucket_id), None)

    def open_buckets(self, tenant_id: str, *, day: str, until_minute: str) -> list[Bucket]:
        return sorted(
            (
                b
                for (t, _), b in self._sop()["open"].items()
                if t == tenant_id and b.minute[:8] == day and b.minute <= until_minute
            ),
            key=lambda b: (b.minute, b.bucket_id),
        )

    def feed_bucket(self, tenant_id: str, bucket_id: str, *, feeder: str) -> None:
        with self.lock:
            assert (tenant_id, bucket_id) in self._sop()["buckets"], "feed_bucket needs a registered bucket"
            self._sop()["feeders"].setdefault((tenant_id, bucket_id), set()).add(feeder)

    def add_touch(self, tenant_id: str, touch: Touch) -> bool:
        with self.lock:
            key = (tenant_id, touch.bucket_id, touch.key)
            if key in self._sop()["touches"]:
                return False
            self._sop()["touches"][key] = touch
            return True

    def _implied(self, tenant_id: str, bucket_id: str) -> dict[str, Touch]:
        """Touches implied in ``bucket_id`` by sent touches of its feeders and not written there yet."""
        bucket = self._sop()["buckets"].get((tenant_id, bucket_id))
        out: dict[str, Touch] = {}
        if bucket is None:
            return out
        for feeder in sorted(self._sop()["feeders"].get((tenant_id, bucket_id), ())):
            for (tid, b, _), t in list(self._sop()["touches"].items()):
                if tid == tenant_id and b == feeder and t.next_bucket == bucket_id:
                    implied = t.implied_next(bucket.step_id)
                    if (tenant_id, bucket_id, implied.key) not in self._sop()["touches"]:
                        out[implied.key] = implied
        return out

    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = SCHEDULED) -> list[Touch]:
        written = [t for (tid, b, _), t in self._sop()["touches"].items() if tid == tenant_id and b == bucket_id]
        return sorted(
            (
                t
                for t in written + list(self._implied(tenant_id, bucket_id).values())
                if state is None or t.state == state
            ),
            key=lambda t: t.key,
        )

    def still_scheduled(self, tenant_id: str, bucket_id: str, touches: list[Touch]) -> list[Touch]:
        stored = self._sop()["touches"]
        return [
            t for t in touches if getattr(stored.get((tenant_id, bucket_id, t.key)), "state", SCHEDULED) == SCHEDULED
        ]

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
        next_executor: str | None = None,
    ) -> bool:
        with self.lock:
            key = (tenant_id, touch.bucket_id, touch.key)
            current = self._sop()["touches"].get(key)
            if current is None and from_state == SCHEDULED:
                current = touch  # not written yet (an implied touch): this write creates it, as DynamoDB's does
            if current is None or current.state != from_state:
                return False
            self._sop()["touches"][key] = replace(
                current,
                state=to_state,
                task_id=task_id or current.task_id,
                reason=reason,
                next_bucket=next_bucket,
                next_due=next_due,
                next_executor=next_executor,
            )
            if to_state in (SKIPPED, DROPPED) and touch.subject.kind == CUSTOMER:
                entry = touch_entry(touch, to_state, reason)
                suffix = touch_suffix(f"{touch.subject.id}#{touch.occurrence_key}")
                self.put_entry(tenant_id, touch.subject.id, suffix, entry)
            return True

    def take_quota(
        self,
        tenant_id: str,
        customer_id: str,
        *,
        month: str,
        day_key: str | None,
        day_cap: int | None,
        month_cap: int | None,
        touch: Touch | None = None,
        last: bool = False,
    ) -> str | None:
        with self.lock:
            if touch is not None and self._quota_has(tenant_id, customer_id, month, touch, last):
                return None  # counted already (as DynamoDB's condition on the month's records)
            row = self._sop()["caps"].setdefault((tenant_id, customer_id, month), {})
            if month_cap is not None and row.get("m", 0) >= month_cap:
                return "monthly_limit"
            if day_key is not None and day_cap is not None and row.get(day_key, 0) >= day_cap:
                return "cap"
            if month_cap is not None:  # None: a Moments post, no mass message
                row["m"] = row.get("m", 0) + 1
            if day_key is not None and day_cap is not None:
                row[day_key] = row.get(day_key, 0) + 1
            if touch is not None:
                self._quota_entry(tenant_id, customer_id, month, touch, last)
            return None

    def create_task(self, tenant_id: str, task: StaffTask) -> bool:
        with self.lock:
            if (tenant_id, task.task_id) in self._sop()["tasks"]:
                return False
            self._sop()["tasks"][(tenant_id, task.task_id)] = task
            return True

    def get_task(self, tenant_id: str, task_id: str) -> StaffTask | None:
        return self._sop()["tasks"].get((tenant_id, task_id))

    def save_task(self, tenant_id: str, task: StaffTask, *, expected_status: str, recipients: bool = False) -> bool:
        with self.lock:
            current = self._sop()["tasks"].get((tenant_id, task.task_id))
            if current is None or current.status != expected_status:
                return False
            if not recipients:  # as in DynamoDB: the recipients change only when the caller says so
                task = replace(task, recipients=current.recipients)
            self._sop()["tasks"][(tenant_id, task.task_id)] = task
            return True

    def get_task_sync_cursor(self, tenant_id: str) -> str | None:
        cursor: str | None = self._sop().setdefault("task_sync", {}).get(tenant_id)
        return cursor

    def put_task_sync_cursor(self, tenant_id: str, cursor: str | None) -> None:
        self._sop().setdefault("task_sync", {})[tenant_id] = cursor

    def list_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        limit: int,
    ) -> list[StaffTask]:
        return [task for _, task in self._task_rows(tenant_id, userid, status, due_from, due_to)][:limit]

    def page_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """As the real store: due order, an opaque cursor bound to the tenant's tasks index, None when done."""
        scope = f"{tenant_id}#TASKS"
        after = _cursor_in(cursor, scope)
        if after and not (due_from or "0") <= after <= (due_to or "~"):
            raise InvalidError("cursor is not valid")  # as DynamoDB: a start key outside the range asked for
        rows = [r for r in self._task_rows(tenant_id, userid, status, due_from, due_to) if not after or r[0] > after]
        page = rows[:limit]
        more = len(rows) > limit
        return Page([task for _, task in page], _cursor_out(scope, page[-1][0]) if more and page else None)

    def _task_rows(
        self, tenant_id: str, userid: str | None, status: str | None, due_from: str | None, due_to: str | None
    ) -> list[tuple[str, StaffTask]]:
        """The tenant's tasks matching the filters, by index key (``<due UTC>#<task_id>``)."""
        rows = []
        for (t, _), task in self._sop()["tasks"].items():
            key = f"{utc_key(datetime.fromisoformat(task.due_at))}#{task.task_id}"
            if t != tenant_id or (userid and task.userid != userid) or (status and task.status != status):
                continue
            if (due_from and key < due_from) or (due_to and key > due_to):
                continue
            rows.append((key, task))
        return sorted(rows, key=lambda r: r[0])

    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool:
        with self.lock:
            jobs = self._sop().setdefault("jobs", {})
            current = jobs.get((tenant_id, job["job_id"]))
            if create and current is not None:
                return False
            if not create and (current is None or current["seq"] != job["seq"] - 1):
                return False
            jobs[(tenant_id, job["job_id"])] = dict(job)
            return True

    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        job = self._sop().setdefault("jobs", {}).get((tenant_id, job_id))
        return dict(job) if job else None

    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]:
        return [
            dict(j)
            for (t, _), j in self._sop().setdefault("jobs", {}).items()
            if t == tenant_id and j.get("status") == "running"
        ]
