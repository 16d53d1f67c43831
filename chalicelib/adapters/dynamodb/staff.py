"""Staff members, the tag taxonomy, and the staff-day counters; see docs/data-model.md.

Keys: a staff member ``T#<tid>`` / ``STAFF#<userid>``; a tag group ``T#<tid>`` / ``TAGGROUP#<group_id>``; a staff
member's day counters ``T#<tid>#ST#<userid>`` / ``D#<local date>`` (numeric attributes named by what they count,
written by the customer repository inside an event's transaction).
"""

from __future__ import annotations

from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.models import CounterItem, SiyuItem, StaffItem, TagGroupItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import TagGroup, Taxonomy


class StaffRepository(DynamoBase):
    """Staff members and their day counters."""

    def create_staff(self, tenant_id: str, staff: Staff) -> None:
        with translate(f"staff {staff.userid} already exists"):
            m.staff_to_item(tenant_id, staff).save(condition=SiyuItem.pk.does_not_exist())

    def put_staff(self, tenant_id: str, staff: Staff) -> None:
        with translate():
            m.staff_to_item(tenant_id, staff).save()

    def get_staff(self, tenant_id: str, userid: str) -> Staff | None:
        item = self.get(StaffItem, k.tenant_pk(tenant_id), k.staff_sk(userid))
        return m.staff_from_item(item) if item else None

    def list_staff(self, tenant_id: str) -> list[Staff]:
        items, _ = self.query(StaffItem, k.tenant_pk(tenant_id), StaffItem.sk.startswith(k.STAFF_PREFIX))
        return [m.staff_from_item(i) for i in items]

    def delete_staff(self, tenant_id: str, userid: str) -> None:
        with translate():
            StaffItem(pk=k.tenant_pk(tenant_id), sk=k.staff_sk(userid)).delete()

    def rename_counter(self, tenant_id: str, userid: str, date: str, old: str, new: str) -> bool:
        """Fold a staff-day counter attribute into another (a legacy ``c#rf_<cid>`` into ``c#rf_erased``): one
        UpdateItem, only while the old attribute is there, so a repeat changes nothing."""
        item = CounterItem(pk=k.staff_day_pk(tenant_id, userid), sk=k.staff_day_sk(date))
        actions: list[Action] = [Path(new).set((Path(new) | 0) + Path(old)), Path(old).remove()]
        return self.conditional(lambda: item.update(actions=actions, condition=Path(old).exists()))


class TagRepository(DynamoBase):
    """The tenant's tag taxonomy: one item per tag group."""

    def taxonomy(self, tenant_id: str) -> Taxonomy:
        items, _ = self.query(TagGroupItem, k.tenant_pk(tenant_id), TagGroupItem.sk.startswith(k.TAG_GROUP_PREFIX))
        return Taxonomy(groups=tuple(m.tag_group_from_item(i) for i in items))

    def put_tag_group(self, tenant_id: str, group: TagGroup) -> None:
        with translate():
            m.tag_group_to_item(tenant_id, group).save()

    def delete_tag_group(self, tenant_id: str, group_id: str) -> None:
        with translate():
            TagGroupItem(pk=k.tenant_pk(tenant_id), sk=k.tag_group_sk(group_id)).delete()
