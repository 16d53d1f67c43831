"""The REST API's stage throttle from the profile: a default for every method, so one runaway client (or a loop in an
integration) meets a 429 in the project's error shape (the THROTTLED gateway response) instead of the account's
regional limit, which the fire's shards and every other API in the account share."""

from __future__ import annotations

from infra.cfn import Template, copied, properties
from infra.profiles import Profile

REST_API = "RestAPI"


def apply_throttle(template: Template, profile: Profile) -> Template:
    """Stage-wide MethodSettings (`/*`, `*`) with the profile's rate and burst."""
    out = copied(template)
    properties(out, REST_API)["MethodSettings"] = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": profile.api_rate_per_second,
            "ThrottlingBurstLimit": profile.api_burst,
        }
    ]
    return out
