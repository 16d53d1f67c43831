"""Channels (渠道活码 and referral codes); see docs/data-model.md.

Key: ``T#<tid>`` / ``CH#<channel_id>`` (``CH#ch…`` standard, ``CH#rf…`` referral). Beside the model's attributes
the item holds one string set ``full#<date>`` per day: the staff at their cap that day (an atomic ADD, so concurrent
caps never clash). Those names are data, so channel reads take the raw item.
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.operand import Path

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import ChannelItem, SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.channels import Channel
from chalicelib.ports import Page


def channel_from_raw(raw: dict[str, Any]) -> Channel:
    item = ChannelItem.from_raw_data(raw)
    full = {k.full_date_of(name): list(v["SS"]) for name, v in raw.items() if name.startswith(k.FULL_PREFIX)}
    return m.channel_from_raw(item.doc, int(item.version), full)


class ChannelRepository(DynamoBase):
    def create_channel(self, tenant_id: str, channel: Channel) -> None:
        with translate(f"channel {channel.channel_id} already exists"):
            m.channel_to_item(tenant_id, channel).save(condition=SiyuItem.pk.does_not_exist())

    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None:
        raw = self.get_raw(k.tenant_pk(tenant_id), k.channel_sk(channel_id))
        return channel_from_raw(raw) if raw else None

    def list_channels(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Page:
        prefix = k.channel_sk("rf" if kind == "referral" else "ch")
        raws, nxt = self.query_page(
            ChannelItem, k.tenant_pk(tenant_id), ChannelItem.sk.startswith(prefix), cursor=cursor, limit=limit
        )
        return Page([channel_from_raw(r) for r in raws], nxt)

    def put_channel(self, tenant_id: str, channel: Channel, *, expected_version: int) -> None:
        item = m.channel_to_item(tenant_id, channel)
        with translate(f"channel {channel.channel_id} changed concurrently; reload and retry"):
            # UpdateItem (not PutItem) keeps the per-day ``full#`` sets, which live outside the model.
            item.update(
                actions=[
                    ChannelItem.doc.set(item.doc),
                    ChannelItem.version.set(channel.version),
                    ChannelItem.kind.set(ChannelItem),
                ],
                condition=(ChannelItem.version == expected_version),
            )

    def delete_channel(self, tenant_id: str, channel_id: str) -> None:
        with translate():
            ChannelItem(pk=k.tenant_pk(tenant_id), sk=k.channel_sk(channel_id)).delete()

    def mark_channel_full(self, tenant_id: str, channel_id: str, userid: str, date: str) -> None:
        """Atomically add ``userid`` to the day's full set (a string-set ADD; concurrent caps never clash)."""
        with translate():
            ChannelItem(pk=k.tenant_pk(tenant_id), sk=k.channel_sk(channel_id)).update(
                actions=[Path(k.full_attr(date)).add({userid})],
                condition=SiyuItem.pk.exists(),
            )
