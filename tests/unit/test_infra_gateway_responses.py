"""infra/resources.json: the deployed API answers what API Gateway itself refuses in the app's error shape.

`make package` deep-merges the file into `chalice package`'s SAM template (chalice's TemplateDeepMerger); the
gateway responses ride on the RestAPI resource Chalice generates, so they are part of its definition and deployed
with it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chalice.package import TemplateDeepMerger

INFRA = Path(__file__).resolve().parents[2] / "infra" / "resources.json"


def _responses() -> dict[str, Any]:
    return dict(json.loads(INFRA.read_text(encoding="utf-8"))["Resources"]["RestAPI"]["Properties"]["GatewayResponses"])


def test_every_refusal_api_gateway_makes_itself_has_our_shape() -> None:
    responses = _responses()
    assert {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX", "REQUEST_TOO_LARGE"} <= set(responses)
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == 404  # an unknown path, not a 403
    assert responses["REQUEST_TOO_LARGE"]["StatusCode"] == 413
    for kind, response in responses.items():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, kind
        assert re.fullmatch(r"[a-z_]+", body["error"]["code"]), kind


def test_no_gateway_response_echoes_the_request() -> None:
    """API Gateway's default bodies quote the Authorization header back; ours are static text."""
    for kind, response in _responses().items():
        template = response["ResponseTemplates"]["application/json"]
        assert "$" not in template, kind  # no $context.error.message, $input, $method.request.header...
        assert "ResponseParameters" not in response, kind


def test_make_package_merges_them_into_chalices_rest_api() -> None:
    chalice_template = {
        "Resources": {
            "RestAPI": {
                "Type": "AWS::Serverless::Api",
                "Properties": {"StageName": "api", "DefinitionBody": {"swagger": "2.0", "paths": {}}},
            }
        }
    }
    merged = TemplateDeepMerger().merge(json.loads(INFRA.read_text(encoding="utf-8")), chalice_template)
    api = merged["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"
    assert api["Properties"]["DefinitionBody"] == {"swagger": "2.0", "paths": {}}  # Chalice's routes kept
    assert api["Properties"]["GatewayResponses"] == _responses()
