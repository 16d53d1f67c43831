"""Domain objects ↔ PynamoDB items. The only place that knows how an entity is laid out in the table."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, fields
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.models import (
    AliasItem,
    ChannelItem,
    CustomerItem,
    FactItem,
    StaffItem,
    TagGroupItem,
    TenantItem,
    TokenItem,
)
from chalicelib.domain.channels import Assignment, Channel, ChannelTag, message_from_json, message_to_json
from chalicelib.domain.customers import Attribution, Customer, Merge, Relation, Stage
from chalicelib.domain.facts import Alias, Fact
from chalicelib.domain.instants import utc_key
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import Tag, TagGroup
from chalicelib.domain.tenants import Role, Tenant, TokenRecord


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _load(doc: str | None) -> dict[str, Any]:
    return json.loads(doc) if doc else {}


# --- tenants and tokens -----------------------------------------------------------------------------------------


SECRETS_VERSION = "secrets_version"  # in a tenant's doc: the SSM version of its credentials; absent = inline (legacy)


def tenant_to_item(t: Tenant, *, secrets_version: int | None = None) -> TenantItem:
    """With ``secrets_version`` the item names the secret store's version and holds no credential."""
    data = asdict(t.without_secrets() if secrets_version is not None else t)
    if secrets_version is not None:
        data[SECRETS_VERSION] = secrets_version
    return TenantItem(
        pk=k.tenant_pk(t.tenant_id), sk=k.TENANT_SK, gsi1pk=k.TENANTS_GSI_PK, gsi1sk=t.tenant_id, doc=_dump(data)
    )


def tenant_from_item(item: Any) -> tuple[Tenant, int | None]:
    """The tenant as stored, and the secret store's version of its credentials (None: they are in the item)."""
    data = _load(item.doc)
    version = data.pop(SECRETS_VERSION, None)
    return Tenant(**data), (int(version) if version is not None else None)


def token_to_item(r: TokenRecord) -> TokenItem:
    data = asdict(r)
    data["role"] = r.role.value
    last_used = data.pop("last_used") or None  # top-level: record_token_use updates it conditionally
    return TokenItem(pk=k.tenant_pk(r.tenant_id), sk=k.token_sk(r.token_hash), doc=_dump(data), last_used=last_used)


def token_from_item(item: Any) -> TokenRecord:
    data = _load(item.doc)
    data["role"] = Role(data["role"])
    data["last_used"] = int(item.last_used or 0)
    return TokenRecord(**data)


# --- staff, tags, channels --------------------------------------------------------------------------------------


def staff_to_item(tenant_id: str, s: Staff) -> StaffItem:
    return StaffItem(pk=k.tenant_pk(tenant_id), sk=k.staff_sk(s.userid), doc=_dump(asdict(s)))


def staff_from_item(item: Any) -> Staff:
    return Staff(**_load(item.doc))


def tag_group_to_item(tenant_id: str, g: TagGroup) -> TagGroupItem:
    return TagGroupItem(pk=k.tenant_pk(tenant_id), sk=k.tag_group_sk(g.group_id), doc=_dump(asdict(g)))


def tag_group_from_item(item: Any) -> TagGroup:
    data = _load(item.doc)
    data["tags"] = tuple(Tag(**t) for t in data.get("tags", []))
    return TagGroup(**data)


def channel_to_item(tenant_id: str, c: Channel) -> ChannelItem:
    data = asdict(c)
    data["assignment"]["userids"] = list(c.assignment.userids)
    data["welcome"] = message_to_json(c.welcome)
    data.pop("version")
    data.pop("full")
    data.pop("full_date")
    return ChannelItem(pk=k.tenant_pk(tenant_id), sk=k.channel_sk(c.channel_id), doc=_dump(data), version=c.version)


def channel_from_raw(doc: str | None, version: int, full: dict[str, list[str]]) -> Channel:
    data = _load(doc)
    a = data.pop("assignment")
    data["assignment"] = Assignment(
        mode=a["mode"],
        userids=tuple(a["userids"]),
        backup_userid=a.get("backup_userid"),
        daily_caps=dict(a.get("daily_caps") or {}),
    )
    data["welcome"] = message_from_json(data.get("welcome"))
    data["tags"] = tuple(ChannelTag(**t) for t in data.get("tags", []))
    latest = max(full) if full else ""
    return Channel(**data, version=version, full_date=latest, full=tuple(sorted(full.get(latest, []))))


# --- customers, facts, aliases ----------------------------------------------------------------------------------

_CUSTOMER_SCALARS = ("stage", "owner_userid", "source_channel_id", "added_at", "tags", "version")


_CUSTOMER_DEFAULTS = {f.name: f.default for f in fields(Customer) if f.default is not MISSING}
_RELATION_DEFAULTS = {"ended_at": None, "reason": None}


def customer_to_item(tenant_id: str, c: Customer) -> CustomerItem:
    """A customer in under 1 KB (one write unit): defaults are left out of ``doc`` and the primary external id is
    not repeated in every relation. Listed through gsi2 (keys only), so only its creation writes an index entry."""
    data = asdict(c)
    for name in (*_CUSTOMER_SCALARS, "customer_id"):
        data.pop(name)
    data["stage_before_lost"] = c.stage_before_lost.value if c.stage_before_lost else None
    if list(c.external_userids) == [c.external_userid]:
        data.pop("external_userids")
    for rel in data["relations"]:
        if rel["external_userid"] == c.external_userid:
            del rel["external_userid"]
        for key, default in _RELATION_DEFAULTS.items():
            if rel[key] == default:
                del rel[key]
    doc = {k: v for k, v in data.items() if k not in _CUSTOMER_DEFAULTS or _jsonish(v) != _default_json(k)}
    return CustomerItem(
        pk=k.customer_pk(tenant_id, c.customer_id),
        sk=k.PROFILE_SK,
        gsi2pk=k.customers_gsi_pk(tenant_id),
        gsi2sk=k.customers_gsi_sk(utc_key(datetime.fromisoformat(c.added_at)), c.customer_id),
        stage=c.stage.value,
        owner_userid=c.owner_userid,
        source_channel_id=c.source_channel_id,
        added_at=c.added_at,
        tags=set(c.tags) or None,
        version=c.version,
        doc=_dump(doc),
    )


def _jsonish(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | frozenset) else value


def _default_json(name: str) -> Any:
    default = _CUSTOMER_DEFAULTS[name]
    return list(default) if isinstance(default, tuple | frozenset) else default


def customer_from_item(item: Any) -> Customer:
    data = _load(item.doc)
    customer_id = k.customer_of_pk(item.pk)
    sbl = data.pop("stage_before_lost", None)
    primary = data["external_userid"]
    return Customer(
        customer_id=customer_id,
        stage=Stage(item.stage),
        owner_userid=item.owner_userid,
        source_channel_id=item.source_channel_id,
        added_at=item.added_at,
        tags=frozenset(item.tags or ()),
        version=int(item.version),
        stage_before_lost=Stage(sbl) if sbl else None,
        touches=tuple(Attribution(**t) for t in data.pop("touches", [])),
        relations=tuple(Relation(**{"external_userid": primary, **r}) for r in data.pop("relations", [])),
        merges=tuple(Merge(**mg) for mg in data.pop("merges", [])),
        external_userids=tuple(data.pop("external_userids", [primary])),
        applied=tuple(data.pop("applied", [])),
        aliases=tuple(data.pop("aliases", [])),
        **data,
    )


def fact_to_item(f: Fact) -> FactItem:
    data = asdict(f)
    for name in ("tenant_id", "customer_id", "create_time", "digest"):
        data.pop(name)
    return FactItem(
        pk=k.customer_pk(f.tenant_id, f.customer_id), sk=k.fact_sk(f.create_time, f.digest), doc=_dump(data)
    )


def fact_from_item(tenant_id: str, item: Any) -> Fact:
    _, create_time, digest = item.sk.split("#", 2)
    return Fact(
        tenant_id=tenant_id,
        customer_id=k.customer_of_pk(item.pk),
        create_time=int(create_time),
        digest=digest,
        **_load(item.doc),
    )


def alias_to_item(tenant_id: str, a: Alias) -> AliasItem:
    return AliasItem(
        pk=k.alias_pk(tenant_id, a.kind, a.digest),
        sk=k.ALIAS_SK,
        customer_id=a.customer_id or None,
        erased_at=a.erased_at,
    )


def alias_from_item(kind: str, digest: str, item: Any) -> Alias:
    erased = item.erased_at
    return Alias(
        kind=kind,
        digest=digest,
        customer_id=item.customer_id or "",
        erased_at=int(erased) if erased is not None else None,
    )
