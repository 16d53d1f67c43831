"""Keys of the customer groups' items (issue 10): codes, content, members and their history, the group sync, group
facts and activity, check-ins, points and leaderboards. Part of the one keys module (re-exported by keys/__init__.py,
so callers write ``keys.group_member_sk``)."""

from __future__ import annotations

# --- group codes, group content, the group naming template (issue 10 §2-§3) -------------------------------------
# Beside the groups in the tenant partition; none starts with GROUP_PREFIX, so listing groups never meets them.
GROUP_CODE_PREFIX = "GCODE#"  # a group live code (群活码)
GROUP_CODE_CHAT_PREFIX = "GCODECHAT#"  # a group → the code it is on (rotation finds a group's code with one read)
GROUP_CONTENT_PREFIX = "GCONTENT#"  # a piece of group content (群规, 公告, 欢迎语, FAQ)
GROUP_NAMING_SK = "GNAMING"  # the tenant's group naming template


def group_code_sk(code_id: str) -> str:
    return f"{GROUP_CODE_PREFIX}{code_id}"


def group_code_chat_sk(chat_id: str) -> str:
    return f"{GROUP_CODE_CHAT_PREFIX}{chat_id}"


def group_content_sk(content_id: str) -> str:
    return f"{GROUP_CONTENT_PREFIX}{content_id}"


def group_quota_sk(month: str) -> str:
    """A group's quota item of one local month (in ``group_pk``): WeCom's per-group receive limit and daily caps."""
    return f"GQUOTA#{month}"


# --- group members, their history, the group sync (docs/data-model.md, "Group members and sync") ---------------
GROUP_MEMBER_PREFIX = "M#"  # in group_pk: one member's current record
GROUP_CHANGE_PREFIX = "H#"  # in group_pk: the member's history, one item per join or leave
GROUP_SYNC_JOB_PREFIX = "JOB#"
GROUP_SYNC_HEAD_SK = "CURRENT"


def group_member_sk(member_key: str) -> str:
    return f"{GROUP_MEMBER_PREFIX}{member_key}"


def group_changes_of(member_key: str) -> str:
    """The prefix of one member's history in a group (erasure finds it by the member's key)."""
    return f"{GROUP_CHANGE_PREFIX}{member_key}#"


def group_change_sk(member_key: str, at: int, kind: str) -> str:
    """One join or leave: a replay of it has the same key."""
    return f"{group_changes_of(member_key)}{at:010d}#{kind}"


def member_groups_pk(tenant_id: str, member_key: str) -> str:
    """gsi1: the groups a member has a record in (erasure's way from a customer to their groups)."""
    return f"T#{tenant_id}#GM#{member_key}"


def group_sync_pk(tenant_id: str) -> str:
    """The tenant's group syncs: one item per job, and the head naming the current one."""
    return f"T#{tenant_id}#GSYNC"


def group_sync_job_sk(job_id: str) -> str:
    return f"{GROUP_SYNC_JOB_PREFIX}{job_id}"


# --- group facts for metrics and member activity (issue 10 §4, §7; adapters/dynamodb/group_facts.py) -------------
GROUP_FACT_PREFIX = "GF#"  # a group fact's identity marker, in the group's partition
GROUP_FIRST_PREFIX = "GD#"  # a first occurrence in a local day (a daily speaker, a task completer)
GROUP_ACTIVITY_PREFIX = "ACT#"  # a member's activity record
MEMBER_GROUP_PREFIX = "MG#"  # in the customer's partition: a group holding their activity (erasure's lead)
GROUP_DIMENSION = "group"  # the metrics dimension of a group's day counters (metric_pk)
GROUP_CODE_DIMENSION = "group_code"  # a group code's day counters: the joins through it
CHANNEL_DIMENSION = "channel"  # a channel's day counters (``uv``; ``group_joins`` through its group codes)
GROUP_ACTIVITY_SETTINGS_SK = "SETTINGS#group_activity"  # in the tenant partition: the default activity window


def group_fact_sk(fact: str, ref: str) -> str:
    """A fact's marker, keyed by its kind and identity alone: a replay finds it whatever else it carries."""
    return f"{GROUP_FACT_PREFIX}{fact}#{ref}"


def group_first_sk(first: str, member: str, date: str) -> str:
    """The first occurrence of ``member`` as a ``first`` (speaker, completer) on a local ``date``: by member first,
    so erasure deletes a member's markers by prefix (``group_first_prefix``)."""
    return f"{group_first_prefix(first, member)}{date}"


def group_first_prefix(first: str, member: str) -> str:
    return f"{GROUP_FIRST_PREFIX}{first}#{member}#"


def member_group_sk(chat_id: str) -> str:
    """In a customer's partition: a group they spoke or checked in, so erasure finds their records there."""
    return f"{MEMBER_GROUP_PREFIX}{chat_id}"


def group_activity_sk(member: str) -> str:
    return f"{GROUP_ACTIVITY_PREFIX}{member}"


def group_activity_gsi_pk(tenant_id: str, chat_id: str) -> str:
    """The gsi1 partition of one group's activity records, sorted by when each member last spoke."""
    return f"T#{tenant_id}#G#{chat_id}#ACT"


def group_activity_gsi_sk(last_spoke_utc: str, member: str) -> str:
    """``<last spoke, UTC key>#<member>``: a window is one range read from its start (``utc_key``)."""
    return f"{last_spoke_utc}#{member}"


# --- check-ins, points and leaderboards (issue 10 §6) --------------------------------------------------------------
# A customer's points items live in their partition (erasure deletes them); a group's leaderboard lives in a board
# partition of its own, each entry named by the customer's standing (``PTS#G#<chat>``), which erasure follows.
CHECKIN_RULE_SK = "CKRULE"  # the tenant partition: the tenant's default check-in rule
POINTS_SK = "PTS"  # the customer's balance (balance, earned, spent): what a redemption's condition reads
POINTS_REF_PREFIX = "PTS#R#"
LEDGER_PREFIX = "PTS#L#"
STANDING_PREFIX = "PTS#G#"
CHECKIN_PREFIX = "CK#"
BOARD_DIGITS = 12  # the inverted score's width: scores up to 10**12 - 1 (domain/points.MAX_SCORE)


def checkin_rule_sk(chat_id: str) -> str:
    """A group's check-in rule override, beside the tenant default in the tenant partition."""
    return f"{CHECKIN_RULE_SK}#{chat_id}"


def points_ref_sk(ref: str) -> str:
    """A ledger entry's claim by its ref (a credit's event digest, ``rd:<redemption_id>``): written once."""
    return f"{POINTS_REF_PREFIX}{ref}"


def ledger_sk(at_utc: str, ref: str) -> str:
    """A ledger entry in time order (``PTS#L#<UTC key>#<ref>``): the ledger pages newest first."""
    return f"{LEDGER_PREFIX}{at_utc}#{ref}"


def standing_sk(chat_id: str) -> str:
    """A customer's standing in one group: score, check-ins, streak (and what names their board entry)."""
    return f"{STANDING_PREFIX}{chat_id}"


def checkin_sk(chat_id: str, day: str) -> str:
    """The one check-in of a customer in a group on a tenant-local day: a conditional put claims the day."""
    return f"{CHECKIN_PREFIX}{chat_id}#{day}"


def board_pk(tenant_id: str, chat_id: str) -> str:
    """A group's leaderboard: one entry per member with a score, sorted best first."""
    return f"T#{tenant_id}#LB#{chat_id}"


def board_sk(score: int, reached_utc: str, customer_id: str) -> str:
    """``<10**12-1-score, zero-padded>#<UTC key the score was reached>#<cid>``: ascending order is highest score
    first, and among equals who got there first; the top N is one Query with Limit N."""
    return f"{10**BOARD_DIGITS - 1 - score:0{BOARD_DIGITS}d}#{reached_utc}#{customer_id}"
