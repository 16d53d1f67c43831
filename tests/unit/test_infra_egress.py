"""infra/egress.py: the fixed-IP egress options for WeCom's trusted-IP rule (errcode 60020)."""

from __future__ import annotations

import base64

import pytest

from infra import egress
from infra.cfn import FUNCTIONS, Template, of_type
from tests.unit.infra_template import chalice_template, props

VPC_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}


@pytest.fixture
def template() -> Template:
    return chalice_template()


def test_none_changes_nothing(template: Template) -> None:
    assert egress.apply_egress(template, "none") == template


def test_an_unknown_option_is_refused(template: Template) -> None:
    with pytest.raises(ValueError, match="egress must be one of none, nat-gateway, nat-instance"):
        egress.apply_egress(template, "proxy")


@pytest.mark.parametrize("option", ["nat-gateway", "nat-instance"])
def test_every_function_runs_in_the_private_subnets_with_vpc_access(template: Template, option: str) -> None:
    out = egress.apply_egress(template, option)
    for function in FUNCTIONS:
        assert props(out, function.logical_id)["VpcConfig"] == {
            "SecurityGroupIds": [{"Ref": "FunctionSecurityGroup"}],
            "SubnetIds": [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}],
        }
    for role in ("ApiHandlerRole", "FireRole", "BackstopRole", "TaskSyncRole", "SilenceRole"):
        assert props(out, role)["ManagedPolicyArns"] == [VPC_POLICY]
    assert "ManagedPolicyArns" not in props(out, "SchedulerRole")  # the Scheduler's role is not a function's
    assert out["Outputs"]["EgressIp"]["Value"] == {"Ref": "EgressEip"}


@pytest.mark.parametrize("option", ["nat-gateway", "nat-instance"])
def test_two_zones_and_dynamodb_skips_the_nat(template: Template, option: str) -> None:
    out = egress.apply_egress(template, option)
    zones = [props(out, s)["AvailabilityZone"] for s in ("PrivateSubnetA", "PrivateSubnetB")]
    assert zones == [{"Fn::Select": [0, {"Fn::GetAZs": ""}]}, {"Fn::Select": [1, {"Fn::GetAZs": ""}]}]
    endpoint = props(out, "DynamoDbEndpoint")
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert endpoint["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.dynamodb"}
    assert endpoint["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]
    for subnet in ("PrivateSubnetA", "PrivateSubnetB"):
        assert props(out, f"{subnet}Routes") == {
            "SubnetId": {"Ref": subnet},
            "RouteTableId": {"Ref": "PrivateRouteTable"},
        }
    assert props(out, "PublicDefaultRoute")["GatewayId"] == {"Ref": "InternetGateway"}
    [rule] = props(out, "FunctionSecurityGroup")["SecurityGroupEgress"]
    assert (rule["FromPort"], rule["ToPort"], rule["CidrIp"]) == (443, 443, "0.0.0.0/0")
    assert "SecurityGroupIngress" not in props(out, "FunctionSecurityGroup")


def test_nat_gateway_holds_the_elastic_ip(template: Template) -> None:
    out = egress.apply_egress(template, "nat-gateway")
    assert props(out, "NatGateway") | {"Tags": None} == {
        "AllocationId": {"Fn::GetAtt": ["EgressEip", "AllocationId"]},
        "SubnetId": {"Ref": "PublicSubnet"},
        "Tags": None,
    }
    assert props(out, "PrivateDefaultRoute")["NatGatewayId"] == {"Ref": "NatGateway"}
    assert not of_type(out, "AWS::EC2::Instance")


def test_nat_instance_forwards_and_masquerades(template: Template) -> None:
    out = egress.apply_egress(template, "nat-instance")
    instance = props(out, "NatInstance")
    assert instance["InstanceType"] == "t4g.nano"
    assert instance["ImageId"] == "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64}}"
    assert instance["SourceDestCheck"] is False and instance["SubnetId"] == {"Ref": "PublicSubnet"}
    script = instance["UserData"]["Fn::Base64"]
    assert script.startswith("#!/bin/bash\n") and "net.ipv4.ip_forward = 1" in script
    assert "-t nat -A POSTROUTING" in script and "-s 10.42.0.0/16 -j MASQUERADE" in script
    assert script.index("systemctl enable --now iptables") < script.index("MASQUERADE") < script.index("iptables save")
    assert "${" not in script  # nothing for CloudFormation to substitute
    base64.b64encode(script.encode("ascii"))  # plain ASCII for user data
    assert props(out, "EgressEipAssociation") == {
        "AllocationId": {"Fn::GetAtt": ["EgressEip", "AllocationId"]},
        "InstanceId": {"Ref": "NatInstance"},
    }
    assert props(out, "PrivateDefaultRoute")["InstanceId"] == {"Ref": "NatInstance"}
    [ingress] = props(out, "NatSecurityGroup")["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"}
    assert not of_type(out, "AWS::EC2::NatGateway")
