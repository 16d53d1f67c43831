"""Bulk enrollment jobs: one item each, saved only from the state before, and in gsi1 while running.

Keys (docs/data-model.md, "SOP engine"; built in keys.py):
- bulk job: ``T#<tid>#JOB#<job_id>`` / ``JOB`` (``JobItem``), while running in gsi1 at ``T#<tid>#JOBS`` /
  ``<job_id>``
- the job log (bulk jobs and group syncs, newest first): gsi2 at ``T#<tid>#JOBLOG`` / ``<started UTC>#<job_id>``
  (keys/jobs.py), written with the job and never moved
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import JobItem, SiyuItem
from chalicelib.adapters.dynamodb.sop_table import dump
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.instants import utc_key

LOGGED = ("job", "group_sync")  # the items in the log, by their kind (models.py: JobItem, GroupSyncItem)


class JobRepository(DynamoBase):
    def put_job(self, tenant_id: str, job: dict[str, Any], *, create: bool = False) -> bool:
        """Create a job, or save its next state only if it is still at the state before (``seq`` - 1): two
        workers never both advance a job, and a stale one can never rewrite a finished job."""
        item = JobItem(pk=k.job_pk(tenant_id, job["job_id"]), sk=k.JOB_SK, seq=job["seq"], doc=dump(job))
        item.gsi2pk, item.gsi2sk = log_keys(tenant_id, job)
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

    def recent_jobs(self, tenant_id: str, *, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """The tenant's latest ``limit`` jobs (bulk enrollments and metrics rebuilds: "job"; group syncs:
        "group_sync"), newest first, as (item kind, job): one Query of the log's keys, then the jobs by key
        (eventually consistent, as the index is)."""
        with translate():
            page: dict[str, Any] = next(
                SiyuItem.gsi2.query(
                    k.job_log_pk(tenant_id), scan_index_forward=False, page_size=limit, limit=limit
                ).page_iter
            )
        keys = [(raw["pk"]["S"], raw["sk"]["S"]) for raw in page.get("Items", [])]
        found = self.batch_get(keys)
        jobs: list[tuple[str, dict[str, Any]]] = []
        for key in keys:
            raw = found.get(key)
            kind = raw.get("kind", {}).get("S") if raw else None
            if raw is not None and kind in LOGGED:
                doc = raw.get("doc", {}).get("S") or "{}"
                jobs.append((kind, json.loads(doc)))
        return jobs


def log_keys(tenant_id: str, job: dict[str, Any]) -> tuple[str, str]:
    """A job's gsi2 keys in its tenant's log, from its start (``started_at``, ISO with offset) and id."""
    started = job.get("started_at") or ""
    return k.job_log_pk(tenant_id), k.job_log_sk(
        utc_key(datetime.fromisoformat(started)) if started else "", job["job_id"]
    )


def _job(item: JobItem) -> dict[str, Any]:
    job: dict[str, Any] = json.loads(item.doc or "{}")
    return job
