"""Egress from one fixed IP, for WeCom's trusted-IP rule (errcode 60020: API calls from an IP outside the corp's
trusted list are refused). `--egress none` leaves the functions outside any VPC (AWS's shared, changing IPs);
`nat-gateway` and `nat-instance` put all five functions in two private subnets whose default route goes through a
NAT with an Elastic IP, published as the stack's `EgressIp` output for the WeCom console.

DynamoDB traffic skips the NAT through a gateway VPC endpoint (free; NAT processing is billed per GB). The other AWS
APIs the functions call (Scheduler, SQS, Lambda, SSM) go out through the NAT like WeCom: interface endpoints for
them would cost more per month than the NAT carries for them. Costs: docs/cost.md; choosing: docs/deploy.md."""

from __future__ import annotations

from typing import Any

from infra.cfn import FUNCTIONS, Template, copied, get_att, properties, ref, sub
from infra.policies import VPC_ACCESS_POLICY, attach_managed_policy

EGRESS_OPTIONS = ("none", "nat-gateway", "nat-instance")
VPC_CIDR = "10.42.0.0/16"
PUBLIC_CIDR = "10.42.0.0/24"
PRIVATE_CIDRS = ("10.42.10.0/24", "10.42.11.0/24")  # one per availability zone (Lambda wants two)
NAT_INSTANCE_TYPE = "t4g.nano"
NAT_AMI = "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64}}"

#: The NAT instance's user data (Amazon Linux 2023, in the order AWS's NAT instance guide gives): forward, and
#: masquerade the VPC's traffic behind the instance's address; the rules are saved, so they survive a reboot. The
#: instance has no public address until its Elastic IP is attached, so the package install retries until then.
NAT_USER_DATA = f"""#!/bin/bash
set -euo pipefail
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-siyu-nat.conf
sysctl --system
until dnf install -y iptables-services; do sleep 10; done
systemctl enable --now iptables
iface=$(ip route show default | awk '{{print $5; exit}}')
iptables -t nat -A POSTROUTING -o "$iface" -s {VPC_CIDR} -j MASQUERADE
iptables -F FORWARD
service iptables save
"""


def _az(index: int) -> dict[str, Any]:
    return {"Fn::Select": [index, {"Fn::GetAZs": ""}]}


def _tags(name: str) -> list[dict[str, Any]]:
    return [{"Key": "Name", "Value": sub("${AWS::StackName}-" + name)}]


def network() -> dict[str, dict[str, Any]]:
    """The VPC, its subnets, the internet gateway, route tables, the DynamoDB endpoint and the functions' group."""
    resources: dict[str, dict[str, Any]] = {
        "Vpc": {
            "Type": "AWS::EC2::VPC",
            "Properties": {
                "CidrBlock": VPC_CIDR,
                "EnableDnsSupport": True,
                "EnableDnsHostnames": True,
                "Tags": _tags("vpc"),
            },
        },
        "InternetGateway": {"Type": "AWS::EC2::InternetGateway", "Properties": {"Tags": _tags("igw")}},
        "InternetGatewayAttachment": {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": ref("Vpc"), "InternetGatewayId": ref("InternetGateway")},
        },
        "PublicSubnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": ref("Vpc"),
                "CidrBlock": PUBLIC_CIDR,
                "AvailabilityZone": _az(0),
                "Tags": _tags("public"),
            },
        },
        "PublicRouteTable": {
            "Type": "AWS::EC2::RouteTable",
            "Properties": {"VpcId": ref("Vpc"), "Tags": _tags("public")},
        },
        "PublicDefaultRoute": {
            "Type": "AWS::EC2::Route",
            "DependsOn": "InternetGatewayAttachment",
            "Properties": {
                "RouteTableId": ref("PublicRouteTable"),
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": ref("InternetGateway"),
            },
        },
        "PublicSubnetRoutes": {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {"SubnetId": ref("PublicSubnet"), "RouteTableId": ref("PublicRouteTable")},
        },
        "PrivateRouteTable": {
            "Type": "AWS::EC2::RouteTable",
            "Properties": {"VpcId": ref("Vpc"), "Tags": _tags("private")},
        },
        "DynamoDbEndpoint": {
            "Type": "AWS::EC2::VPCEndpoint",
            "Properties": {
                "VpcId": ref("Vpc"),
                "VpcEndpointType": "Gateway",
                "ServiceName": sub("com.amazonaws.${AWS::Region}.dynamodb"),
                "RouteTableIds": [ref("PrivateRouteTable")],
            },
        },
        "FunctionSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "Siyu functions: HTTPS out only (WeCom, AWS APIs); nothing in",
                "VpcId": ref("Vpc"),
                "SecurityGroupEgress": [
                    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "HTTPS"}
                ],
                "Tags": _tags("functions"),
            },
        },
        "EgressEip": {
            "Type": "AWS::EC2::EIP",
            "DependsOn": "InternetGatewayAttachment",
            "Properties": {"Domain": "vpc", "Tags": _tags("egress")},
        },
    }
    for index, cidr in enumerate(PRIVATE_CIDRS):
        subnet = f"PrivateSubnet{'AB'[index]}"
        resources[subnet] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": ref("Vpc"),
                "CidrBlock": cidr,
                "AvailabilityZone": _az(index),
                "Tags": _tags(subnet),
            },
        }
        resources[f"{subnet}Routes"] = {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {"SubnetId": ref(subnet), "RouteTableId": ref("PrivateRouteTable")},
        }
    return resources


def nat_gateway() -> dict[str, dict[str, Any]]:
    """A managed NAT gateway in the public subnet, holding the Elastic IP; the private default route through it."""
    return {
        "NatGateway": {
            "Type": "AWS::EC2::NatGateway",
            "Properties": {
                "AllocationId": get_att("EgressEip", "AllocationId"),
                "SubnetId": ref("PublicSubnet"),
                "Tags": _tags("nat"),
            },
        },
        "PrivateDefaultRoute": {
            "Type": "AWS::EC2::Route",
            "Properties": {
                "RouteTableId": ref("PrivateRouteTable"),
                "DestinationCidrBlock": "0.0.0.0/0",
                "NatGatewayId": ref("NatGateway"),
            },
        },
    }


def nat_instance() -> dict[str, dict[str, Any]]:
    """A t4g.nano NAT instance in the public subnet with the Elastic IP; the private default route through it."""
    return {
        "NatSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "Siyu NAT instance: HTTPS from the functions, HTTPS out",
                "VpcId": ref("Vpc"),
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "SourceSecurityGroupId": ref("FunctionSecurityGroup"),
                        "Description": "HTTPS from the functions",
                    }
                ],
                "SecurityGroupEgress": [
                    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "HTTPS"}
                ],
                "Tags": _tags("nat"),
            },
        },
        "NatInstance": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "InstanceType": NAT_INSTANCE_TYPE,
                "ImageId": NAT_AMI,
                "SubnetId": ref("PublicSubnet"),
                "SecurityGroupIds": [ref("NatSecurityGroup")],
                "SourceDestCheck": False,
                "CreditSpecification": {"CPUCredits": "standard"},
                "UserData": {"Fn::Base64": NAT_USER_DATA},
                "Tags": _tags("nat"),
            },
        },
        "EgressEipAssociation": {
            "Type": "AWS::EC2::EIPAssociation",
            "Properties": {"AllocationId": get_att("EgressEip", "AllocationId"), "InstanceId": ref("NatInstance")},
        },
        "PrivateDefaultRoute": {
            "Type": "AWS::EC2::Route",
            "Properties": {
                "RouteTableId": ref("PrivateRouteTable"),
                "DestinationCidrBlock": "0.0.0.0/0",
                "InstanceId": ref("NatInstance"),
            },
        },
    }


def apply_egress(template: Template, egress: str) -> Template:
    """The egress option's resources, VpcConfig on every function, the VPC access policy on their roles, and the
    `EgressIp` output; `none` changes nothing."""
    if egress not in EGRESS_OPTIONS:
        raise ValueError(f"egress must be one of {', '.join(EGRESS_OPTIONS)}, not {egress!r}")
    if egress == "none":
        return copied(template)
    out = attach_managed_policy(template, VPC_ACCESS_POLICY)
    out["Resources"].update(network())
    out["Resources"].update(nat_gateway() if egress == "nat-gateway" else nat_instance())
    subnets = [ref(f"PrivateSubnet{letter}") for letter in "AB"[: len(PRIVATE_CIDRS)]]
    for function in FUNCTIONS:
        properties(out, function.logical_id)["VpcConfig"] = {
            "SecurityGroupIds": [ref("FunctionSecurityGroup")],
            "SubnetIds": subnets,
        }
    out.setdefault("Outputs", {})["EgressIp"] = {
        "Description": "The fixed IP the functions reach WeCom from: add it to the corp's trusted IPs",
        "Value": ref("EgressEip"),
    }
    return out
