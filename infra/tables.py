"""The tables per profile and stage: point-in-time recovery as the profile says; in prod, deletion protection and
`Retain` so that neither a deleted stack nor a replacing update takes the data with it."""

from __future__ import annotations

from infra.cfn import Template, copied, properties, resource
from infra.profiles import Profile

#: Logical id -> the profile's `pitr` key.
TABLES = {"SiyuTable": "main", "IdempotencyTable": "idempotency"}
PROTECTED_STAGES = frozenset({"prod"})


def apply_tables(template: Template, profile: Profile, stage: str) -> Template:
    """PITR per the profile on both tables; deletion protection and Retain policies in protected stages only."""
    out = copied(template)
    protected = stage in PROTECTED_STAGES
    for logical_id, pitr_key in TABLES.items():
        props = properties(out, logical_id)
        props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": profile.pitr[pitr_key]}
        props["DeletionProtectionEnabled"] = protected
        policy = "Retain" if protected else "Delete"
        resource(out, logical_id).update({"DeletionPolicy": policy, "UpdateReplacePolicy": policy})
    return out
