"""Tag taxonomy administration, mirrored to WeCom corp tags (staff see the same tags in their client)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.channels import ChannelTag
from chalicelib.domain.tags import MAX_TAGS_PER_TENANT, Tag, TagGroup, Taxonomy, check_tag_name, with_tag
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.ports import Clock, IdGenerator, TagRepository, WeComCredentials, WeComPort


def _creds(tenant: Tenant) -> WeComCredentials:
    return WeComCredentials(tenant_id=tenant.tenant_id, corp_id=tenant.corp_id, secret=tenant.wecom_secret)


class TagService:
    def __init__(self, repo: TagRepository, wecom: WeComPort, clock: Clock, ids: IdGenerator) -> None:
        self.repo = repo
        self.wecom = wecom
        self.clock = clock
        self.ids = ids

    def taxonomy(self, tenant_id: str) -> Taxonomy:
        return self.repo.taxonomy(tenant_id)

    def create_group(self, tenant: Tenant, *, name: str, exclusive: bool, tags: list[str]) -> TagGroup:
        name = check_tag_name(name)
        names = [check_tag_name(t) for t in tags]
        if len(set(names)) != len(names):
            raise InvalidError("tag names within a group must be unique")
        taxonomy = self.repo.taxonomy(tenant.tenant_id)
        if taxonomy.group_named(name) is not None:
            raise ConflictError(f"tag group {name} already exists")
        self._check_room(taxonomy, len(names))
        group = TagGroup(
            group_id=self.ids.new_id("tg_"),
            name=name,
            exclusive=exclusive,
            tags=tuple(Tag(self.ids.new_id("t_"), n) for n in names),
            created_at=self.clock.now().isoformat(timespec="seconds"),
        )
        if names:
            group = self._mirror(tenant, group)
        self.repo.put_tag_group(tenant.tenant_id, group)
        return group

    def add_tag(self, tenant: Tenant, group_id: str, name: str) -> TagGroup:
        name = check_tag_name(name)
        taxonomy = self.repo.taxonomy(tenant.tenant_id)
        group = self._group(taxonomy, group_id)
        if group.find(name) is not None:
            raise ConflictError(f"tag {name} already exists in {group.name}")
        self._check_room(taxonomy, 1)
        group = self._mirror(tenant, with_tag(group, Tag(self.ids.new_id("t_"), name)))
        self.repo.put_tag_group(tenant.tenant_id, group)
        return group

    def delete_group(self, tenant: Tenant, group_id: str) -> None:
        group = self._group(self.repo.taxonomy(tenant.tenant_id), group_id)
        if group.wecom_group_id:
            self.wecom.del_corp_tags(_creds(tenant), tag_ids=[], group_ids=[group.wecom_group_id])
        self.repo.delete_tag_group(tenant.tenant_id, group_id)

    def delete_tag(self, tenant: Tenant, group_id: str, tag_id: str) -> TagGroup:
        group = self._group(self.repo.taxonomy(tenant.tenant_id), group_id)
        tag = next((t for t in group.tags if t.tag_id == tag_id), None)
        if tag is None:
            raise NotFoundError(f"tag {tag_id} does not exist in group {group_id}")
        if tag.wecom_id:
            self.wecom.del_corp_tags(_creds(tenant), tag_ids=[tag.wecom_id], group_ids=[])
        group = replace(group, tags=tuple(t for t in group.tags if t.tag_id != tag_id))
        self.repo.put_tag_group(tenant.tenant_id, group)
        return group

    def resolve(self, tenant: Tenant, refs: list[Any]) -> tuple[ChannelTag, ...]:
        """Turn tag references (a tag id, or {group, name}) into mirrored tags, creating named ones if missing.

        Channels store the result, so intake tags customers without reading the taxonomy."""
        taxonomy = self.repo.taxonomy(tenant.tenant_id)
        stored = {g.group_id: g for g in taxonomy.groups}
        wanted: list[tuple[str, str]] = []  # (group_id, tag name)
        for ref in refs:
            if isinstance(ref, str):
                wanted.append((taxonomy.group_of(ref).group_id, taxonomy.tag(ref).name))
                continue
            group_name, tag_name = check_tag_name(ref["group"]), check_tag_name(ref["name"])
            group = taxonomy.group_named(group_name) or TagGroup(
                group_id=self.ids.new_id("tg_"),
                name=group_name,
                created_at=self.clock.now().isoformat(timespec="seconds"),
            )
            if group.find(tag_name) is None:
                self._check_room(taxonomy, 1)
                group = with_tag(group, Tag(self.ids.new_id("t_"), tag_name))
            taxonomy = Taxonomy((*(g for g in taxonomy.groups if g.group_id != group.group_id), group))
            wanted.append((group.group_id, tag_name))
        ready: dict[str, TagGroup] = {}
        result: list[ChannelTag] = []
        for group_id, name in dict.fromkeys(wanted):
            if group_id not in ready:
                current = next(g for g in taxonomy.groups if g.group_id == group_id)
                ready[group_id] = self._mirror(tenant, current)
                if ready[group_id] != stored.get(group_id):
                    self.repo.put_tag_group(tenant.tenant_id, ready[group_id])
            group = ready[group_id]
            tag = group.find(name)
            if tag is None:  # pragma: no cover - the loop above added it
                raise NotFoundError(f"tag {name} vanished from {group.name}")
            result.append(ChannelTag(tag_id=tag.tag_id, group=group.name, name=tag.name, wecom_id=tag.wecom_id))
        return tuple(result)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _mirror(self, tenant: Tenant, group: TagGroup) -> TagGroup:
        """Create the group's unmirrored tags as WeCom corp tags and keep their ids."""
        missing = [t.name for t in group.tags if not t.wecom_id]
        if not missing:
            return group
        corp = self.wecom.add_corp_tags(_creds(tenant), group_name=group.name, tag_names=missing)
        tags = tuple(replace(t, wecom_id=t.wecom_id or corp.tags.get(t.name, "")) for t in group.tags)
        return replace(group, tags=tags, wecom_group_id=corp.group_id)

    @staticmethod
    def _group(taxonomy: Taxonomy, group_id: str) -> TagGroup:
        group = next((g for g in taxonomy.groups if g.group_id == group_id), None)
        if group is None:
            raise NotFoundError(f"tag group {group_id} does not exist")
        return group

    @staticmethod
    def _check_room(taxonomy: Taxonomy, more: int) -> None:
        if taxonomy.count() + more > MAX_TAGS_PER_TENANT:
            raise InvalidError(f"WeCom allows at most {MAX_TAGS_PER_TENANT} corp tags per corp")
