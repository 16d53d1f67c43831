"""Storage of the SOP runtime: enrollments of any subject kind and bulk enrollment jobs; with the bucket and touch
methods (touches.py) and the staff task methods (tasks.py) it makes ``SopStoreMixin``.

Every transition is a conditional write, so a fire that arrives twice or concurrently cannot move a touch twice.
Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- enrollment: ``<subject partition>`` / ``ENR#<plan_id>``; a customer's subject partition is the customer's own
  ``T#<tid>#C#<cid>`` (erasure deletes it with them), another kind's ``T#<tid>#S#<kind>#<id>``
- quota counter: ``T#<tid>#C#<cid>`` / ``F#<month end>#Q#<local month>``, a timeline item: ``take_quota`` is in
  adapters/dynamodb/timeline.py
- bulk job: ``T#<tid>#JOB#<job_id>`` / ``JOB``, while running in gsi1 at ``T#<tid>#JOBS`` / ``<job_id>``
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.sop_docs import enrollment_doc, enrollment_of
from chalicelib.adapters.dynamodb.sop_table import json_attr, string_attr
from chalicelib.adapters.dynamodb.tasks import TaskStoreMixin
from chalicelib.adapters.dynamodb.touches import TouchStoreMixin
from chalicelib.domain.sop import ACTIVE, CUSTOMER, Enrollment, Subject


def _enrollment(raw: dict[str, Any]) -> Enrollment:
    return enrollment_of(json.loads(raw["doc"]["S"]))


def _subject_pk(tenant_id: str, subject: Subject) -> str:
    return k.subject_pk(tenant_id, subject.kind, subject.id)


class SopStoreMixin(TouchStoreMixin, TaskStoreMixin):
    """SOP repository methods of DynamoStore (uses ``self.client``, ``self.table``)."""

    if TYPE_CHECKING:

        def _batch_get(
            self, keys: list[tuple[str, str]], *, consistent: bool = False
        ) -> dict[tuple[str, str], dict[str, Any]]: ...
        def _log_enrollment(self, tenant_id: str, e: Enrollment) -> None: ...
        def put_roster(self, tenant_id: str, enrollment: Enrollment) -> None: ...

    # --- enrollments ------------------------------------------------------------------------------------------

    def get_enrollment(self, tenant_id: str, customer_id: str, plan_id: str) -> Enrollment | None:
        """A customer's enrollment in a plan (strongly consistent)."""
        key = {
            "pk": string_attr(k.subject_pk(tenant_id, CUSTOMER, customer_id)),
            "sk": string_attr(k.enrollment_sk(plan_id)),
        }
        item = self.table_request("get_item", Key=key, ConsistentRead=True).get("Item")
        return _enrollment(item) if item else None

    def get_enrollments(self, tenant_id: str, customer_ids: list[str], plan_id: str) -> dict[str, Enrollment]:
        """Many customers' enrollments in one plan, by customer id."""
        found = self.subject_enrollments_in(tenant_id, [Subject.customer(cid) for cid in customer_ids], plan_id)
        return {subject.id: e for subject, e in found.items()}

    def subject_enrollments_in(
        self, tenant_id: str, subjects: list[Subject], plan_id: str
    ) -> dict[Subject, Enrollment]:
        """Many subjects' enrollments in one plan, strongly consistent, in BatchGetItem calls (the fire reads a page
        of touches' enrollments in a round trip or two instead of one GetItem each)."""
        keys = [(_subject_pk(tenant_id, s), k.enrollment_sk(plan_id)) for s in subjects]
        found = (_enrollment(raw) for raw in self._batch_get(keys, consistent=True).values())
        return {e.subject: e for e in found}

    def _log(self, tenant_id: str, e: Enrollment) -> None:
        if e.subject.kind == CUSTOMER:  # the customer's timeline (adapters/dynamodb/timeline.py)
            self._log_enrollment(tenant_id, e)

    def put_enrollment(self, tenant_id: str, enrollment: Enrollment, *, reentry: str) -> bool:
        """Start an enrollment unless the re-entry policy forbids it (False then): never = only the first time;
        after_completion = not while one is active; always = replace even an active one."""
        item = self._enrollment_item(tenant_id, enrollment)
        self.put_roster(tenant_id, enrollment)  # the plan's listing first (adapters/dynamodb/enrollments.py)
        if reentry == "always":
            self.table_request("put_item", Item=item)
            self._log(tenant_id, enrollment)
            return True
        cond = "attribute_not_exists(pk)"
        values: dict[str, Any] = {}
        if reentry == "after_completion":
            cond += " OR #st <> :active"
            values = {":active": string_attr(ACTIVE)}
        kwargs: dict[str, Any] = {"Item": item, "ConditionExpression": cond}
        if values:
            kwargs.update(ExpressionAttributeValues=values, ExpressionAttributeNames={"#st": "status"})
        if not self.conditional("put_item", **kwargs):
            return False
        self._log(tenant_id, enrollment)
        return True

    def end_enrollment(self, tenant_id: str, enrollment: Enrollment, *, status: str, reason: str, at: str) -> bool:
        """Active → completed/exited, only for that very enrollment (a later run is untouched)."""
        ended = replace(enrollment, status=status, exit_reason=reason, ended_at=at)
        if not self._put_if_active(tenant_id, enrollment, ended):
            return False
        self._log(tenant_id, ended)
        return True

    def repin_enrollment(self, tenant_id: str, enrollment: Enrollment, version: int) -> bool:
        """Move an active enrollment to another plan version (a migration), only if it is still that run."""
        return self._put_if_active(tenant_id, enrollment, replace(enrollment, version=version))

    def _put_if_active(self, tenant_id: str, enrollment: Enrollment, changed: Enrollment) -> bool:
        return self.conditional(
            "put_item",
            Item=self._enrollment_item(tenant_id, changed),
            ConditionExpression="#st = :active AND eid = :eid",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":active": string_attr(ACTIVE), ":eid": string_attr(enrollment.enrollment_id)},
        )

    @staticmethod
    def _enrollment_item(tenant_id: str, e: Enrollment) -> dict[str, Any]:
        return {
            "pk": string_attr(_subject_pk(tenant_id, e.subject)),
            "sk": string_attr(k.enrollment_sk(e.plan_id)),
            "kind": string_attr("enrollment"),
            "status": string_attr(e.status),
            "eid": string_attr(e.enrollment_id),
            "doc": json_attr(enrollment_doc(e)),
        }

    def enrollments_of(self, tenant_id: str, customer_id: str) -> list[Enrollment]:
        """Every enrollment of one customer (strongly consistent)."""
        return self.subject_enrollments(tenant_id, Subject.customer(customer_id))

    def subject_enrollments(self, tenant_id: str, subject: Subject) -> list[Enrollment]:
        resp = self.table_request(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={
                ":pk": string_attr(_subject_pk(tenant_id, subject)),
                ":p": string_attr(k.ENROLLMENT_PREFIX),
            },
            ConsistentRead=True,
        )
        return [_enrollment(i) for i in resp.get("Items", [])]

    # --- bulk enrollment jobs ---------------------------------------------------------------------------------

    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool:
        """Create a job, or save its next state only if it is still at the state before (``seq`` - 1): two
        workers never both advance a job, and a stale one can never rewrite a finished job."""
        item = {
            "pk": string_attr(k.job_pk(tenant_id, job["job_id"])),
            "sk": string_attr(k.JOB_SK),
            "kind": string_attr("job"),
            "seq": {"N": str(job["seq"])},
            "doc": json_attr(job),
        }
        if job.get("status") == "running":
            item.update(gsi1pk=string_attr(k.running_jobs_pk(tenant_id)), gsi1sk=string_attr(job["job_id"]))
        if create:
            return self.conditional("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)")
        return self.conditional(
            "put_item",
            Item=item,
            ConditionExpression="seq = :prev",
            ExpressionAttributeValues={":prev": {"N": str(job["seq"] - 1)}},
        )

    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        key = {"pk": string_attr(k.job_pk(tenant_id, job_id)), "sk": string_attr(k.JOB_SK)}
        item = self.table_request("get_item", Key=key, ConsistentRead=True).get("Item")
        return json.loads(item["doc"]["S"]) if item else None

    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]:
        resp = self.table_request(
            "query",
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": string_attr(k.running_jobs_pk(tenant_id))},
        )
        return [json.loads(i["doc"]["S"]) for i in resp.get("Items", [])]
