"""What the SOP storage modules share: attribute values, TTLs, and the one way they send a table request.

``table_request`` is the single place an SOP write or read reaches the low-level client (with error translation);
``conditional`` turns a failed condition into False — the expected "someone else did it" of every transition.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.errors import ConflictError


def string_attr(value: str) -> dict[str, str]:
    """A DynamoDB string attribute value."""
    return {"S": value}


def json_attr(data: dict[str, Any]) -> dict[str, str]:
    """A document stored as compact JSON in a string attribute (``doc``)."""
    return string_attr(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def ttl_after(iso_due: str, days: int) -> dict[str, str]:
    """An ``expires_at`` value ``days`` after an ISO instant."""
    return {"N": str(int((datetime.fromisoformat(iso_due) + timedelta(days=days)).timestamp()))}


def ttl_after_minute(minute: str, days: int) -> dict[str, str]:
    """An ``expires_at`` value ``days`` after a UTC minute ``YYYYMMDDHHMM``."""
    due = datetime.strptime(minute, "%Y%m%d%H%M").replace(tzinfo=UTC)
    return {"N": str(int((due + timedelta(days=days)).timestamp()))}


class SopTableMixin:
    """The request helpers of the SOP storage mixins (uses ``self.client``, ``self.table``)."""

    client: Any
    table: str

    def table_request(self, op: str, **kwargs: Any) -> Any:
        """One low-level request on the table (``op``: a client method such as ``put_item``), errors translated."""
        with translate():
            return getattr(self.client, op)(TableName=self.table, **kwargs)

    def conditional(self, op: str, **kwargs: Any) -> bool:
        """True if the write happened, False if its condition failed (the expected 'someone else did it')."""
        try:
            self.table_request(op, **kwargs)
        except ConflictError:
            return False
        return True
