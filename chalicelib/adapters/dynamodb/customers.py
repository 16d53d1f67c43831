"""Customers, their identity aliases, the intake snapshot, ignored events and the referral link; see
docs/data-model.md. Reads that only decide (intake's snapshot) are eventually consistent at half price; correctness
comes from conditional writes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb import mappers as m
from chalicelib.adapters.dynamodb.base import DynamoBase
from chalicelib.adapters.dynamodb.channels import channel_from_raw
from chalicelib.adapters.dynamodb.customer_list import customer_page
from chalicelib.adapters.dynamodb.models import (
    AliasItem,
    CounterItem,
    CustomerItem,
    IgnoredItem,
    ReferralItem,
    SiyuItem,
    StaffItem,
)
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.customers import Customer, Stage
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta
from chalicelib.errors import ConflictError
from chalicelib.ports import CustomerFilter, IntakeKeys, IntakeSnapshot, Page

IGNORED_TTL_DAYS = 30


def counter_update(tenant_id: str, counter: StaffDayDelta) -> tuple[CounterItem, list[Any]]:
    """The staff-day counter item and its ADD actions (names are data: ``adds``, ``c#<channel>``…)."""
    item = CounterItem(pk=k.staff_day_pk(tenant_id, counter.userid), sk=k.staff_day_sk(counter.date))
    actions = [Path(name).add(n) for name, n in sorted(counter.counts.items())]
    return item, [*actions, CounterItem.kind.set(CounterItem)]


class CustomerRepository(DynamoBase):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None:
        item = self.get(CustomerItem, k.customer_pk(tenant_id, customer_id), k.PROFILE_SK)
        return m.customer_from_item(item) if item else None

    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]:
        """Many customers in BatchGetItem calls (missing ones are simply absent)."""
        keys = [(k.customer_pk(tenant_id, cid), k.PROFILE_SK) for cid in customer_ids]
        found = (m.customer_from_item(CustomerItem.from_raw_data(raw)) for raw in self.batch_get(keys).values())
        return {c.customer_id: c for c in found}

    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page:
        """Newest first from gsi2 (keys), then the profiles by key (``customer_list``)."""
        return customer_page(self.batch_get, tenant_id, flt, cursor=cursor, limit=limit)

    def save_customer(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact | None = None
    ) -> None:
        with self.transaction("the customer changed concurrently; reload and retry") as tx:
            tx.save(m.customer_to_item(tenant_id, customer), condition=(CustomerItem.version == expected_version))
            if fact is not None:
                tx.save(m.fact_to_item(fact), condition=SiyuItem.pk.does_not_exist())

    def advance_stage(self, tenant_id: str, customer_id: str, *, to: Stage, from_stages: tuple[Stage, ...]) -> bool:
        """Move the customer to ``to`` only from one of ``from_stages`` (never backwards past what an order set);
        bumps ``version`` so a concurrent read-modify-write of the profile retries. False: the stage was elsewhere.
        One UpdateItem of ``stage`` and ``version`` (the enrollment and silence rules set stages this way)."""
        item = CustomerItem(pk=k.customer_pk(tenant_id, customer_id), sk=k.PROFILE_SK)
        actions: list[Action] = [CustomerItem.stage.set(to.value), CustomerItem.version.set(CustomerItem.version + 1)]
        cond = SiyuItem.pk.exists() & CustomerItem.stage.is_in(*(s.value for s in from_stages))
        return self.conditional(lambda: item.update(actions=actions, condition=cond))

    def create_customer(self, tenant_id: str, customer: Customer, counter: StaffDayDelta) -> None:
        """The profile only if absent, then the day's counters. No transaction (it would double the units): the
        counters follow only a won put, so a fact is never counted twice; a crash between the two writes can miss
        one count, which the fact log (the profiles themselves) can rebuild."""
        with translate("customer already exists"):
            m.customer_to_item(tenant_id, customer).save(condition=SiyuItem.pk.does_not_exist())
        item, actions = counter_update(tenant_id, counter)
        with translate():
            item.update(actions=actions)

    def save_event(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact, counter: StaffDayDelta | None
    ) -> None:
        """One transaction: the fact (only if new), the profile (only if unchanged since read), the counters."""
        with self.transaction("the customer changed concurrently or the event was applied") as tx:
            tx.save(m.fact_to_item(fact), condition=SiyuItem.pk.does_not_exist())
            tx.save(m.customer_to_item(tenant_id, customer), condition=(CustomerItem.version == expected_version))
            if counter is not None:
                item, actions = counter_update(tenant_id, counter)
                tx.update(item, actions=actions)

    def load_intake(self, tenant_id: str, keys: IntakeKeys) -> IntakeSnapshot:
        """What a new event needs, in one BatchGetItem: the day's counters, the staff member, the alias, the
        channel."""
        wanted = {
            "counter": (k.staff_day_pk(tenant_id, keys.staff_userid), k.staff_day_sk(keys.date)),
            "staff": (k.tenant_pk(tenant_id), k.staff_sk(keys.staff_userid)),
        }
        if keys.include_alias:
            wanted["alias"] = (k.alias_pk(tenant_id, "ext", keys.ext_digest), k.ALIAS_SK)
        if keys.channel_id:
            wanted["channel"] = (k.tenant_pk(tenant_id), k.channel_sk(keys.channel_id))
        raw = self.batch_get(list(wanted.values()))
        got = {name: raw.get(key) for name, key in wanted.items()}
        alias_raw, channel_raw, staff_raw = got.get("alias"), got.get("channel"), got["staff"]
        return IntakeSnapshot(
            alias=m.alias_from_item("ext", keys.ext_digest, AliasItem.from_raw_data(alias_raw)) if alias_raw else None,
            channel=channel_from_raw(channel_raw) if channel_raw else None,
            counters={name: int(v["N"]) for name, v in (got["counter"] or {}).items() if "N" in v},
            staff=m.staff_from_item(StaffItem.from_raw_data(staff_raw)) if staff_raw else None,
        )

    def load_customer(
        self, tenant_id: str, customer_id: str, fact_create_time: int, fact_digest: str
    ) -> tuple[Customer | None, bool]:
        """The customer and whether this fact was applied to it: one two-key read, all a duplicate costs."""
        cpk = k.customer_pk(tenant_id, customer_id)
        fkey = (cpk, k.fact_sk(fact_create_time, fact_digest))
        raw = self.batch_get([(cpk, k.PROFILE_SK), fkey])
        profile = raw.get((cpk, k.PROFILE_SK))
        customer = m.customer_from_item(CustomerItem.from_raw_data(profile)) if profile else None
        return customer, fkey in raw

    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None:
        item = self.get(AliasItem, k.alias_pk(tenant_id, kind, digest), k.ALIAS_SK)
        return m.alias_from_item(kind, digest, item) if item else None

    def put_alias(self, tenant_id: str, alias: Alias) -> None:
        """Claims an identity for a customer; a live alias of another customer is a conflict, a tombstone isn't."""
        item = m.alias_to_item(tenant_id, alias)
        cond = (
            SiyuItem.pk.does_not_exist()
            | (AliasItem.customer_id == alias.customer_id)
            | AliasItem.customer_id.does_not_exist()
        )
        with translate("that identity belongs to another customer"):
            item.save(condition=cond)

    def record_ignored(self, tenant_id: str, fact: Fact, *, date: str, reason: str) -> bool:
        """Keeps an ignored event for 30 days (for operators); returns False when it was already recorded."""
        data = {"type": fact.type, "at": fact.at, "userid": fact.userid, "reason": reason, "detail": fact.detail}
        item = IgnoredItem(
            pk=k.ignored_pk(tenant_id, date),
            sk=k.ignored_sk(fact.create_time, fact.digest),
            doc=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        )
        item.expires_at = datetime.fromtimestamp(fact.create_time + IGNORED_TTL_DAYS * 86400, UTC)
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist()))

    # --- the referral link (老带新) ----------------------------------------------------------------------------

    def claim_referral_code(self, tenant_id: str, customer_id: str, channel_id: str) -> str:
        """The id of the customer's referral code: ``channel_id`` if this call claims it (a conditional put in
        their own partition), else the one claimed before, so concurrent first calls agree on one code."""
        item = ReferralItem(pk=k.customer_pk(tenant_id, customer_id), sk=k.REFERRAL_SK, channel_id=channel_id)
        if self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist())):
            return channel_id
        held = self.referral_code_of(tenant_id, customer_id)
        if held is None:  # claimed and erased in between
            raise ConflictError("the customer's referral code changed; try again")
        return held

    def referral_code_of(self, tenant_id: str, customer_id: str) -> str | None:
        item = self.get(ReferralItem, k.customer_pk(tenant_id, customer_id), k.REFERRAL_SK, consistent=True)
        return item.channel_id if item else None
