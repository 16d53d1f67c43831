"""The REST API as deployed: a regional endpoint, and the stage's throttle from the profile.

Regional, not Chalice's default edge-optimized: the China regions have no edge-optimized APIs, the custom domain
WeCom's callbacks need is a regional one (docs/deploy.md, First-time setup), and WeCom calls from mainland China,
which CloudFront's global edges do not serve anyway; so one package serves both partitions.

The throttle is a default for every method, so one runaway client (or a loop in an integration) meets a 429 in the
project's error shape (the THROTTLED gateway response) instead of the account's regional limit, which the fire's
shards and every other API in the account share.

Each path's methods become one ``x-amazon-apigateway-any-method``. Chalice writes one operation per method, and the
app declares every method of every path (its real ones, and the rest answering 405 from chalicelib/api/fallback.py),
so the definition held 7 identical Lambda-proxy operations per path: about 430 KB of a template CloudFormation caps
at 1 MB. They differ only in ``consumes``/``produces``, which a proxy integration ignores: the Lambda gets the
method and routes it, so one operation per path answers exactly as seven did, in about a fifth of the bytes."""

from __future__ import annotations

import json
from typing import Any

from infra.cfn import Template, TemplateError, copied, properties
from infra.profiles import Profile

REST_API = "RestAPI"
ANY_METHOD = "x-amazon-apigateway-any-method"


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
    body = properties(out, REST_API).get("DefinitionBody", {})
    body["paths"] = {path: _one_operation(path, methods) for path, methods in body.get("paths", {}).items()}
    return out


def _one_operation(path: str, methods: dict[str, Any]) -> dict[str, Any]:
    """A path's operations as one ANY operation; refused unless they all integrate the same way (a path that needs
    an operation of its own, such as a mock or an authorizer, must not be folded into the others silently)."""
    operations = list(methods.values())
    integrations = {json.dumps(op.get("x-amazon-apigateway-integration"), sort_keys=True) for op in operations}
    if len(integrations) != 1 or operations[0].get("x-amazon-apigateway-integration", {}).get("type") != "aws_proxy":
        raise TemplateError(f"{path}: its methods integrate differently; they cannot share one operation")
    first = operations[0]
    merged: dict[str, Any] = {
        "responses": first["responses"],
        "x-amazon-apigateway-integration": first["x-amazon-apigateway-integration"],
    }
    if "parameters" in first:
        merged["parameters"] = first["parameters"]
    return {ANY_METHOD: merged}
