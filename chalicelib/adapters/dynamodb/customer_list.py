"""The customer listing (``CustomerRepository.list_customers``): the tenant's customers newest first, from gsi2
(``T#<tid>#CUSTOMERS`` / ``<added UTC>#<cid>``), which holds keys only, so a profile update never writes it.

A page is rounds of: a Query of the index for keys, then the profiles by key (the base's ``batch_get``, eventually
consistent as the index itself is), then the filter applied here (stage, source channel, owner, tag), until the page
is full or ``MAX_QUERY_ROUNDS`` rounds were read (a short page then carries its cursor). The cursor is the index key
of the last customer returned, or where the rounds stopped; a key whose profile is gone (erased meanwhile) is
skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.base import BATCH_GET_LIMIT, FILTERED_PAGE, Key, Raw
from chalicelib.adapters.dynamodb.cursors import MAX_QUERY_ROUNDS, decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.models import CustomerItem, SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.customers import Customer
from chalicelib.errors import InvalidError
from chalicelib.ports import CustomerFilter, Page

INDEX_ATTRS = ("pk", "sk", "gsi2pk", "gsi2sk")
LEGACY_ATTRS = ("pk", "sk", "gsi1pk", "gsi1sk")  # cursors handed out while customers were listed from gsi1

BatchGet = Callable[[list[Key]], dict[Key, Raw]]


def matches(c: Customer, flt: CustomerFilter) -> bool:
    """The listing's filters other than the added range (which the index key condition applies)."""
    return (
        (not flt.stage or c.stage.value == flt.stage)
        and (not flt.channel_id or c.source_channel_id == flt.channel_id)
        and (not flt.owner_userid or c.owner_userid == flt.owner_userid)
        and (not flt.tag or flt.tag in c.tags)
    )


def _filtered(flt: CustomerFilter) -> bool:
    return bool(flt.stage or flt.channel_id or flt.owner_userid or flt.tag)


def _start_key(cursor: str | None, partition: str, low: str, high: str) -> Raw | None:
    """The cursor as an ExclusiveStartKey, checked whole (a forged, reshaped or out-of-range key is a 400 here, not
    a DynamoDB ValidationException). A cursor from the gsi1 listing (a bulk job running across the deploy) names
    the same position and is read as its gsi2 twin."""
    try:
        key = decode_cursor(cursor, partition_attr="gsi2pk", partition=partition, attrs=frozenset(INDEX_ATTRS))
    except InvalidError:
        legacy = decode_cursor(cursor, partition_attr="gsi1pk", partition=partition, attrs=frozenset(LEGACY_ATTRS))
        key = {new: legacy[old] for new, old in zip(INDEX_ATTRS, LEGACY_ATTRS, strict=True)} if legacy else None
    if key is None:
        return None
    shaped = all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
    if not shaped or key["sk"]["S"] != k.PROFILE_SK or not low <= key["gsi2sk"]["S"] <= high:
        raise InvalidError("cursor is not valid")
    return key


def _index_round(partition: str, low: str, high: str, start: Raw | None, size: int) -> tuple[list[Raw], Raw | None]:
    """One Query page of index keys, newest first."""
    with translate():
        page: dict[str, Any] = next(
            SiyuItem.gsi2.query(
                partition,
                SiyuItem.gsi2sk.between(low, high),
                scan_index_forward=False,
                page_size=size,
                last_evaluated_key=start,
            ).page_iter
        )
    return list(page.get("Items", [])), page.get("LastEvaluatedKey")


def customer_page(batch_get: BatchGet, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page:
    """Up to ``limit`` customers newest first from ``cursor``; ``added_to`` is exclusive ("{utc}#{id}" sorts after
    "{to}"). Unfiltered, a round asks for one key more than still wanted (so a full last page says there is no
    more) and reads only the profiles it needs; filtered, it reads ``FILTERED_PAGE`` keys and their profiles 100
    at a time, stopping once the page is full."""
    partition = k.customers_gsi_pk(tenant_id)
    low, high = flt.added_from or "0", flt.added_to or "~"
    start = _start_key(cursor, partition, low, high)
    filtered = _filtered(flt)
    found: list[Customer] = []
    for _ in range(MAX_QUERY_ROUNDS):
        wanted = limit - len(found)
        keys, start = _index_round(partition, low, high, start, max(wanted, FILTERED_PAGE) if filtered else wanted + 1)
        i = 0
        while i < len(keys):
            if len(found) == limit:  # one more key exists: the page ends at the last customer returned
                return Page(found, encode_cursor({a: keys[i - 1][a] for a in INDEX_ATTRS}))
            chunk = keys[i : i + (BATCH_GET_LIMIT if filtered else min(limit - len(found), BATCH_GET_LIMIT))]
            profiles = batch_get([(raw["pk"]["S"], raw["sk"]["S"]) for raw in chunk])
            for raw in chunk:
                i += 1
                profile = profiles.get((raw["pk"]["S"], raw["sk"]["S"]))
                if profile is None:  # erased since the index was read
                    continue
                c = m.customer_from_item(CustomerItem.from_raw_data(profile))
                if matches(c, flt):
                    found.append(c)
                    if len(found) == limit:
                        break
        if len(found) == limit:
            more = i < len(keys) or start is not None
            return Page(found, encode_cursor({a: keys[i - 1][a] for a in INDEX_ATTRS}) if more else None)
        if start is None:
            return Page(found, None)
    return Page(found, encode_cursor(start) if start else None)
