"""The dashboard's links (issue 11 §4); see docs/data-model.md, "Dashboard links".

Key: ``T#<tid>`` / ``DASHLINK#<sha256 of the key>`` (``DashboardLinkItem``), beside the tenant's tokens; the link in
``doc``; ``expires_at`` (TTL) at its expiry, so DynamoDB deletes it some time after. The service judges expiry by
its clock, never by the item's presence: TTL deletion lags by up to days.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.metric_models import DashboardLinkItem
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.dashboard import DashboardLink


class DashboardLinkRepository(DynamoBase):
    def put_dashboard_link(self, link: DashboardLink) -> None:
        """A new link; never overwrites one with the same hash (ConflictError)."""
        data = asdict(link)
        item = DashboardLinkItem(
            pk=k.tenant_pk(link.tenant_id),
            sk=k.dashboard_link_sk(link.link_hash),
            doc=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            expires_at=datetime.fromtimestamp(link.expires_at, UTC),
        )
        with translate("this dashboard link already exists"):
            item.save(condition=SiyuItem.pk.does_not_exist())

    def get_dashboard_link(self, tenant_id: str, link_hash: str) -> DashboardLink | None:
        """Strongly consistent: a link made a moment ago opens at once (someone taps it as soon as it is sent)."""
        item = self.get(DashboardLinkItem, k.tenant_pk(tenant_id), k.dashboard_link_sk(link_hash), consistent=True)
        return DashboardLink(**json.loads(item.doc)) if item is not None and item.doc else None

    def list_dashboard_links(self, tenant_id: str) -> list[DashboardLink]:
        """Every link the tenant's partition still holds (expired ones until TTL deletes them), in hash order."""
        items, _ = self.query(
            DashboardLinkItem, k.tenant_pk(tenant_id), DashboardLinkItem.sk.startswith(k.DASHBOARD_LINK_PREFIX)
        )
        return [DashboardLink(**json.loads(i.doc)) for i in items if i.doc]

    def delete_dashboard_link(self, tenant_id: str, link_hash: str) -> None:
        """Remove a link (revoked: it answers 403 from the next request on); removing a missing one does nothing."""
        with translate():
            DashboardLinkItem(pk=k.tenant_pk(tenant_id), sk=k.dashboard_link_sk(link_hash)).delete()
