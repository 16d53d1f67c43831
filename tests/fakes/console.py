"""In-memory console sign-in records, with ConsoleRepository's contract (adapters/dynamodb/console.py)."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.errors import ConflictError


class FakeConsoleStoreMixin:
    lock: Any

    def _console_records(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        if not hasattr(self, "_console_rows"):
            self._console_rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        return self._console_rows

    def put_console_record(
        self, tenant_id: str, kind: str, secret_hash: str, doc: dict[str, Any], expires_at: int
    ) -> None:
        with self.lock:
            rows = self._console_records()
            if (tenant_id, kind, secret_hash) in rows:
                raise ConflictError("this console record already exists")
            rows[(tenant_id, kind, secret_hash)] = copy.deepcopy(doc)

    def get_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> dict[str, Any] | None:
        with self.lock:
            doc = self._console_records().get((tenant_id, kind, secret_hash))
            return copy.deepcopy(doc) if doc is not None else None

    def take_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> dict[str, Any] | None:
        with self.lock:
            return self._console_records().pop((tenant_id, kind, secret_hash), None)

    def delete_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> None:
        with self.lock:
            self._console_records().pop((tenant_id, kind, secret_hash), None)
