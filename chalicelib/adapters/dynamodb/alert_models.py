"""The item types of the hot leads and the alerts outbox (issue 13), beside models.py (kept under its size).
Imported with the store, so ``models.configure`` gives them the shared connection as it does every SiyuItem."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.adapters.dynamodb.models import SiyuItem


class HotLeadItem(SiyuItem, discriminator="hot_lead"):
    """A customer's hot state: ``hot_key`` when a positive reply made it hot, ``cleared_key`` when an order took it
    off the list (gsi1 keys removed); the rest (owner, until, ref) in ``doc``."""

    hot_key = UnicodeAttribute()
    cleared_key = UnicodeAttribute(null=True)


class AlertItem(SiyuItem, discriminator="alert"):
    """An alert in the outbox: ``status`` is what every write is conditional on; the alert itself in ``doc``."""

    status = UnicodeAttribute()


class AlertRateItem(SiyuItem, discriminator="alert_rate"):
    """How many alerts one member got in one calendar minute or hour (``n``)."""

    n = NumberAttribute(null=True)
