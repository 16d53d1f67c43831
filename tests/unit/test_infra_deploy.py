"""`make deploy` / `make destroy` up to the AWS API: every call and its parameters, through botocore's Stubber.

No credentials reach AWS: the clients carry fake keys and every response is stubbed (an unstubbed call fails).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infra import deploy as dep
from infra.stack import CAPABILITIES
from infra.target import DeployError, Target, make_target
from tests.unit.offline_aws import no_ambient_aws  # noqa: F401  (autouse: no ambient AWS settings)

ZIP = b"PK\x05\x06" + b"\x00" * 18  # an empty zip archive


def template() -> dict[str, Any]:
    """A small stand-in for out/<stage>/sam.json (the infra helper's packager writes the real one)."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "APIHandler": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "./deployment.zip", "Handler": "app.app"},
            },
            "Fire": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./deployment.zip"}},
            "SiyuTable": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "x"}}},
        },
    }


def fake_packager(calls: list[tuple[str, str, str, Path]]) -> dep.Packager:
    def package(stage: str, profile: str, egress: str, out: Path) -> None:
        calls.append((stage, profile, egress, out))
        out.mkdir(parents=True, exist_ok=True)
        (out / "sam.json").write_text(json.dumps(template()))
        (out / "deployment.zip").write_bytes(ZIP)

    return package


class Stubs:
    """Three stubbed clients on fake credentials; `verify()` checks every stubbed call was made."""

    def __init__(self, region: str) -> None:
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name=region)
        self.clients = dep.Clients.for_session(session, region)
        self.cfn = Stubber(self.clients.cloudformation)
        self.s3 = Stubber(self.clients.s3)
        self.ssm = Stubber(self.clients.ssm)

    def __enter__(self) -> Stubs:
        for s in (self.cfn, self.s3, self.ssm):
            s.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.cfn, self.s3, self.ssm):
            s.deactivate()

    def verify(self) -> None:
        for s in (self.cfn, self.s3, self.ssm):
            s.assert_no_pending_responses()


def stack(status: str, outputs: dict[str, str] | None = None, name: str = "siyu-dev") -> dict[str, Any]:
    body: dict[str, Any] = {"StackName": name, "StackStatus": status, "CreationTime": "2026-12-01T00:00:00Z"}
    if outputs:
        body["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [body]}


def no_stack(stubs: Stubs, name: str = "siyu-dev") -> None:
    stubs.cfn.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        http_status_code=400,
        expected_params={"StackName": name},
    )


def expected_keys(target: Target, bucket: str) -> tuple[str, str, bytes]:
    zip_key = f"siyu/{target.stack}/{hashlib.sha256(ZIP).hexdigest()}.zip"
    body = json.dumps(dep.point_code_at(template(), bucket, zip_key), indent=1, sort_keys=True).encode()
    return zip_key, f"siyu/{target.stack}/{hashlib.sha256(body).hexdigest()}.template.json", body


def stub_uploads(stubs: Stubs, target: Target, bucket: str) -> str:
    zip_key, template_key, body = expected_keys(target, bucket)
    stubs.s3.add_response("put_object", {}, {"Bucket": bucket, "Key": zip_key, "Body": ZIP})
    stubs.s3.add_response(
        "put_object", {}, {"Bucket": bucket, "Key": template_key, "Body": body, "ContentType": "application/json"}
    )
    return template_key


def change_set_params(target: Target, url: str, kind: str, profile: str = "small", egress: str = "none") -> Any:
    return {
        "StackName": target.stack,
        "ChangeSetName": ANY,
        "ChangeSetType": kind,
        "TemplateURL": url,
        "Capabilities": CAPABILITIES,
        "Tags": [
            {"Key": "siyu:egress", "Value": egress},
            {"Key": "siyu:profile", "Value": profile},
            {"Key": "siyu:stage", "Value": target.stage},
        ],
    }


def stub_change_set(stubs: Stubs, target: Target, status: str, reason: str = "") -> None:
    described: dict[str, Any] = {"StackName": target.stack, "ChangeSetName": "cs", "Status": status}
    if reason:
        described["StatusReason"] = reason
    else:
        described["Changes"] = [
            {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "SiyuTable"}}
        ]
    stubs.cfn.add_response("describe_change_set", described, {"StackName": target.stack, "ChangeSetName": ANY})


def run_deploy(target: Target, stubs: Stubs, tmp_path: Path, egress: str = "none") -> tuple[list[str], list[Any]]:
    said: list[str] = []
    calls: list[Any] = []
    dep.deploy(
        target,
        bucket="siyu-artifacts",
        profile="small",
        egress=egress,
        clients=stubs.clients,
        packager=fake_packager(calls),
        out=tmp_path / "out",
        sleep=lambda s: None,
        say=said.append,
    )
    return said, calls


def test_first_deploy_creates_through_a_change_set_and_prints_the_next_steps(tmp_path: Path) -> None:
    target = make_target("dev", "us-east-1")
    with Stubs("us-east-1") as stubs:
        key = stub_uploads(stubs, target, "siyu-artifacts")
        url = f"https://siyu-artifacts.s3.us-east-1.amazonaws.com/{key}"
        no_stack(stubs)
        stubs.cfn.add_response("create_change_set", {"Id": "cs-arn"}, change_set_params(target, url, "CREATE"))
        stub_change_set(stubs, target, "CREATE_PENDING", reason="pending")
        stub_change_set(stubs, target, "CREATE_COMPLETE")
        stubs.cfn.add_response("execute_change_set", {}, {"StackName": "siyu-dev", "ChangeSetName": ANY})
        stubs.cfn.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"), {"StackName": "siyu-dev"})
        stubs.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": "siyu-dev"})
        api = "https://abc123.execute-api.us-east-1.amazonaws.com/api/"
        stubs.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", {"EndpointURL": api}), None)
        stubs.ssm.add_client_error(
            "get_parameter",
            service_error_code="ParameterNotFound",
            expected_params={"Name": "/siyu-dev/admin-token", "WithDecryption": False},
        )
        said, calls = run_deploy(target, stubs, tmp_path)
        stubs.verify()
    assert calls == [("dev", "small", "none", tmp_path / "out")]
    text = "\n".join(said)
    assert f"API URL: {api}" in text
    assert "https://abc123.execute-api.us-east-1.amazonaws.com/api/wecom/<tenant_id>/callback" in text
    assert "secret still to set: /siyu-dev/admin-token" in text
    assert "EgressIp" not in text
    assert "Add     SiyuTable" in text


def test_the_uploaded_template_points_every_function_at_the_zip() -> None:
    out = dep.point_code_at(template(), "b", "siyu/siyu-dev/z.zip")
    for name in ("APIHandler", "Fire"):
        assert out["Resources"][name]["Properties"]["CodeUri"] == {"Bucket": "b", "Key": "siyu/siyu-dev/z.zip"}
    assert out["Resources"]["SiyuTable"] == template()["Resources"]["SiyuTable"]
    assert template()["Resources"]["Fire"]["Properties"]["CodeUri"] == "./deployment.zip"  # the input is untouched


def test_an_existing_stack_is_updated_and_the_egress_ip_is_printed(tmp_path: Path) -> None:
    target = make_target("dev", "us-east-1")
    with Stubs("us-east-1") as stubs:
        key = stub_uploads(stubs, target, "siyu-artifacts")
        url = f"https://siyu-artifacts.s3.us-east-1.amazonaws.com/{key}"
        stubs.cfn.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": "siyu-dev"})
        stubs.cfn.add_response(
            "create_change_set", {"Id": "cs"}, change_set_params(target, url, "UPDATE", egress="nat-instance")
        )
        stub_change_set(stubs, target, "CREATE_COMPLETE")
        stubs.cfn.add_response("execute_change_set", {}, {"StackName": "siyu-dev", "ChangeSetName": ANY})
        stubs.cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": "siyu-dev"})
        outputs = {"EndpointURL": "https://x/api/", "EgressIp": "203.0.113.7"}
        stubs.cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", outputs), {"StackName": "siyu-dev"})
        stubs.ssm.add_response(
            "get_parameter",
            {"Parameter": {"Name": "/siyu-dev/admin-token", "Type": "SecureString", "Value": "enc"}},
            {"Name": "/siyu-dev/admin-token", "WithDecryption": False},
        )
        said, _ = run_deploy(target, stubs, tmp_path, egress="nat-instance")
        stubs.verify()
    text = "\n".join(said)
    assert "updating stack siyu-dev" in text
    assert "EgressIp: 203.0.113.7" in text
    assert "secret still to set" not in text


def test_a_change_set_with_no_changes_is_deleted_and_not_executed(tmp_path: Path) -> None:
    target = make_target("dev", "us-east-1")
    with Stubs("us-east-1") as stubs:
        stub_uploads(stubs, target, "siyu-artifacts")
        stubs.cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": "siyu-dev"})
        stubs.cfn.add_response("create_change_set", {"Id": "cs"}, None)
        reason = "The submitted information didn't contain changes. Submit different information to create a change set"
        stub_change_set(stubs, target, "FAILED", reason=reason)
        stubs.cfn.add_response("delete_change_set", {}, {"StackName": "siyu-dev", "ChangeSetName": ANY})
        stubs.cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", {"EndpointURL": "https://x/api/"}), None)
        stubs.ssm.add_response("get_parameter", {"Parameter": {"Name": "n", "Value": "v"}}, None)
        said, _ = run_deploy(target, stubs, tmp_path)
        stubs.verify()  # no execute_change_set was stubbed: calling it would have failed
    assert "no changes: stack siyu-dev already matches this template" in said


def test_a_failed_create_prints_the_events_reasons(tmp_path: Path) -> None:
    target = make_target("dev", "us-east-1")
    with Stubs("us-east-1") as stubs:
        stub_uploads(stubs, target, "siyu-artifacts")
        no_stack(stubs)
        stubs.cfn.add_response("create_change_set", {"Id": "cs"}, None)
        stub_change_set(stubs, target, "CREATE_COMPLETE")
        stubs.cfn.add_response("execute_change_set", {}, None)
        stubs.cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": "siyu-dev"})
        events = [
            ("siyu-dev", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", ""),
            ("SiyuTable", "AWS::DynamoDB::Table", "CREATE_FAILED", "Resource creation cancelled"),
            ("FireRole", "AWS::IAM::Role", "CREATE_FAILED", "API: iam:CreateRole User is not authorized"),
            ("siyu-dev", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
            ("Old", "AWS::IAM::Role", "DELETE_FAILED", "an earlier operation's failure"),
        ]
        stubs.cfn.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    {
                        "StackId": "id",
                        "EventId": str(i),
                        "StackName": "siyu-dev",
                        "LogicalResourceId": lid,
                        "ResourceType": rtype,
                        "ResourceStatus": status,
                        "Timestamp": "2026-12-01T00:00:00Z",
                        **({"ResourceStatusReason": reason} if reason else {}),
                    }
                    for i, (lid, rtype, status, reason) in enumerate(events)
                ]
            },
            {"StackName": "siyu-dev"},
        )
        with pytest.raises(DeployError) as failed:
            run_deploy(target, stubs, tmp_path)
        stubs.verify()
    message = str(failed.value)
    assert "ended ROLLBACK_COMPLETE" in message
    assert "FireRole CREATE_FAILED: API: iam:CreateRole User is not authorized" in message
    assert "SiyuTable CREATE_FAILED: Resource creation cancelled" in message
    assert "earlier operation" not in message


def test_a_stack_left_rolled_back_must_be_destroyed_first(tmp_path: Path) -> None:
    target = make_target("dev", "us-east-1")
    with Stubs("us-east-1") as stubs:
        stub_uploads(stubs, target, "siyu-artifacts")
        stubs.cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), None)
        with pytest.raises(DeployError, match="make destroy"):
            run_deploy(target, stubs, tmp_path)
        stubs.verify()


def test_china_regions_use_the_aws_cn_partition_and_its_s3_endpoints(tmp_path: Path) -> None:
    target = make_target("prod", "cn-northwest-1")
    assert (target.partition, target.stack) == ("aws-cn", "siyu-prod")
    with Stubs("cn-northwest-1") as stubs:
        key = stub_uploads(stubs, target, "siyu-artifacts")
        url = f"https://siyu-artifacts.s3.cn-northwest-1.amazonaws.com.cn/{key}"
        no_stack(stubs, "siyu-prod")
        stubs.cfn.add_response("create_change_set", {"Id": "cs"}, change_set_params(target, url, "CREATE"))
        stub_change_set(stubs, target, "CREATE_COMPLETE")
        stubs.cfn.add_response("execute_change_set", {}, None)
        stubs.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", name="siyu-prod"), None)
        stubs.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", name="siyu-prod"), None)
        stubs.ssm.add_client_error("get_parameter", service_error_code="ParameterNotFound")
        said, _ = run_deploy(target, stubs, tmp_path)
        stubs.verify()
    assert "--region cn-northwest-1" in "\n".join(said)


def test_destroy_prod_says_the_tables_are_kept_and_waits_for_the_delete() -> None:
    target = make_target("prod", "us-east-1")
    said: list[str] = []
    with Stubs("us-east-1") as stubs:
        stubs.cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE", name="siyu-prod"), None)
        stubs.cfn.add_response("delete_stack", {}, {"StackName": "siyu-prod"})
        stubs.cfn.add_response("describe_stacks", stack("DELETE_IN_PROGRESS", name="siyu-prod"), None)
        stubs.cfn.add_client_error("describe_stacks", "ValidationError", "Stack with id siyu-prod does not exist")
        assert dep.destroy(target, clients=stubs.clients, sleep=lambda s: None, say=said.append)
        stubs.verify()
    text = "\n".join(said)
    assert "['siyu-prod-main', 'siyu-prod-idempotency']" in text
    assert "--table-name siyu-prod-main --no-deletion-protection-enabled" in text
    assert "aws dynamodb delete-table --region us-east-1 --table-name siyu-prod-idempotency" in text
    assert "stack siyu-prod: DELETE_COMPLETE" in text


def test_destroy_of_a_missing_stack_does_nothing() -> None:
    target = make_target("dev", "us-east-1")
    said: list[str] = []
    with Stubs("us-east-1") as stubs:
        no_stack(stubs)
        assert not dep.destroy(target, clients=stubs.clients, sleep=lambda s: None, say=said.append)
        stubs.verify()
    assert said == ["no stack siyu-dev: nothing to delete"]


def test_the_alarm_email_is_set_on_create_and_kept_on_an_update_without_one() -> None:
    from infra.stack import alarm_email_parameters

    assert alarm_email_parameters("CREATE", "ops@example.edu", None) == [
        {"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.edu"}
    ]
    assert alarm_email_parameters("CREATE", None, None) == []  # the template's default: no subscription
    subscribed = {"StackStatus": "UPDATE_COMPLETE", "Parameters": [{"ParameterKey": "AlarmEmail"}]}
    assert alarm_email_parameters("UPDATE", None, subscribed) == [
        {"ParameterKey": "AlarmEmail", "UsePreviousValue": True}
    ]
    assert alarm_email_parameters("UPDATE", None, {"StackStatus": "UPDATE_COMPLETE"}) == []  # a stack from before
    assert alarm_email_parameters("UPDATE", "new@example.edu", subscribed)[0]["ParameterValue"] == "new@example.edu"


def test_deploy_passes_the_alarm_email_to_the_change_set(tmp_path: Path) -> None:
    target = make_target("dev", "us-east-1")
    with Stubs("us-east-1") as stubs:
        key = stub_uploads(stubs, target, "siyu-artifacts")
        url = f"https://siyu-artifacts.s3.us-east-1.amazonaws.com/{key}"
        no_stack(stubs)
        expected = {
            **change_set_params(target, url, "CREATE"),
            "Parameters": [{"ParameterKey": "AlarmEmail", "ParameterValue": "ops@example.edu"}],
        }
        stubs.cfn.add_response("create_change_set", {"Id": "cs-arn"}, expected)
        stub_change_set(stubs, target, "CREATE_COMPLETE")
        stubs.cfn.add_response("execute_change_set", {}, {"StackName": "siyu-dev", "ChangeSetName": ANY})
        stubs.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"), {"StackName": "siyu-dev"})
        stubs.cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", {"EndpointURL": "https://x/api/"}), None)
        stubs.ssm.add_response("get_parameter", {"Parameter": {"Name": "n", "Value": "v"}}, None)
        dep.deploy(
            target,
            bucket="siyu-artifacts",
            profile="small",
            egress="none",
            clients=stubs.clients,
            packager=fake_packager([]),
            out=tmp_path / "out",
            sleep=lambda s: None,
            say=lambda line: None,
            alarm_email="ops@example.edu",
        )
        stubs.verify()
