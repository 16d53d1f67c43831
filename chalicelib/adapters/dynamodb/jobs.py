"""Bulk enrollment jobs: one item each, saved only from the state before, and in gsi1 while running.

Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- bulk job: ``T#<tid>#JOB#<job_id>`` / ``JOB`` (``JobItem``), while running in gsi1 at ``T#<tid>#JOBS`` /
  ``<job_id>``
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import JobItem, SiyuItem
from chalicelib.adapters.dynamodb.sop_table import dump
from chalicelib.adapters.dynamodb.translate import translate


class JobRepository(DynamoBase):
    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool:
        """Create a job, or save its next state only if it is still at the state before (``seq`` - 1): two
        workers never both advance a job, and a stale one can never rewrite a finished job."""
        item = JobItem(pk=k.job_pk(tenant_id, job["job_id"]), sk=k.JOB_SK, seq=job["seq"], doc=dump(job))
        if job.get("status") == "running":
            item.gsi1pk, item.gsi1sk = k.running_jobs_pk(tenant_id), job["job_id"]
        cond = SiyuItem.pk.does_not_exist() if create else JobItem.seq == job["seq"] - 1
        return self.conditional(lambda: item.save(condition=cond))

    def get_job(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        """A job as last saved (strongly consistent), or None."""
        item = self.get(JobItem, k.job_pk(tenant_id, job_id), k.JOB_SK, consistent=True)
        return _job(item) if item else None

    def running_jobs(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's running jobs (the index is sparse: a finished job leaves it)."""
        with translate():
            return [_job(i) for i in SiyuItem.gsi1.query(k.running_jobs_pk(tenant_id)) if isinstance(i, JobItem)]


def _job(item: JobItem) -> dict[str, Any]:
    job: dict[str, Any] = json.loads(item.doc or "{}")
    return job
