"""PynamoDB models of the single table. One base model, one subclass per entity (told apart by ``kind``).

Table name, endpoint and region come from Settings through ``configure`` before first use, never at import.
Nested, rarely-filtered parts of an entity live in one JSON ``doc`` attribute: compact items keep writes at 1 unit.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    DiscriminatorAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.settings import Settings


class Gsi1(GlobalSecondaryIndex["SiyuItem"]):
    """Overloaded index of whole items (projection ALL): tenants, task heads, open buckets, silence timers and
    running jobs, each by its own gsi1 keys. Any change of such an item rewrites its copy here too, which is why
    customers are in ``gsi2`` instead (their profiles change often)."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["SiyuItem"]):
    """Overloaded index of keys (and ``kind``): customers by added time. An item's entry changes only when its keys
    do, so a profile update (stage, tags, owner, version…) writes the table item alone; a listing reads keys here,
    then the items by key. ``kind`` is projected because it never changes after creation and every model Query
    filters on it (PynamoDB's discriminator), which a keys-only index could not evaluate."""

    class Meta:
        index_name = "gsi2"
        projection = IncludeProjection(["kind"])

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class SiyuItem(Model):
    class Meta:
        table_name = "siyu-unconfigured"
        region = "us-east-1"
        connect_timeout_seconds = 2
        read_timeout_seconds = 5
        max_retry_attempts = 3

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    doc = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()


class TenantItem(SiyuItem, discriminator="tenant"):
    pass


class TokenItem(SiyuItem, discriminator="token"):
    last_used = NumberAttribute(null=True)  # unix seconds, written at most once per resolution (tenants.py)


class StaffItem(SiyuItem, discriminator="staff"):
    pass


class TagGroupItem(SiyuItem, discriminator="tag_group"):
    pass


class ChannelItem(SiyuItem, discriminator="channel"):
    version = NumberAttribute(default=0)


class GroupItem(SiyuItem, discriminator="group"):
    """A customer group: WeCom's state (``state`` JSON, ``state_rev``) and ops' setup (``doc`` JSON, ``setup_rev``),
    each half written under its own revision so a callback and an edit never overwrite each other."""

    state = UnicodeAttribute(null=True)
    state_rev = NumberAttribute(null=True)
    setup_rev = NumberAttribute(null=True)


# --- group codes, group content, the naming template (adapters/dynamodb/group_codes.py, group_content.py) --------
class GroupCodeItem(SiyuItem, discriminator="group_code"):
    """A group live code: the code in ``doc``, its ``rev`` (the write condition of every change, rotation included)."""

    rev = NumberAttribute(default=0)


class GroupCodeChatItem(SiyuItem, discriminator="group_code_chat"):
    """A group held by a code, ever (``code_id``): a group is on one code at most."""

    code_id = UnicodeAttribute()


class GroupContentItem(SiyuItem, discriminator="group_content"):
    rev = NumberAttribute(default=0)


class GroupNamingItem(SiyuItem, discriminator="group_naming"):
    pass


class GroupMemberItem(SiyuItem, discriminator="group_member"):
    """A member's current record in a group (adapters/dynamodb/group_members.py), in gsi1 under the member's key
    until erased."""


class GroupChangeItem(SiyuItem, discriminator="group_change"):
    """One join or leave of a member, written once."""


class GroupSyncItem(SiyuItem, discriminator="group_sync"):
    """A group sync job: ``seq`` orders its saves."""

    seq = NumberAttribute()


class GroupSyncHeadItem(SiyuItem, discriminator="group_sync_head"):
    """The tenant's current group sync and whether it runs: at most one runs."""

    job_id = UnicodeAttribute()
    running = NumberAttribute()


class PlanItem(SiyuItem, discriminator="plan"):
    """A plan's head: current version, status and rev (the write condition); the current content in ``doc``."""

    version = NumberAttribute()
    status = UnicodeAttribute()
    rev = NumberAttribute()
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    published_at = UnicodeAttribute(null=True)


class PlanNameItem(SiyuItem, discriminator="plan_name"):
    """A plan name's claim: created with the plan (or a rename) only if absent, so two plans never share a name."""

    plan_id = UnicodeAttribute()


class PlanVersionItem(SiyuItem, discriminator="plan_version"):
    """One version's content in ``doc``; immutable once ``published_at`` is set."""

    version = NumberAttribute()
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    published_at = UnicodeAttribute(null=True)


class CustomerItem(SiyuItem, discriminator="customer"):
    stage = UnicodeAttribute()
    owner_userid = UnicodeAttribute()
    source_channel_id = UnicodeAttribute()
    added_at = UnicodeAttribute()
    tags = UnicodeSetAttribute(null=True)
    version = NumberAttribute()


class FactItem(SiyuItem, discriminator="fact"):
    pass


class AliasItem(SiyuItem, discriminator="alias"):
    customer_id = UnicodeAttribute(null=True)
    erased_at = NumberAttribute(null=True)


class CounterItem(SiyuItem, discriminator="counter"):
    """Counters are top-level numeric attributes with dynamic names (adds, n_new, c#<channel>…)."""


class IgnoredItem(SiyuItem, discriminator="ignored"):
    pass


class ReferralItem(SiyuItem, discriminator="referral"):
    """A customer's own referral code (老带新), claimed once in their partition."""

    channel_id = UnicodeAttribute()


class QuotaItem(SiyuItem, discriminator="quota"):
    """A customer's month quota item, a timeline item: ``m`` the month's count, ``tl`` the sent touches' records.
    The per-day counters ``d#<day>`` have data in their names, so the model does not declare them."""

    m = NumberAttribute(null=True)
    tl = ListAttribute(of=UnicodeAttribute, null=True)


class SilenceTimerItem(SiyuItem, discriminator="silence_timer"):
    """A silence timer (adapters/dynamodb/silence.py): the enrollment it belongs to, its due time and the claim."""

    eid = UnicodeAttribute()
    due = UnicodeAttribute()
    claim = UnicodeAttribute(null=True)
    lease = UnicodeAttribute(null=True)
    claimed_at = UnicodeAttribute(null=True)


class EnrollmentItem(SiyuItem, discriminator="enrollment"):
    """A subject's enrollment in a plan (adapters/dynamodb/enrollments.py): the run in ``doc``, its ``status`` and
    enrollment id ``eid`` beside it (the write conditions)."""

    status = UnicodeAttribute()
    eid = UnicodeAttribute()


class RepairQueueItem(SiyuItem, discriminator="repair"):
    """One repair waiting in the local stack's repair queue (adapters/dynamodb/repairs.py; deployed: SQS)."""

    visible = NumberAttribute()  # unix second it may be handed out (again)
    receives = NumberAttribute(default=0)
    state = UnicodeAttribute()  # ready | dead
    reason = UnicodeAttribute(null=True)


class RosterItem(SiyuItem, discriminator="roster"):
    """A plan's roster entry for one subject: nothing but the key."""


class JobItem(SiyuItem, discriminator="job"):
    """A bulk enrollment job (adapters/dynamodb/jobs.py): ``seq`` orders its saves; in gsi1 while running."""

    seq = NumberAttribute()


class BucketItem(SiyuItem, discriminator="bucket"):
    """A bucket's head (adapters/dynamodb/touches.py); ``feeders``: the buckets whose sent touches imply touches
    here."""

    feeders = UnicodeSetAttribute(null=True)


class PlanBucketItem(SiyuItem, discriminator="plan_bucket"):
    """A bucket listed under its plan version (what a migration walks)."""


class TouchItem(SiyuItem, discriminator="touch"):
    """One touch of a bucket: its ``state`` (the transitions' condition) and ``nb``, the bucket of the touch it
    implies once sent."""

    state = UnicodeAttribute()
    nb = UnicodeAttribute(null=True)


class TaskItem(SiyuItem, discriminator="task"):
    """A staff task's head (adapters/dynamodb/tasks.py): the only task item in the tasks index."""

    status = UnicodeAttribute()
    userid = UnicodeAttribute()
    n = NumberAttribute(null=True)  # the recipients' count; absent on heads written before recipients had an item


class TaskRecipientsItem(SiyuItem, discriminator="task_recipients"):
    """A task's recipients' subject ids, comma-joined, beside the head and in no index."""

    ids = UnicodeAttribute()


class MsgidItem(SiyuItem, discriminator="msgid"):
    """A WeCom msgid's claim: the Siyu task it belongs to (written once, by a conditional put)."""

    task_id = UnicodeAttribute()


class LeaseItem(SiyuItem, discriminator="lease"):
    """A fire's lease on a bucket (or one shard of it): its holder and when it lapses (UTC ISO)."""

    owner = UnicodeAttribute()
    until = UnicodeAttribute()


class TaskSyncItem(SiyuItem, discriminator="task_sync"):
    """Where the task status sync resumes."""

    cursor = UnicodeAttribute(null=True)


# --- group facts and member activity (adapters/dynamodb/group_facts.py) -------------------------------------------


class GroupMarkerItem(SiyuItem, discriminator="group_marker"):
    """A group fact's identity, or a member's first occurrence in a day: written once, only if absent; TTL."""


class GroupActivityItem(SiyuItem, discriminator="group_activity"):
    """A member's activity in a group, indexed in gsi1 by when they last spoke (moved by each newer message)."""

    last_spoke = NumberAttribute()  # unix seconds
    messages = NumberAttribute()


class GroupActivitySettingsItem(SiyuItem, discriminator="group_activity_settings"):
    """The tenant's default activity window."""

    window_days = NumberAttribute()


class CheckinRuleItem(SiyuItem, discriminator="checkin_rule"):
    """A check-in rule (the tenant default, or a group's override): its fields in ``doc``."""


class PointsBalanceItem(SiyuItem, discriminator="points"):
    """A customer's points balance: a redemption's one condition is ``balance >= points`` on this item."""

    balance = NumberAttribute(null=True)
    earned = NumberAttribute(null=True)
    spent = NumberAttribute(null=True)


class PointsRefItem(SiyuItem, discriminator="points_ref"):
    """A ledger ref's claim; a redemption's outcome in ``doc`` (what a repeat answers)."""


class LedgerItem(SiyuItem, discriminator="ledger"):
    """One ledger entry, in time order in the customer's partition."""

    ref = UnicodeAttribute()
    points = NumberAttribute()
    reason = UnicodeAttribute()
    at = UnicodeAttribute()
    chat_id = UnicodeAttribute(null=True)


class StandingItem(SiyuItem, discriminator="standing"):
    """A customer's standing in one group (domain/points.Standing); ``version`` guards every change."""

    score = NumberAttribute()
    checkins = NumberAttribute()
    streak = NumberAttribute()
    best = NumberAttribute()
    last_day = UnicodeAttribute()
    run_start = UnicodeAttribute()
    reached = UnicodeAttribute()
    version = NumberAttribute()
    rewards = ListAttribute(of=UnicodeAttribute, null=True)  # the reward tasks' dedupe keys, in order


class CheckinItem(SiyuItem, discriminator="checkin"):
    """A customer's one check-in in a group on a local day; ``ref`` is the fact that won the day."""

    ref = UnicodeAttribute()


class BoardItem(SiyuItem, discriminator="board"):
    """A group leaderboard entry (its sort key encodes the score)."""

    customer_id = UnicodeAttribute()
    score = NumberAttribute()
    checkins = NumberAttribute()
    streak = NumberAttribute()
    reached = UnicodeAttribute()


_configured: dict[str, Any] = {}


def configure(settings: Settings) -> Connection:
    """Point every model at the table named by ``settings`` and return a shared low-level connection."""
    key = (settings.table_name, settings.dynamodb_endpoint, settings.region)
    if _configured.get("key") == key:
        cached: Connection = _configured["connection"]
        return cached
    SiyuItem.Meta.table_name = settings.table_name
    SiyuItem.Meta.region = settings.region
    SiyuItem.Meta.host = settings.dynamodb_endpoint  # type: ignore[attr-defined]
    SiyuItem._connection = None
    # One TableConnection (so one botocore client and pool) for every entity class, not one per class: fewer
    # clients to build on a cold start, and one place to meter.
    table_connection = SiyuItem._get_connection()
    for cls in SiyuItem.__subclasses__():
        cls._connection = table_connection
    connection: Connection = table_connection.connection
    _configured.update(key=key, connection=connection)
    return connection
