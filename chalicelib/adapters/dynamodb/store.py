"""DynamoDB implementation of every repository port (one table, see docs/data-model.md).

Conditional failures become ConflictError; other botocore/PynamoDB failures become UpstreamError. Reads that only
decide (intake's snapshot) are eventually consistent at half price; correctness comes from conditional writes.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.business_events import EventStoreMixin
from chalicelib.adapters.dynamodb.cursors import MAX_QUERY_ROUNDS
from chalicelib.adapters.dynamodb.cursors import decode_cursor as _decode_cursor
from chalicelib.adapters.dynamodb.cursors import encode_cursor as _encode_cursor
from chalicelib.adapters.dynamodb.enrollments import EnrollmentStoreMixin
from chalicelib.adapters.dynamodb.models import (
    AliasItem,
    ChannelItem,
    CounterItem,
    CustomerItem,
    IgnoredItem,
    SiyuItem,
    StaffItem,
    TagGroupItem,
)
from chalicelib.adapters.dynamodb.plans import PlanStoreMixin
from chalicelib.adapters.dynamodb.silence import SilenceStoreMixin
from chalicelib.adapters.dynamodb.sop import SopStoreMixin
from chalicelib.adapters.dynamodb.task_list import TaskListMixin
from chalicelib.adapters.dynamodb.tenants import TenantStoreMixin
from chalicelib.adapters.dynamodb.timeline import TimelineStoreMixin
from chalicelib.adapters.dynamodb.translate import translate as _translate
from chalicelib.domain.channels import Channel
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import TagGroup, Taxonomy
from chalicelib.errors import ConflictError
from chalicelib.ports import CustomerFilter, IntakeKeys, IntakeSnapshot, Page

IGNORED_TTL_DAYS = 30


class DynamoStore(
    TenantStoreMixin,
    PlanStoreMixin,
    SopStoreMixin,
    TaskListMixin,
    EventStoreMixin,
    SilenceStoreMixin,
    EnrollmentStoreMixin,
    TimelineStoreMixin,
):
    """All repositories over one table. Takes the low-level connection built by ``models.configure``."""

    def __init__(self, connection: Connection, table_name: str) -> None:
        self.connection = connection
        self.table = table_name

    @property
    def client(self) -> Any:
        return self.connection.client

    # --- raw helpers --------------------------------------------------------------------------------------------

    def _batch_get(
        self, keys: list[tuple[str, str]], *, consistent: bool = False
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Raw items by key, in BatchGetItem calls of at most 100 keys (DynamoDB's limit); missing ones are absent."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for i in range(0, len(keys), 100):
            found.update(self._batch_get_page(keys[i : i + 100], consistent=consistent))
        return found

    def _batch_get_page(
        self, keys: list[tuple[str, str]], *, consistent: bool
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """One BatchGetItem, following UnprocessedKeys with a short backoff. Keys still unprocessed after that are
        read one by one: a key left out must mean "no such item", never "throttled" (the fire would take a
        throttled customer for an erased one)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        table: dict[str, Any] = {"Keys": [{"pk": {"S": p}, "sk": {"S": s}} for p, s in keys]}
        if consistent:
            table["ConsistentRead"] = True
        request: dict[str, Any] = {self.table: table}
        with _translate():
            for attempt in range(4):
                resp = self.client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.table, []):
                    found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    return found
                time.sleep(0.05 * 2**attempt)
        for key in request.get(self.table, {}).get("Keys", []):
            pk, sk = key["pk"]["S"], key["sk"]["S"]
            raw = self._get_raw(pk, sk, consistent=consistent)
            if raw is not None:
                found[(pk, sk)] = raw
        return found

    def _get_raw(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        with _translate():
            resp = self.client.get_item(
                TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=consistent
            )
        item = resp.get("Item")
        return dict(item) if item else None

    def _query_page(
        self,
        key_condition: str,
        values: dict[str, Any],
        partition: tuple[str, str],
        cursor: str | None,
        limit: int,
        *,
        index: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One Query page of raw items plus the opaque cursor for the next (bound to ``partition``)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if index:
            params["IndexName"] = index
        start = _decode_cursor(cursor, partition_attr=partition[0], partition=partition[1])
        if start:
            params["ExclusiveStartKey"] = start
        with _translate():
            resp = self.client.query(**params)
        last = resp.get("LastEvaluatedKey")
        return list(resp.get("Items", [])), _encode_cursor(last) if last else None

    def _query_prefix(self, pk: str, prefix: str) -> list[SiyuItem]:
        with _translate():
            return list(SiyuItem.query(pk, SiyuItem.sk.startswith(prefix)))

    # --- staff ----------------------------------------------------------------------------------------------------

    def create_staff(self, tenant_id: str, staff: Staff) -> None:
        with _translate(f"staff {staff.userid} already exists"):
            m.staff_to_item(tenant_id, staff).save(condition=SiyuItem.pk.does_not_exist())

    def put_staff(self, tenant_id: str, staff: Staff) -> None:
        with _translate():
            m.staff_to_item(tenant_id, staff).save()

    def get_staff(self, tenant_id: str, userid: str) -> Staff | None:
        raw = self._get_raw(k.tenant_pk(tenant_id), k.staff_sk(userid))
        return m.staff_from_item(StaffItem.from_raw_data(raw)) if raw else None

    def list_staff(self, tenant_id: str) -> list[Staff]:
        return [m.staff_from_item(i) for i in self._query_prefix(k.tenant_pk(tenant_id), k.STAFF_PREFIX)]

    def delete_staff(self, tenant_id: str, userid: str) -> None:
        with _translate():
            StaffItem(pk=k.tenant_pk(tenant_id), sk=k.staff_sk(userid)).delete()

    # --- tags -----------------------------------------------------------------------------------------------------

    def taxonomy(self, tenant_id: str) -> Taxonomy:
        items = self._query_prefix(k.tenant_pk(tenant_id), k.TAG_GROUP_PREFIX)
        return Taxonomy(groups=tuple(m.tag_group_from_item(i) for i in items))

    def put_tag_group(self, tenant_id: str, group: TagGroup) -> None:
        with _translate():
            m.tag_group_to_item(tenant_id, group).save()

    def delete_tag_group(self, tenant_id: str, group_id: str) -> None:
        with _translate():
            TagGroupItem(pk=k.tenant_pk(tenant_id), sk=k.tag_group_sk(group_id)).delete()

    # --- channels -------------------------------------------------------------------------------------------------

    @staticmethod
    def _channel_from_raw(raw: dict[str, Any]) -> Channel:
        full = {name.split("#", 1)[1]: list(v["SS"]) for name, v in raw.items() if name.startswith("full#")}
        return m.channel_from_raw(raw.get("doc", {}).get("S"), int(raw.get("version", {}).get("N", "0")), full)

    def create_channel(self, tenant_id: str, channel: Channel) -> None:
        with _translate(f"channel {channel.channel_id} already exists"):
            m.channel_to_item(tenant_id, channel).save(condition=SiyuItem.pk.does_not_exist())

    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None:
        raw = self._get_raw(k.tenant_pk(tenant_id), k.channel_sk(channel_id))
        return self._channel_from_raw(raw) if raw else None

    def list_channels(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Page:
        pk = k.tenant_pk(tenant_id)
        prefix = k.channel_sk("rf" if kind == "referral" else "ch")
        raws, nxt = self._query_page(
            "pk = :pk AND begins_with(sk, :p)", {":pk": {"S": pk}, ":p": {"S": prefix}}, ("pk", pk), cursor, limit
        )
        return Page([self._channel_from_raw(r) for r in raws], nxt)

    def put_channel(self, tenant_id: str, channel: Channel, *, expected_version: int) -> None:
        item = m.channel_to_item(tenant_id, channel)
        with _translate(f"channel {channel.channel_id} changed concurrently; reload and retry"):
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
        with _translate():
            ChannelItem(pk=k.tenant_pk(tenant_id), sk=k.channel_sk(channel_id)).delete()

    def mark_channel_full(self, tenant_id: str, channel_id: str, userid: str, date: str) -> None:
        """Atomically add ``userid`` to the day's full set (a string-set ADD; concurrent caps never clash)."""
        with _translate():
            ChannelItem(pk=k.tenant_pk(tenant_id), sk=k.channel_sk(channel_id)).update(
                actions=[Path(k.full_attr(date)).add({userid})],
                condition=SiyuItem.pk.exists(),
            )

    # --- customers ------------------------------------------------------------------------------------------------

    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None:
        raw = self._get_raw(k.customer_pk(tenant_id, customer_id), k.PROFILE_SK)
        return m.customer_from_item(CustomerItem.from_raw_data(raw)) if raw else None

    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]:
        """Many customers in BatchGetItem calls (missing ones are simply absent)."""
        keys = [(k.customer_pk(tenant_id, cid), k.PROFILE_SK) for cid in customer_ids]
        found = (m.customer_from_item(CustomerItem.from_raw_data(raw)) for raw in self._batch_get(keys).values())
        return {c.customer_id: c for c in found}

    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page:
        gpk = k.customers_gsi_pk(tenant_id)
        start = _decode_cursor(cursor, partition_attr="gsi1pk", partition=gpk)
        values: dict[str, Any] = {":g": {"S": gpk}}
        key_cond = "gsi1pk = :g"
        if flt.added_from or flt.added_to:
            values[":a"] = {"S": flt.added_from or "0"}
            values[":b"] = {"S": flt.added_to or "~"}  # "{utc}#{id}" < "{to}" excludes ``to`` itself
            key_cond += " AND gsi1sk BETWEEN :a AND :b"
        filters, names = [], {}
        for i, (attr, value) in enumerate(
            (("stage", flt.stage), ("source_channel_id", flt.channel_id), ("owner_userid", flt.owner_userid))
        ):
            if value:
                filters.append(f"#f{i} = :f{i}")
                names[f"#f{i}"] = attr
                values[f":f{i}"] = {"S": value}
        if flt.tag:
            filters.append("contains(tags, :tag)")
            values[":tag"] = {"S": flt.tag}
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": key_cond,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            params["FilterExpression"] = " AND ".join(filters)
        if names:
            params["ExpressionAttributeNames"] = names
        items: list[Customer] = []
        last: dict[str, Any] | None = start
        with _translate():
            for _ in range(MAX_QUERY_ROUNDS):
                params["Limit"] = max(limit - len(items), 1) if not filters else 200
                if last:
                    params["ExclusiveStartKey"] = last
                resp = self.client.query(**params)
                for raw in resp.get("Items", []):
                    items.append(m.customer_from_item(CustomerItem.from_raw_data(raw)))
                    if len(items) == limit:
                        last = {a: raw[a] for a in ("pk", "sk", "gsi1pk", "gsi1sk")}
                        return Page(items, _encode_cursor(last))
                last = resp.get("LastEvaluatedKey")
                if not last:
                    break
        return Page(items, _encode_cursor(last) if last else None)

    def save_customer(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact | None = None
    ) -> None:
        item = m.customer_to_item(tenant_id, customer)
        with (
            _translate("the customer changed concurrently; reload and retry"),
            TransactWrite(connection=self.connection) as tx,
        ):
            tx.save(item, condition=(CustomerItem.version == expected_version))
            if fact is not None:
                tx.save(m.fact_to_item(fact), condition=SiyuItem.pk.does_not_exist())

    # --- intake ---------------------------------------------------------------------------------------------------

    def load_intake(self, tenant_id: str, keys: IntakeKeys) -> IntakeSnapshot:
        wanted = {
            "counter": (k.staff_day_pk(tenant_id, keys.staff_userid), k.staff_day_sk(keys.date)),
            "staff": (k.tenant_pk(tenant_id), k.staff_sk(keys.staff_userid)),
        }
        if keys.include_alias:
            wanted["alias"] = (k.alias_pk(tenant_id, "ext", keys.ext_digest), k.ALIAS_SK)
        if keys.channel_id:
            wanted["channel"] = (k.tenant_pk(tenant_id), k.channel_sk(keys.channel_id))
        raw = self._batch_get(list(wanted.values()))
        got = {name: raw.get(key) for name, key in wanted.items()}
        alias_raw, channel_raw, staff_raw = got.get("alias"), got.get("channel"), got["staff"]
        return IntakeSnapshot(
            alias=m.alias_from_item("ext", keys.ext_digest, AliasItem.from_raw_data(alias_raw)) if alias_raw else None,
            channel=self._channel_from_raw(channel_raw) if channel_raw else None,
            counters={name: int(v["N"]) for name, v in (got["counter"] or {}).items() if "N" in v},
            staff=m.staff_from_item(StaffItem.from_raw_data(staff_raw)) if staff_raw else None,
        )

    def load_customer(
        self, tenant_id: str, customer_id: str, fact_create_time: int, fact_digest: str
    ) -> tuple[Customer | None, bool]:
        cpk = k.customer_pk(tenant_id, customer_id)
        fkey = (cpk, k.fact_sk(fact_create_time, fact_digest))
        raw = self._batch_get([(cpk, k.PROFILE_SK), fkey])
        profile = raw.get((cpk, k.PROFILE_SK))
        customer = m.customer_from_item(CustomerItem.from_raw_data(profile)) if profile else None
        return customer, fkey in raw

    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None:
        raw = self._get_raw(k.alias_pk(tenant_id, kind, digest), k.ALIAS_SK)
        return m.alias_from_item(kind, digest, AliasItem.from_raw_data(raw)) if raw else None

    def put_alias(self, tenant_id: str, alias: Alias) -> None:
        """Claims an identity for a customer; a live alias of another customer is a conflict, a tombstone isn't."""
        item = m.alias_to_item(tenant_id, alias)
        cond = (
            SiyuItem.pk.does_not_exist()
            | (AliasItem.customer_id == alias.customer_id)
            | AliasItem.customer_id.does_not_exist()
        )
        with _translate("that identity belongs to another customer"):
            item.save(condition=cond)

    @staticmethod
    def _counter_actions(counter: StaffDayDelta) -> list[Any]:
        return [Path(name).add(n) for name, n in sorted(counter.counts.items())]

    def _counter_update(self, tx: TransactWrite, tenant_id: str, counter: StaffDayDelta) -> None:
        item = CounterItem(pk=k.staff_day_pk(tenant_id, counter.userid), sk=k.staff_day_sk(counter.date))
        tx.update(item, actions=[*self._counter_actions(counter), CounterItem.kind.set(CounterItem)])

    def create_customer(self, tenant_id: str, customer: Customer, counter: StaffDayDelta) -> None:
        """The profile only if absent, then the day's counters. No transaction (it would double the units): the
        counters follow only a won put, so a fact is never counted twice; a crash between the two writes can miss
        one count, which the fact log (the profiles themselves) can rebuild."""
        with _translate("customer already exists"):
            m.customer_to_item(tenant_id, customer).save(condition=SiyuItem.pk.does_not_exist())
        with _translate():
            CounterItem(pk=k.staff_day_pk(tenant_id, counter.userid), sk=k.staff_day_sk(counter.date)).update(
                actions=[*self._counter_actions(counter), CounterItem.kind.set(CounterItem)]
            )

    def save_event(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact, counter: StaffDayDelta | None
    ) -> None:
        """One transaction: the fact (only if new), the profile (only if unchanged since read), the counters."""
        with (
            _translate("the customer changed concurrently or the event was applied"),
            TransactWrite(connection=self.connection) as tx,
        ):
            tx.save(m.fact_to_item(fact), condition=SiyuItem.pk.does_not_exist())
            tx.save(m.customer_to_item(tenant_id, customer), condition=(CustomerItem.version == expected_version))
            if counter is not None:
                self._counter_update(tx, tenant_id, counter)

    def record_ignored(self, tenant_id: str, fact: Fact, *, date: str, reason: str) -> bool:
        """Keeps an ignored event for 30 days (for operators); returns False when it was already recorded."""
        data = {"type": fact.type, "at": fact.at, "userid": fact.userid, "reason": reason, "detail": fact.detail}
        item = IgnoredItem(
            pk=k.ignored_pk(tenant_id, date),
            sk=k.ignored_sk(fact.create_time, fact.digest),
            doc=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        )
        item.expires_at = datetime.fromtimestamp(fact.create_time + IGNORED_TTL_DAYS * 86400, UTC)
        try:
            with _translate():
                item.save(condition=SiyuItem.pk.does_not_exist())
        except ConflictError:
            return False
        return True
