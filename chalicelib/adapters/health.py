"""Dependency checks for GET /health: each one cheap, bounded in time, and reporting latency."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.settings import Settings


class HealthChecker:
    def __init__(self, settings: Settings, store: Any) -> None:
        self.settings = settings
        self.store = store

    def _timed(self, check: Any) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            detail = check() or {}
            status = "ok"
        except Exception as exc:  # a health probe reports every failure instead of raising
            detail = {"error": type(exc).__name__}
            status = "down"
        return {"status": status, "latency_ms": round((time.perf_counter() - start) * 1000, 1), **detail}

    def _dynamodb(self) -> dict[str, Any]:
        desc = self.store.client.describe_table(TableName=self.settings.table_name)["Table"]
        return {"table": self.settings.table_name, "table_status": desc["TableStatus"]}

    def _scheduler(self) -> dict[str, Any]:
        import boto3

        client = boto3.client(
            "scheduler", region_name=self.settings.region, endpoint_url=self.settings.scheduler_endpoint
        )
        client.get_schedule_group(Name=self.settings.schedule_group)
        return {"group": self.settings.schedule_group}

    def _wecom(self) -> dict[str, Any]:
        import urllib3

        resp = urllib3.request(
            "GET", f"{self.settings.wecom_base_url}/cgi-bin/gettoken", timeout=urllib3.Timeout(total=2.0), retries=False
        )
        return {"http_status": resp.status}

    def check(self) -> dict[str, Any]:
        deps = {
            "dynamodb": self._timed(self._dynamodb),
            "scheduler": self._timed(self._scheduler),
            "wecom": self._timed(self._wecom),
        }
        overall = "ok" if all(d["status"] == "ok" for d in deps.values()) else "degraded"
        return {"status": overall, "stage": self.settings.stage, "dependencies": deps}
