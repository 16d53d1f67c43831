"""The console's storage port (issue 13 §1): sign-in records kept under the hash of their secret."""

from __future__ import annotations

from typing import Any, Protocol


class ConsoleRepository(Protocol):
    def put_console_record(
        self, tenant_id: str, kind: str, secret_hash: str, doc: dict[str, Any], expires_at: int
    ) -> None:
        """Store a new record; one with the same hash is a ConflictError (never overwritten)."""
        ...

    def get_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> dict[str, Any] | None:
        """The record, expired or not (the caller judges expiry by its clock); strongly consistent."""
        ...

    def take_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> dict[str, Any] | None:
        """Remove the record and answer it, once: of two concurrent takes, one gets it and the other None."""
        ...

    def delete_console_record(self, tenant_id: str, kind: str, secret_hash: str) -> None:
        """Remove the record (signing out); removing a missing one does nothing."""
        ...
