"""The in-memory job log: bulk enrollment jobs and group syncs newest first, as the DynamoDB store's gsi2 log reads
them (adapters/dynamodb/jobs.py ``recent_jobs``)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.instants import utc_key


class FakeJobLogMixin:
    lock: Any

    if TYPE_CHECKING:  # the stores of the other mixins (sop.py: bulk jobs; group_members.py: group syncs)

        def _sop(self) -> dict[str, Any]: ...
        def _gm(self) -> dict[str, Any]: ...

    def recent_jobs(self, tenant_id: str, *, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """(kind, job) newest first by start, then by id, as the log's sort key orders them."""
        with self.lock:
            bulk = [("job", dict(j)) for (t, _), j in self._sop().setdefault("jobs", {}).items() if t == tenant_id]
            syncs = [("group_sync", copy.deepcopy(j)) for (t, _), j in self._gm()["jobs"].items() if t == tenant_id]

        def order(entry: tuple[str, dict[str, Any]]) -> tuple[str, str]:
            started = entry[1].get("started_at") or ""
            return utc_key(datetime.fromisoformat(started)) if started else "", str(entry[1]["job_id"])

        return sorted(bulk + syncs, key=order, reverse=True)[:limit]
