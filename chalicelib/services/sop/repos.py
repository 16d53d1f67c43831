"""What the SOP kernel, migration and bulk enrollment need from storage (DynamoStore / FakeStore), per concern."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.sop import SCHEDULED, Bucket, Enrollment, Subject, Touch
from chalicelib.domain.tenants import Tenant
from chalicelib.ports import TaskRepository
from chalicelib.services.sop.content import ContentSource


class BucketRepo(Protocol):
    def register_bucket(self, tenant_id: str, bucket: Bucket) -> bool: ...
    def reopen_bucket(self, tenant_id: str, bucket: Bucket) -> None: ...
    def get_bucket(self, tenant_id: str, bucket_id: str) -> Bucket | None: ...
    def drain_bucket(self, tenant_id: str, bucket_id: str) -> None: ...
    def open_buckets(self, tenant_id: str, *, day: str, until_minute: str) -> list[Bucket]: ...
    def feed_bucket(self, tenant_id: str, bucket_id: str, *, feeder: str) -> None: ...
    def plan_buckets(self, tenant_id: str, plan_id: str, version: int, *, from_minute: str) -> list[Bucket]: ...


class TouchRepo(Protocol):
    def add_touch(self, tenant_id: str, touch: Touch) -> bool: ...
    def touches_in(self, tenant_id: str, bucket_id: str, *, state: str | None = SCHEDULED) -> list[Touch]: ...
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
    ) -> bool: ...
    def still_scheduled(self, tenant_id: str, bucket_id: str, touches: list[Touch]) -> list[Touch]:
        """Those of ``touches`` (listed earlier, by a fire's coordinator) still scheduled now."""
        ...


class SubjectEnrollments(Protocol):
    """Enrollments of any subject kind, each in its subject's partition."""

    def subject_enrollments_in(
        self, tenant_id: str, subjects: list[Subject], plan_id: str
    ) -> dict[Subject, Enrollment]: ...
    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool: ...
    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool: ...
    def repin_enrollment(self, tenant_id: str, enrollment: Enrollment, version: int) -> bool: ...
    def subject_enrollments(self, tenant_id: str, subject: Subject) -> list[Enrollment]: ...


class DeliveryRepo(TouchRepo, TaskRepository, ContentSource, Protocol):
    """Staff tasks with their claims, the msgid claims and the leases (adapters/dynamodb/delivery.py), and the group
    content a step sends (content.py)."""

    def claim_msgid(self, tenant_id: str, msgid: str, task_id: str, *, at: str) -> bool: ...
    def take_lease(self, tenant_id: str, name: str, owner: str, *, now: datetime, hold: timedelta) -> bool: ...
    def release_lease(self, tenant_id: str, name: str, owner: str) -> None: ...


class KernelRepo(BucketRepo, DeliveryRepo, SubjectEnrollments, Protocol):
    """Everything the kernel stores: buckets, touches, enrollments (to end them) and staff tasks."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...


class MigrationRepo(BucketRepo, TouchRepo, SubjectEnrollments, Protocol):
    """A migration walks a version's buckets, moves touches and re-pins enrollments."""


class JobRepo(Protocol):
    """Bulk enrollment jobs: created once, advanced by a conditional step counter."""

    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool: ...
    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...
    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]: ...
