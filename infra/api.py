"""The REST API as deployed: a regional endpoint, and the stage's throttle from the profile.

Regional, not Chalice's default edge-optimized: the China regions have no edge-optimized APIs, the custom domain
WeCom's callbacks need is a regional one (docs/deploy.md, First-time setup), and WeCom calls from mainland China,
which CloudFront's global edges do not serve anyway; so one package serves both partitions.

The throttle is a default for every method, so one runaway client (or a loop in an integration) meets a 429 in the
project's error shape (the THROTTLED gateway response) instead of the account's regional limit, which the fire's
shards and every other API in the account share."""

from __future__ import annotations

from infra.cfn import Template, copied, properties
from infra.profiles import Profile

REST_API = "RestAPI"


def apply_api(template: Template, profile: Profile) -> Template:
    """A REGIONAL endpoint; stage-wide MethodSettings (`/*`, `*`) with the profile's rate and burst."""
    out = copied(template)
    properties(out, REST_API)["EndpointConfiguration"] = "REGIONAL"
    properties(out, REST_API)["MethodSettings"] = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": profile.api_rate_per_second,
            "ThrottlingBurstLimit": profile.api_burst,
        }
    ]
    return out
