"""Keys of the job log (the console's 任务进度): every bulk enrollment job and group sync of a tenant, newest first.

A job's item carries its log entry as gsi2 keys (``T#<tid>#JOBLOG`` / ``<started UTC>#<job_id>``): set when the job is
created and never changed, so a job's later saves write no index entry (gsi2 projects keys and ``kind`` only).
"""

from __future__ import annotations


def job_log_pk(tenant_id: str) -> str:
    """gsi2 partition of the tenant's jobs (bulk enrollments and group syncs)."""
    return f"T#{tenant_id}#JOBLOG"


def job_log_sk(started_utc: str, job_id: str) -> str:
    """A job's place in its tenant's log: by start (UTC key, sorts in time), then id."""
    return f"{started_utc}#{job_id}"
