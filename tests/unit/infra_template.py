"""A small stand-in for `chalice package`'s output (the five functions, their roles, the REST API) with
infra/resources.json merged in as `make package` merges it: what the packaging steps' unit tests run on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalice.package import TemplateDeepMerger

from infra.cfn import FUNCTIONS

RESOURCES = Path(__file__).resolve().parents[2] / "infra" / "resources.json"

#: The form the policy files take (issue 12's contract): pseudo parameters written literally, one IAM policy variable.
SAMPLE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "MainTable",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": [
                "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-main",
                "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-main/index/*",
            ],
        },
        {
            "Sid": "MetricsWildcard",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "Siyu"}},
        },
        {
            "Sid": "OwnParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/"
            "${aws:username}",
        },
    ],
}


def _function(chalice_name: str, role: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "Runtime": "python3.11",
        "Handler": f"app.{chalice_name}",
        "CodeUri": "./deployment.zip",
        "Tracing": "PassThrough",
        "Timeout": 300,
        "MemorySize": 512,
        "Environment": {"Variables": {"POWERTOOLS_LOG_LEVEL": "INFO", "SIYU_STAGE": "dev"}},
        "Role": {"Fn::GetAtt": [role, "Arn"]},
    }
    if chalice_name == "backstop":
        props["Events"] = {"BackstopEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}}
    return {"Type": "AWS::Serverless::Function", "Properties": props}


def chalice_template() -> dict[str, Any]:
    """A fresh template each call: Chalice's shape (role ids as Chalice names them) plus infra/resources.json."""
    resources: dict[str, Any] = {}
    for function in FUNCTIONS:
        role = "ApiHandlerRole" if function.logical_id == "APIHandler" else f"{function.logical_id}Role"
        resources[role] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [{"PolicyName": f"{role}Policy", "PolicyDocument": json.loads(json.dumps(SAMPLE_POLICY))}],
            },
        }
        resources[function.logical_id] = _function(function.chalice_name, role)
    resources["RestAPI"] = {
        "Type": "AWS::Serverless::Api",
        "Properties": {"StageName": "api", "DefinitionBody": {"swagger": "2.0", "paths": {}}},
    }
    chalice = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": resources,
    }
    merged: dict[str, Any] = TemplateDeepMerger().merge(json.loads(RESOURCES.read_text(encoding="utf-8")), chalice)
    return merged


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A resource's Properties (what the steps' tests read)."""
    found: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return found
