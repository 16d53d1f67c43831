"""Chalice's SAM template (with infra/resources.json merged in) -> the template to deploy: every packaging step in
order, then the record of what was built in the template's Metadata."""

from __future__ import annotations

from infra import alarms, api, egress, fire_dlq, functions, logs, policies, tables, waivers
from infra.cfn import Template
from infra.profiles import Profile

STAGES = ("dev", "prod")


def build(template: Template, *, stage: str, profile: Profile, egress_option: str) -> Template:
    """The deployable template for the stage, profile and egress option (the input is not changed)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    out = policies.wrap_role_policies(template)
    out = functions.apply_profile(out, profile)
    out = logs.add_log_groups(out, profile)
    out = tables.apply_tables(out, profile, stage)
    out = fire_dlq.add_fire_dlq(out, profile)
    out = alarms.select_alarms(out, profile)
    out = alarms.add_dlq_alarms(out)
    out = api.apply_api(out, profile)
    out = egress.apply_egress(out, egress_option)
    out = waivers.apply_waivers(out, profile)
    out.setdefault("Metadata", {})["Siyu"] = {"stage": stage, "profile": profile.name, "egress": egress_option}
    return out
