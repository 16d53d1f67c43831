"""Storage errors onto the SiyuError tree, in one module every repository imports (no import-on-use shims)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError

from chalicelib.errors import ConflictError, UpstreamError


def is_condition_failure(exc: BaseException) -> bool:
    if isinstance(exc, TransactWriteError):
        reasons = exc.cancellation_reasons or []
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code == "ConditionalCheckFailedException"
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    return False


class translate:
    """Context manager mapping storage exceptions onto the SiyuError tree (branching on codes, never text)."""

    def __init__(self, conflict: str = "the item changed or already exists") -> None:
        self.conflict = conflict

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or not isinstance(exc, PynamoDBException | ClientError | BotoCoreError):
            return
        if isinstance(exc, DoesNotExist):  # an answer ("no such item"), not a failure: the caller handles it
            return
        if is_condition_failure(exc):
            raise ConflictError(self.conflict) from exc
        raise UpstreamError("the database request failed") from exc
