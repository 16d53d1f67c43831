"""Ports: the Protocols services depend on, and the plain data that crosses them.

Adapters (DynamoDB, WeCom HTTP, the clock) implement these; unit tests pass in-memory fakes instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.messages import Attachment, Message

__all__ = [  # re-exported: the WeCom port (ports/wecom.py) and the domain messages it speaks in
    "AcquisitionLink",
    "AcquisitionLinkPort",
    "AcquisitionQuota",
    "Attachment",
    "ContactWay",
    "CorpTagGroup",
    "ExternalProfile",
    "FollowUser",
    "JoinWayPort",
    "JsApiTicketPort",
    "LinkCustomer",
    "MediaPort",
    "Message",
    "MsgTemplateResult",
    "UploadedMedia",
    "WeComCredentials",
    "WeComPort",
    "WelcomeOutcome",
]

from chalicelib.ports.acquisition import (  # acquisition links (获客助手)
    AcquisitionLink,
    AcquisitionLinkPort,
    AcquisitionQuota,
    LinkCustomer,
)
from chalicelib.ports.jssdk import JsApiTicketPort  # the JS-SDK tickets (the chat sidebar)
from chalicelib.ports.wecom import (  # the WeCom port, in its own module
    ContactWay,
    CorpTagGroup,
    ExternalProfile,
    FollowUser,
    JoinWayPort,
    MediaPort,
    MsgTemplateResult,
    UploadedMedia,
    WeComCredentials,
    WeComPort,
    WelcomeOutcome,
)

# --- time and ids -----------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class IdGenerator(Protocol):
    def new_id(self, prefix: str) -> str:
        """A new unique, URL-safe id starting with ``prefix``."""
        ...

    def secret(self, nbytes: int = 32) -> str:
        """A new random URL-safe secret."""
        ...


# --- storage ----------------------------------------------------------------------------------------------------
# Repositories return domain objects. Conditional writes raise errors.ConflictError; nothing here reads then writes
# without a condition.

from chalicelib.domain.channels import Channel  # noqa: E402
from chalicelib.domain.customers import Customer  # noqa: E402
from chalicelib.domain.facts import Alias, Fact, StaffDayDelta  # noqa: E402
from chalicelib.domain.groups import Group, GroupSetup, GroupState  # noqa: E402
from chalicelib.domain.plans import Plan  # noqa: E402
from chalicelib.domain.shards import Shard  # noqa: E402
from chalicelib.domain.signals import Signal  # noqa: E402
from chalicelib.domain.sop import Enrollment, StaffTask  # noqa: E402
from chalicelib.domain.staff import Staff  # noqa: E402
from chalicelib.domain.tags import TagGroup, Taxonomy  # noqa: E402
from chalicelib.domain.tenants import Tenant, TokenRecord  # noqa: E402


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True)
class CustomerFilter:
    tag: str | None = None
    stage: str | None = None
    channel_id: str | None = None
    owner_userid: str | None = None
    added_from: str | None = None  # UTC key (domain.instants.utc_key), inclusive
    added_to: str | None = None  # UTC key, exclusive


@dataclass(frozen=True)
class IntakeKeys:
    """What an add event may need besides the customer, read in one round trip after the duplicate check."""

    ext_digest: str
    channel_id: str | None
    staff_userid: str
    date: str
    include_alias: bool = True


@dataclass(frozen=True)
class IntakeSnapshot:
    alias: Alias | None
    channel: Channel | None
    counters: dict[str, int]
    staff: Staff | None


class SecretStore(Protocol):
    """Secrets kept outside the table (SSM Parameter Store SecureString, deployed). Every put makes a new version, and a
    version never changes, so a read by version can be cached for as long as the process lives."""

    def put(self, name: str, value: str) -> int: ...  # the new version
    def get(self, name: str, version: int | None = None) -> str | None: ...  # None: no such secret (or version)


class TenantRepository(Protocol):
    def create_tenant(self, tenant: Tenant) -> None: ...
    def get_tenant(self, tenant_id: str, *, consistent: bool = False) -> Tenant | None: ...
    def put_tenant(self, tenant: Tenant) -> None: ...
    def list_tenants(self, *, cursor: str | None, limit: int) -> Page: ...
    def put_token(self, record: TokenRecord) -> None: ...
    def get_token(self, tenant_id: str, token_hash: str) -> TokenRecord | None: ...
    def list_tokens(self, tenant_id: str) -> list[TokenRecord]: ...
    def delete_token(self, tenant_id: str, token_hash: str) -> None: ...
    def record_token_use(self, tenant_id: str, token_hash: str, *, at: int, if_before: int) -> bool: ...


class StaffRepository(Protocol):
    def create_staff(self, tenant_id: str, staff: Staff) -> None: ...
    def put_staff(self, tenant_id: str, staff: Staff) -> None: ...
    def get_staff(self, tenant_id: str, userid: str) -> Staff | None: ...
    def list_staff(self, tenant_id: str) -> list[Staff]: ...
    def delete_staff(self, tenant_id: str, userid: str) -> None: ...


class TagRepository(Protocol):
    def taxonomy(self, tenant_id: str) -> Taxonomy: ...
    def put_tag_group(self, tenant_id: str, group: TagGroup) -> None: ...
    def delete_tag_group(self, tenant_id: str, group_id: str) -> None: ...


class ChannelRepository(Protocol):
    def create_channel(self, tenant_id: str, channel: Channel) -> None: ...
    def get_channel(self, tenant_id: str, channel_id: str) -> Channel | None: ...
    def list_channels(self, tenant_id: str, *, kind: str, cursor: str | None, limit: int) -> Page: ...
    def put_channel(self, tenant_id: str, channel: Channel, *, expected_version: int) -> None: ...
    def delete_channel(self, tenant_id: str, channel_id: str) -> None: ...
    def mark_channel_full(self, tenant_id: str, channel_id: str, userid: str, date: str) -> None: ...


class PlanRepository(Protocol):
    """SOP plans: one head per plan (current version, status, rev) plus one immutable item per version."""

    def create_plan(self, tenant_id: str, plan: Plan) -> None:
        """The head, version 1 and the name's claim together, only if the plan id is new and no plan holds the name
        (ConflictError otherwise; code ``plan_name_taken`` with the holder's ``plan_id`` in details)."""
        ...

    def get_plan(self, tenant_id: str, plan_id: str, version: int | None = None) -> Plan | None:
        """The current version (one read), or version N with the plan's status and current_version."""
        ...

    def list_plans(self, tenant_id: str, *, status: str | None, cursor: str | None, limit: int) -> Page: ...
    def list_plan_versions(self, tenant_id: str, plan_id: str) -> list[Plan]: ...

    def save_plan(
        self, tenant_id: str, plan: Plan, *, expected_rev: int, write_version: bool, renamed_from: str | None = None
    ) -> None:
        """Replace the head only if its rev is still ``expected_rev``. With ``write_version`` also write the item
        of ``plan.version``, which must be new or a never-published draft; with ``renamed_from`` also move the name
        claim (ConflictError ``plan_name_taken`` if another plan holds the new name); all or nothing."""
        ...

    def plan_name_owner(self, tenant_id: str, name: str) -> str | None:
        """The id of the plan holding ``name`` (names are compared as ``domain.plans.name_key`` does)."""
        ...


class CustomerRepository(Protocol):
    def get_customer(self, tenant_id: str, customer_id: str) -> Customer | None: ...
    def get_customers(self, tenant_id: str, customer_ids: list[str]) -> dict[str, Customer]: ...
    def list_customers(self, tenant_id: str, flt: CustomerFilter, *, cursor: str | None, limit: int) -> Page: ...
    def save_customer(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact | None = None
    ) -> None: ...
    def timeline(self, tenant_id: str, customer_id: str, *, limit: int) -> list[Fact]: ...
    def erase_customer(
        self, tenant_id: str, customer_id: str, *, tombstones: list[Alias], max_items: int = 1_000_000
    ) -> int:
        """Deletes every item of the customer's partition (the profile last) and leaves tombstones for its aliases;
        returns items deleted, or -1 - deleted when ``max_items`` stopped it early (the profile then remains)."""
        ...


class GroupRepository(Protocol):
    """Customer groups: two halves (WeCom's state, ops' setup), each written under its own revision."""

    def get_group(self, tenant_id: str, chat_id: str, *, consistent: bool = False) -> Group | None: ...
    def get_groups(self, tenant_id: str, chat_ids: list[str]) -> dict[str, Group]: ...
    def list_groups(self, tenant_id: str, *, cursor: str | None, limit: int) -> Page: ...
    def save_group_state(self, tenant_id: str, chat_id: str, state: GroupState, *, expected_rev: int) -> bool: ...
    def save_group_setup(self, tenant_id: str, chat_id: str, setup: GroupSetup, *, expected_rev: int) -> bool: ...


class IntakeRepository(Protocol):
    def load_intake(self, tenant_id: str, keys: IntakeKeys) -> IntakeSnapshot: ...
    def load_customer(
        self, tenant_id: str, customer_id: str, fact_create_time: int, fact_digest: str
    ) -> tuple[Customer | None, bool]: ...
    def find_alias(self, tenant_id: str, kind: str, digest: str) -> Alias | None: ...
    def put_alias(self, tenant_id: str, alias: Alias) -> None: ...
    def create_customer(self, tenant_id: str, customer: Customer, counter: StaffDayDelta) -> None:
        """Puts the profile only if absent (ConflictError otherwise), then adds the counters: never twice."""
        ...

    def save_event(
        self, tenant_id: str, customer: Customer, *, expected_version: int, fact: Fact, counter: StaffDayDelta | None
    ) -> None: ...
    def record_ignored(self, tenant_id: str, fact: Fact, *, date: str, reason: str) -> bool: ...


# --- signals and the SOP kernel's entry points -----------------------------------------------------------------
# Services tell what happened through SignalPublisher (services/signals.py delivers it to whoever subscribed), so a
# publisher never depends on its listeners. Enroller and TaskSink are the kernel's two direct entry points.


class SignalPublisher(Protocol):
    def publish(self, tenant: Tenant, subject_id: str, signal: Signal) -> None: ...


class Enroller(Protocol):
    def enroll(
        self, tenant: Tenant, customer_id: str, plan_id: str, *, source: str = "manual"
    ) -> Enrollment | None: ...


class PlanVersions(Protocol):
    def plan_version(self, tenant_id: str, plan_id: str, version: int) -> Plan | None: ...


class TaskSink(Protocol):
    def follow_up(
        self,
        tenant_id: str,
        *,
        customer_id: str,
        owner_userid: str,
        reason: str,
        text: str,
        due: datetime,
        dedupe_key: str,
        kind: str = "follow_up",
    ) -> str:
        """Create (once per dedupe_key) an immediate 1:1 task (``kind`` follow_up or welcome) for the owner."""
        ...


class SchedulerPort(Protocol):
    def schedule(self, *, name: str, expression: str, timezone: str, payload: dict[str, Any]) -> bool:
        """Create a one-time schedule (True) unless one of that name exists (False)."""
        ...


class ShardDispatcher(Protocol):
    """Runs one shard of a bucket's fire elsewhere (issue 8 §7): deployed, an asynchronous invocation of the fire
    function; locally, a thread. Fire-and-forget: a shard that is lost leaves its touches scheduled in a bucket that
    stays open, which the backstop fires."""

    def dispatch(self, tenant_id: str, bucket_id: str, shard: Shard) -> None: ...


class TaskRepository(Protocol):
    """Staff tasks (confirm-to-send and follow-ups): conditional saves guard every status change."""

    def create_task(self, tenant_id: str, task: StaffTask) -> bool: ...
    def get_task(self, tenant_id: str, task_id: str) -> StaffTask | None: ...
    def save_task(self, tenant_id: str, task: StaffTask, *, expected_status: str, recipients: bool = False) -> bool:
        """Save if the status is still ``expected_status``; ``recipients``: its customer ids changed too."""
        ...

    def list_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        limit: int,
    ) -> list[StaffTask]: ...
    def page_tasks(
        self,
        tenant_id: str,
        *,
        userid: str | None,
        status: str | None,
        due_from: str | None,
        due_to: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """One page in due order; ``next_cursor`` (opaque, tenant-bound) is None only when nothing more matches."""
        ...
