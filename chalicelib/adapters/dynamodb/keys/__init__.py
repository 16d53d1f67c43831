"""Every key string of the single table, built in one place. Every key starts with the tenant.

See docs/data-model.md for the access pattern each key serves.
"""

from __future__ import annotations


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


TENANT_SK = "TENANT"
PROFILE_SK = "PROFILE"
REFERRAL_SK = "REFERRAL"  # in the customer's partition: the id of their referral code (老带新), erased with them
ALIAS_SK = "ID"
STAFF_PREFIX = "STAFF#"
TOKEN_PREFIX = "TOKEN#"
TAG_GROUP_PREFIX = "TAGGROUP#"
CHANNEL_PREFIX = "CH#"
PLAN_PREFIX = "PLAN#"
PLAN_VERSION_PREFIX = "V#"
GROUP_PREFIX = "GRP#"  # a customer group's item in the tenant partition (its members live in group_pk)
FACT_PREFIX = "F#"


TENANTS_GSI_PK = "TENANTS"
# The local stack's repair queue (deployed it is SQS): one partition across tenants, as a queue is; each item names
# its tenant and is handled only for it (adapters/dynamodb/repairs.py).
REPAIR_QUEUE_PK = "REPAIRQ"


def token_sk(token_hash: str) -> str:
    return f"{TOKEN_PREFIX}{token_hash}"


def staff_sk(userid: str) -> str:
    return f"{STAFF_PREFIX}{userid}"


def tag_group_sk(group_id: str) -> str:
    return f"{TAG_GROUP_PREFIX}{group_id}"


def group_sk(chat_id: str) -> str:
    """A customer group (WeCom's state and ops' setup), beside the channels: the tenant's groups list with one Query."""
    return f"{GROUP_PREFIX}{chat_id}"


def group_pk(tenant_id: str, chat_id: str) -> str:
    """The partition of one group's own records: its members and their join/leave history, its activity."""
    return f"T#{tenant_id}#G#{chat_id}"


def channel_sk(channel_id: str) -> str:
    return f"{CHANNEL_PREFIX}{channel_id}"


def plan_sk(plan_id: str) -> str:
    """A plan's head (current version, status, rev), in the tenant partition so plans list with one Query."""
    return f"{PLAN_PREFIX}{plan_id}"


def plan_name_sk(name_key: str) -> str:
    """A plan name's claim (→ the plan holding it), beside the heads: plan names are unique per tenant."""
    return f"PLANNAME#{name_key}"


def plan_pk(tenant_id: str, plan_id: str) -> str:
    """The partition holding every version of one plan."""
    return f"T#{tenant_id}#PL#{plan_id}"


def plan_version_sk(version: int) -> str:
    return f"{PLAN_VERSION_PREFIX}{version:06d}"


def customer_pk(tenant_id: str, customer_id: str) -> str:
    return f"T#{tenant_id}#C#{customer_id}"


def fact_sk(create_time: int, digest: str) -> str:
    return f"{FACT_PREFIX}{create_time:010d}#{digest}"


def customers_gsi_pk(tenant_id: str) -> str:
    """The tenant's customer list: a gsi2 partition (keys only), newest first by ``customers_gsi_sk``. Profiles
    written before gsi2 carry these keys as ``gsi1pk``/``gsi1sk`` until the backfill moves them."""
    return f"T#{tenant_id}#CUSTOMERS"


def customers_gsi_sk(added_at: str, customer_id: str) -> str:
    """``<added_at as a UTC key>#<cid>``: unique, and in time order whatever the tenant's offset."""
    return f"{added_at}#{customer_id}"


def alias_pk(tenant_id: str, kind: str, digest: str) -> str:
    return f"T#{tenant_id}#ID#{kind}#{digest}"


def staff_day_pk(tenant_id: str, userid: str) -> str:
    return f"T#{tenant_id}#ST#{userid}"


def staff_day_sk(date: str) -> str:
    return f"D#{date}"


def ignored_pk(tenant_id: str, date: str) -> str:
    return f"T#{tenant_id}#IGN#{date}"


def ignored_sk(create_time: int, digest: str) -> str:
    return f"{create_time:010d}#{digest}"


def channel_count_attr(channel_id: str) -> str:
    return f"c#{channel_id}"


FULL_PREFIX = "full#"


def full_attr(date: str) -> str:
    """A channel's string set of the staff at their cap on ``date``."""
    return f"{FULL_PREFIX}{date}"


def full_date_of(attr: str) -> str:
    """The date a ``full_attr`` names."""
    return attr.removeprefix(FULL_PREFIX)


# --- business events (POST /t/{tenant}/events) -------------------------------------------------------------------
EVENT_PREFIX = "E#"


def event_sk(digest: str) -> str:
    """A business event's fact, keyed by its event_id digest alone: a replay finds it whatever its other fields."""
    return f"{EVENT_PREFIX}{digest}"


def tenant_events_pk(tenant_id: str) -> str:
    """Facts of events about no customer (exposure): one tenant partition, read only to rebuild counters."""
    return f"T#{tenant_id}#EV"


def metric_pk(tenant_id: str, dimension: str, dimension_id: str) -> str:
    """Per-dimension day counters (docs/data-model.md, metrics): e.g. ``M#channel#<channel_id>``."""
    return f"T#{tenant_id}#M#{dimension}#{dimension_id}"


def metric_sk(date: str) -> str:
    return f"D#{date}"


# --- silence timers, the quota item, staff tasks as the timeline reads them ---------------------------------------
SILENCE_PREFIX = "SIL#"
ENROLLMENT_PREFIX = "ENR#"  # a customer's enrollment in a plan (erasure follows these to the plans' rosters)
TASK_SK = "TASK"  # a staff task's head in its own partition


def silence_sk(plan_id: str) -> str:
    """A silence timer, in the customer's partition (erasure deletes it), one per plan."""
    return f"{SILENCE_PREFIX}{plan_id}"


def silence_gsi_pk(tenant_id: str, due: str) -> str:
    """The gsi1 partition of a due time: one per tenant and UTC date (``due`` is a UTC key "YYYY-MM-DD…")."""
    return f"T#{tenant_id}#SIL#{due[:10]}"


def silence_gsi_sk(due: str, customer_id: str, plan_id: str) -> str:
    return f"{due}#{customer_id}#{plan_id}"


def silence_gsi_upto(until: str) -> str:
    """The greatest gsi1 sort key of a timer due at ``until`` (every ``<due>#…`` sorts below it)."""
    return f"{until}#~"


def quota_day_attr(day_key: str) -> str:
    """The month quota item's counter of one capped day."""
    return f"d#{day_key}"


def bucket_of_pk(pk: str) -> str:
    """The bucket id in a bucket partition key (``bucket_pk``'s inverse)."""
    return pk.split("#BKT#", 1)[1]


def customer_of_pk(pk: str) -> str:
    """The customer id in a customer partition key (``customer_pk``'s inverse)."""
    return pk.rsplit("#C#", 1)[1]


def touches_of_customer(customer_id: str) -> str:
    """The sort-key prefix of a customer's touches in a bucket partition."""
    return touch_sk_prefix("customer", customer_id)


# --- SOP: buckets, their plan listing, staff tasks ---------------------------------------------------------------


def bucket_pk(tenant_id: str, bucket_id: str) -> str:
    return f"T#{tenant_id}#BKT#{bucket_id}"


def plan_buckets_pk(tenant_id: str, plan_id: str, version: int) -> str:
    return f"T#{tenant_id}#PLB#{plan_id}#{version}"


def task_pk(tenant_id: str, task_id: str) -> str:
    return f"T#{tenant_id}#TASK#{task_id}"


def tasks_index_pk(tenant_id: str) -> str:
    """The tenant's tasks index partition (gsi1), sorted ``<due UTC>#<task_id>``."""
    return f"T#{tenant_id}#TASKS"


def roster_pk(tenant_id: str, plan_id: str) -> str:
    """A plan's roster of enrolled customers (sk = customer id), what its enrollment listing pages over."""
    return f"T#{tenant_id}#PLE#{plan_id}"


# --- SOP kernel: subjects, enrollments, touches, buckets, tasks, jobs (issue 8 §1) --------------------------------
# A subject (domain/sop.py: Subject) is a customer today, a group chat next. A customer's SOP items live in the
# customer's partition (erasure deletes them with it); another kind gets a partition of its own.

BUCKET_SK = "BUCKET"
TASK_SK = "TASK"
TASK_RECIPIENTS_SK = "RCPT"
JOB_SK = "JOB"
CURSOR_SK = "CURSOR"
ENROLLMENT_PREFIX = "ENR#"


def subject_pk(tenant_id: str, kind: str, subject_id: str) -> str:
    """The partition of a subject's enrollments: the customer's own partition for a customer."""
    if kind == "customer":
        return customer_pk(tenant_id, subject_id)
    return f"T#{tenant_id}#S#{kind}#{subject_id}"


def enrollment_sk(plan_id: str) -> str:
    return f"{ENROLLMENT_PREFIX}{plan_id}"


def touch_sk(kind: str, subject_id: str, occurrence_key: str) -> str:
    """A touch in its bucket: ``<kind>#<id>#<enrollment>#<step>#<occurrence>`` (``Touch.key``), so a subject's
    touches in a bucket share a prefix (``touch_sk_prefix``: erasure deletes them by it)."""
    return f"{touch_sk_prefix(kind, subject_id)}{occurrence_key}"


def touch_sk_prefix(kind: str, subject_id: str) -> str:
    return f"{kind}#{subject_id}#"


def due_buckets_pk(tenant_id: str, day: str) -> str:
    """gsi1 partition of the buckets still open on a UTC day (``YYYYMMDD``): what the backstop sweeps."""
    return f"T#{tenant_id}#DUE#{day}"


def due_buckets_sk(minute: str, bucket_id: str) -> str:
    return f"{minute}#{bucket_id}"


def due_buckets_upto(until_minute: str) -> str:
    """The gsi1 sort-key bound of the buckets due at or before ``until_minute`` (every bucket id of that minute)."""
    return until_minute + "~"


def plan_bucket_sk(minute: str, step_id: str) -> str:
    return f"{minute}#{step_id}"


def tasks_index_sk(due_utc: str, task_id: str) -> str:
    return f"{due_utc}#{task_id}"


def task_sync_pk(tenant_id: str) -> str:
    """Where the task status sync resumes."""
    return f"T#{tenant_id}#TASKSYNC"


def job_pk(tenant_id: str, job_id: str) -> str:
    return f"T#{tenant_id}#JOB#{job_id}"


def running_jobs_pk(tenant_id: str) -> str:
    """gsi1 partition of the tenant's running bulk jobs."""
    return f"T#{tenant_id}#JOBS"


def touch_entry_ref(subject_id: str, occurrence_key: str) -> str:
    """What a customer's timeline entry of a skipped or dropped touch is keyed by (``touch_suffix`` of it)."""
    return f"{subject_id}#{occurrence_key}"


# --- delivery: msgid claims and fire leases (issue 9 §2) ----------------------------------------------------------
MSGID_SK = "MSGID"
LEASE_SK = "LEASE"


def msgid_pk(tenant_id: str, msgid: str) -> str:
    """A WeCom msgid's claim: the one Siyu task it belongs to."""
    return f"T#{tenant_id}#MSGID#{msgid}"


def lease_pk(tenant_id: str, name: str) -> str:
    """A lease (a bucket's fire, or one shard of it): who holds it and until when."""
    return f"T#{tenant_id}#LEASE#{name}"


# The customer groups' keys (issue 10) live in keys/groups.py, the dashboard links' (issue 11) in keys/dashboard.py,
# so this module stays readable; they are re-exported, so callers write keys.group_member_sk as for any other key.
from chalicelib.adapters.dynamodb.keys.alerts import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.console import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.crm import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.dashboard import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.groups import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.jobs import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.library import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.metrics import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.webhooks import *  # noqa: E402, F403
from chalicelib.adapters.dynamodb.keys.wecom_stats import *  # noqa: E402, F403
