"""Plan storage (SOP plans and their versions). Mixed into DynamoStore; see docs/data-model.md."""

from __future__ import annotations


class PlanStoreMixin:
    """Plan repository methods of DynamoStore (uses ``self.client``, ``self.table`` and ``self.connection``)."""
