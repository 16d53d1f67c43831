"""An in-memory implementation of every repository port, with the same conditional semantics as DynamoStore.

Unit tests run services against it; the DynamoDB Local integration tests run the same behaviours against the real
store, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.channels import Channel
from chalicelib.domain.customers import Customer
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta
from chalicelib.domain.staff import Staff
from chalicelib.domain.tags import TagGroup, Taxonomy
from chalicelib.domain.tenants import Tenant, TokenRecord
from chalicelib.errors import ConflictError, InvalidError, UpstreamError
from chalicelib.ports import CustomerFilter, IntakeKeys, IntakeSnapshot, Page
from tests.fakes.alerts import FakeAlertStoreMixin
from tests.fakes.business_events import FakeEventStoreMixin
from tests.fakes.console import FakeConsoleStoreMixin
from tests.fakes.crm import FakeCrmStoreMixin
from tests.fakes.dashboard import FakeDashboardStoreMixin
from tests.fakes.delivery import FakeDeliveryStoreMixin
from tests.fakes.enrollments import FakeEnrollmentStoreMixin
from tests.fakes.group_codes import FakeGroupCodeStoreMixin
from tests.fakes.group_facts import FakeGroupFactStoreMixin
from tests.fakes.group_members import FakeGroupMemberStoreMixin
from tests.fakes.group_quota import FakeGroupQuotaStoreMixin
from tests.fakes.groups import FakeGroupStoreMixin
from tests.fakes.jobs import FakeJobLogMixin
from tests.fakes.library import FakeLibraryStoreMixin
from tests.fakes.metrics import FakeMetricsStoreMixin
from tests.fakes.plans import FakePlanStoreMixin
from tests.fakes.points import FakePointsStoreMixin
from tests.fakes.silence import FakeSilenceStoreMixin
from tests.fakes.sop import FakeSopStoreMixin
from tests.fakes.timeline import FakeTimelineStoreMixin
from tests.fakes.webhooks import FakeWebhookStoreMixin
from tests.fakes.wecom_stats import FakeWeComStatsStoreMixin


@dataclass
class FakeStore(
    FakePlanStoreMixin,
    FakeSopStoreMixin,
    FakeDeliveryStoreMixin,
    FakeEventStoreMixin,
    FakeSilenceStoreMixin,
    FakeEnrollmentStoreMixin,
    FakeTimelineStoreMixin,
    FakeGroupStoreMixin,
    FakeGroupFactStoreMixin,
    FakeGroupCodeStoreMixin,
    FakePointsStoreMixin,
    FakeGroupQuotaStoreMixin,
    FakeGroupMemberStoreMixin,
    FakeMetricsStoreMixin,
    FakeWeComStatsStoreMixin,
    FakeDashboardStoreMixin,
    FakeAlertStoreMixin,
    FakeConsoleStoreMixin,
    FakeJobLogMixin,
    FakeLibraryStoreMixin,
    FakeCrmStoreMixin,
    FakeWebhookStoreMixin,
):
    tenants: dict[str, Tenant] = field(default_factory=dict)
    tokens: dict[tuple[str, str], TokenRecord] = field(default_factory=dict)
    staff: dict[tuple[str, str], Staff] = field(default_factory=dict)
    tag_groups: dict[tuple[str, str], TagGroup] = field(default_factory=dict)
    channels: dict[tuple[str, str], Channel] = field(default_factory=dict)
    channel_full: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    customers: dict[tuple[str, str], Customer] = field(default_factory=dict)
    facts: dict[tuple[str, str], dict[tuple[int, str], Fact]] = field(default_factory=dict)
    aliases: dict[tuple[str, str, str], Alias] = field(default_factory=dict)
    counters: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    ignored: dict[tuple[str, str, int, str], dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    calls: list[str] = field(default_factory=list)
    secrets: Any = None  # a SecretStore: tenants written from then on count as kept there (the DynamoDB layout)
    tenants_in_secrets: set[str] = field(default_factory=set)

    # --- tenants ----------------------------------------------------------------------------------------------

    def create_tenant(self, tenant: Tenant) -> None:
        with self.lock:
            if tenant.tenant_id in self.tenants:
                raise ConflictError(f"tenant {tenant.tenant_id} already exists")
            self.tenants[tenant.tenant_id] = tenant
            if self.secrets is not None:
                self.tenants_in_secrets.add(tenant.tenant_id)

    def get_tenant(self, tenant_id: str, *, consistent: bool = False) -> Tenant | None:
        self.calls.append("get_tenant_consistent" if consistent else "get_tenant")
        return self.tenants.get(tenant_id)

    def put_tenant(self, tenant: Tenant) -> None:
        with self.lock:
            if tenant.tenant_id not in self.tenants:
                raise ConflictError(f"tenant {tenant.tenant_id} does not exist")
            self.tenants[tenant.tenant_id] = tenant
            if self.secrets is not None:
                self.tenants_in_secrets.add(tenant.tenant_id)

    def migrate_secrets(self, tenant_id: str) -> bool:
        if self.secrets is None:
            raise UpstreamError("no secret store is set (SIYU_SECRETS=table): nothing to migrate to")
        with self.lock:
            if tenant_id not in self.tenants or tenant_id in self.tenants_in_secrets:
                return False
            self.tenants_in_secrets.add(tenant_id)
            return True

    def list_tenants(self, *, cursor: str | None, limit: int) -> Page:
        ids = sorted(self.tenants)
        return _page([self.tenants[i] for i in ids], ids, cursor, limit, "TENANTS")

    def put_token(self, record: TokenRecord) -> None:
        self.tokens[(record.tenant_id, record.token_hash)] = record

    def get_token(self, tenant_id: str, token_hash: str) -> TokenRecord | None:
        return self.tokens.get((tenant_id, token_hash))

    def list_tokens(self, tenant_id: str) -> list[TokenRecord]:
        return [r for (t, _), r in self.tokens.items() if t == tenant_id]

    def delete_token(self, tenant_id: str, token_hash: str) -> None:
        self.tokens.pop((tenant_id, token_hash), None)

    def record_token_use(self, tenant_id: str, token_hash: str, *, at: int, if_before: int) -> bool:
        with self.lock:
            self.calls.append("record_token_use")
            record = self.tokens.get((tenant_id, token_hash))
            if record is None or (record.last_used and record.last_used >= if_before):  # 0 = never used
                return False
            self.tokens[(tenant_id, token_hash)] = replace(record, last_used=at)
            return True

    # --- staff ------------------------------------------------------------------------------------------------

    def create_staff(self, tenant_id: str, staff: Staff) -> None:
        with self.lock:
            if (tenant_id, staff.userid) in self.staff:
                raise ConflictError(f"staff {staff.userid} already exists")
            self.staff[(tenant_id, staff.userid)] = staff

    def put_staff(self, tenant_id: str, staff: Staff) -> None:
        self.staff[(tenant_id, staff.userid)] = staff

    def get_staff(self, tenant_id: str, userid: str) -> Staff | None:
        return self.staff.get((tenant_id, userid))

    def list_staff(self, tenant_id: str) -> list[Staff]:
        return [s for (t, _), s in self.staff.items() if t == tenant_id]

    def delete_staff(self, tenant_id: str, userid: str) -> None:
        self.staff.pop((tenant_id, userid), None)

    # --- tags -------------------------------------------------------------------------------------------------

    def taxonomy(self, tenant_id: str) -> Taxonomy:
        return Taxonomy(tuple(g for (t, _), g in sorted(self.tag_groups.items()) if t == tenant_id))

    def put_tag_group(self, tenant_id: str, group: TagGroup) -> None:
        self.tag_groups[(tenant_id, group.group_id)] = group

    def delete_tag_group(self, tenant_id: str, group_id: str) -> None:
        self.tag_groups.pop((tenant_id, group_id), None)

    # --- channels ---------------------------------------------------------------------------------------------

    def _with_full(self, tenant_id: str, channel: Channel) -> Channel:
        full = self.channel_full.get((tenant_id, channel.channel_id), {})
        latest = max(full) if full else ""
        return replace(channel, full_date=latest, full=tuple(sorted(full.get(latest, set()))))

    def create_channel(self, tenant_id: str, channel: Channel) -> None:
        with self.lock:
            if (tenant_id, channel.channel_id) in self.channels:
                raise ConflictError(f"channel {channel.channel_id} already exists")
            self.channels[(tenant_id, channel.channel_id)] = channel

    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None:
        c = self.channels.get((tenant_id, channel_id))
        return self._with_full(tenant_id, c) if c else None

    def list_channels(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Page:
        prefix = "rf" if kind == "referral" else "ch"
        ids = sorted(cid for (t, cid) in self.channels if t == tenant_id and cid.startswith(prefix))
        return _page([self.get_channel(tenant_id, i) for i in ids], [i for i in ids], cursor, limit, tenant_id)

    def put_channel(self, tenant_id: str, channel: Channel, *, expected_version: int) -> None:
        with self.lock:
            current = self.channels.get((tenant_id, channel.channel_id))
            if current is None or current.version != expected_version:
                raise ConflictError("channel changed concurrently")
            self.channels[(tenant_id, channel.channel_id)] = channel

    def delete_channel(self, tenant_id: str, channel_id: str) -> None:
        self.channels.pop((tenant_id, channel_id), None)
        self.channel_full.pop((tenant_id, channel_id), None)

    def mark_channel_full(self, tenant_id: str, channel_id: str, userid: str, date: str) -> None:
        with self.lock:
            if (tenant_id, channel_id) not in self.channels:
                raise ConflictError("channel does not exist")
            self.channel_full.setdefault((tenant_id, channel_id), {}).setdefault(date, set()).add(userid)

    # --- customers --------------------------------------------------------------------------------------------

    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None:
        return self.customers.get((tenant_id, customer_id))

    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]:
        return {cid: c for cid in customer_ids if (c := self.customers.get((tenant_id, cid))) is not None}

    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page:
        from datetime import datetime

        from chalicelib.domain.instants import utc_key

        rows = []
        for (t, _), c in self.customers.items():
            if t != tenant_id:
                continue
            key = f"{utc_key(datetime.fromisoformat(c.added_at))}#{c.customer_id}"
            if flt.added_from and key < flt.added_from:
                continue
            if flt.added_to and key > flt.added_to:
                continue
            if flt.stage and c.stage.value != flt.stage:
                continue
            if flt.channel_id and c.source_channel_id != flt.channel_id:
                continue
            if flt.owner_userid and c.owner_userid != flt.owner_userid:
                continue
            if flt.tag and flt.tag not in c.tags:
                continue
            rows.append((key, c))
        rows.sort(key=lambda r: r[0], reverse=True)
        return _page([c for _, c in rows], [k for k, _ in rows], cursor, limit, tenant_id, descending=True)

    def save_customer(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact | None = None
    ) -> None:
        with self.lock:
            current = self.customers.get((tenant_id, customer.customer_id))
            if current is None or current.version != expected_version:
                raise ConflictError("customer changed concurrently")
            if fact is not None:
                self._check_fact_absent(tenant_id, fact)
                self._put_fact(tenant_id, fact)
            self.customers[(tenant_id, customer.customer_id)] = customer

    # --- intake -----------------------------------------------------------------------------------------------

    def load_intake(self, tenant_id: str, keys: IntakeKeys) -> IntakeSnapshot:
        self.calls.append("load_intake")
        return IntakeSnapshot(
            alias=self.aliases.get((tenant_id, "ext", keys.ext_digest)) if keys.include_alias else None,
            channel=self.get_channel(tenant_id, keys.channel_id) if keys.channel_id else None,
            counters=dict(self.counters.get((tenant_id, keys.staff_userid, keys.date), {})),
            staff=self.staff.get((tenant_id, keys.staff_userid)),
        )

    def load_customer(
        self, tenant_id: str, customer_id: str, fact_create_time: int, fact_digest: str
    ) -> tuple[Customer | None, bool]:
        facts = self.facts.get((tenant_id, customer_id), {})
        return self.customers.get((tenant_id, customer_id)), (fact_create_time, fact_digest) in facts

    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None:
        return self.aliases.get((tenant_id, kind, digest))

    def put_alias(self, tenant_id: str, alias: Alias) -> None:
        with self.lock:
            current = self.aliases.get((tenant_id, alias.kind, alias.digest))
            if current is not None and current.customer_id and current.customer_id != alias.customer_id:
                raise ConflictError("that identity belongs to another customer")
            self.aliases[(tenant_id, alias.kind, alias.digest)] = alias

    def _add_counter(self, tenant_id: str, counter: StaffDayDelta) -> None:
        row = self.counters.setdefault((tenant_id, counter.userid, counter.date), {})
        for name, n in counter.counts.items():
            row[name] = row.get(name, 0) + n

    def _check_fact_absent(self, tenant_id: str, fact: Fact) -> None:
        if (fact.create_time, fact.digest) in self.facts.get((tenant_id, fact.customer_id), {}):
            raise ConflictError("fact already recorded")

    def _put_fact(self, tenant_id: str, fact: Fact) -> None:
        self.facts.setdefault((tenant_id, fact.customer_id), {})[(fact.create_time, fact.digest)] = fact

    def create_customer(self, tenant_id: str, customer: Customer, counter: StaffDayDelta) -> None:
        with self.lock:
            if (tenant_id, customer.customer_id) in self.customers:
                raise ConflictError("customer already exists")
            self.customers[(tenant_id, customer.customer_id)] = customer
            self._add_counter(tenant_id, counter)

    def save_event(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact, counter: StaffDayDelta | None
    ) -> None:
        with self.lock:
            current = self.customers.get((tenant_id, customer.customer_id))
            if current is None or current.version != expected_version:
                raise ConflictError("customer changed concurrently")
            self._check_fact_absent(tenant_id, fact)
            self._put_fact(tenant_id, fact)
            self.customers[(tenant_id, customer.customer_id)] = customer
            if counter is not None:
                self._add_counter(tenant_id, counter)

    def record_ignored(self, tenant_id: str, fact: Fact, *, date: str, reason: str) -> bool:
        with self.lock:
            key = (tenant_id, date, fact.create_time, fact.digest)
            if key in self.ignored:
                return False
            self.ignored[key] = {"type": fact.type, "reason": reason}
            return True


def _page(
    items: list[Any], keys: list[str], cursor: str | None, limit: int, tenant_id: str, descending: bool = False
) -> Page:
    """Cursor pagination with the same contract as the real store: opaque, tenant-bound cursors."""
    start = 0
    if cursor:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            assert data["t"] == tenant_id
            after = data["k"]
        except Exception as exc:
            raise InvalidError("cursor is not valid") from exc
        start = next((i for i, k in enumerate(keys) if (k < after if descending else k > after)), len(keys))
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    nxt = None
    if more and chunk:
        nxt = base64.urlsafe_b64encode(json.dumps({"t": tenant_id, "k": keys[start + limit - 1]}).encode()).decode()
    return Page(chunk, nxt)
