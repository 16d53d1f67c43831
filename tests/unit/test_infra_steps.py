"""infra/: each packaging step on a stand-in for Chalice's template (tests/unit/infra_template.py), asserting the
values it writes. Steps are pure: the template given is never changed."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra import alarms, api, assemble, fire_dlq, functions, logs, policies, tables, waivers
from infra.cfn import FUNCTIONS, Template, TemplateError, of_type
from infra.package import render
from infra.profiles import load_profile
from tests.unit.infra_template import chalice_template, props

SMALL, MEDIUM, LARGE = (load_profile(n) for n in ("small", "medium", "large"))
TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-main"


@pytest.fixture
def template() -> Template:
    return chalice_template()


# ----------------------------------------------------------------------------------------------------- policies


def test_every_string_with_a_pseudo_parameter_is_wrapped_in_fn_sub() -> None:
    document = {"Resource": [TABLE_ARN, "*"], "Action": "dynamodb:GetItem", "Version": "2012-10-17"}
    assert policies.substitute(document) == {
        "Resource": [{"Fn::Sub": TABLE_ARN}, "*"],
        "Action": "dynamodb:GetItem",
        "Version": "2012-10-17",
    }


def test_iam_policy_variables_are_escaped_for_fn_sub() -> None:
    wrapped = policies.substitute("arn:${AWS::Partition}:s3:::b/${aws:username}/${aws:PrincipalTag/team}")
    assert wrapped == {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/${!aws:username}/${!aws:PrincipalTag/team}"}
    assert policies.substitute("${Fire.Arn}") == {"Fn::Sub": "${Fire.Arn}"}  # a logical id is Fn::Sub's to resolve


def test_intrinsic_functions_already_there_are_left_alone() -> None:
    document = {"Resource": [{"Fn::Sub": TABLE_ARN}, {"Fn::GetAtt": ["Queue", "Arn"]}, {"Ref": "AWS::StackName"}]}
    assert policies.substitute(document) == document


def test_every_roles_policy_is_wrapped_and_the_input_is_unchanged(template: Template) -> None:
    before = copy.deepcopy(template)
    out = policies.wrap_role_policies(template)
    assert template == before
    for role in ("ApiHandlerRole", "FireRole", "BackstopRole", "TaskSyncRole", "SilenceRole"):
        [statement, metrics, params] = props(out, role)["Policies"][0]["PolicyDocument"]["Statement"]
        assert statement["Resource"][0] == {"Fn::Sub": TABLE_ARN}
        assert metrics["Resource"] == "*" and metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Siyu"}}
        assert params["Resource"]["Fn::Sub"].endswith("parameter/${AWS::StackName}/${!aws:username}")
    # the scheduler role from infra/resources.json already uses Fn::Sub: untouched
    assert props(out, "SchedulerRole") == props(before, "SchedulerRole")
    assert "${" not in json.dumps(_strings_outside_fn_sub(out))


def _strings_outside_fn_sub(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k != "Fn::Sub" and k != "Description" for s in _strings_outside_fn_sub(v)]
    if isinstance(node, list):
        return [s for item in node for s in _strings_outside_fn_sub(item)]
    return []


def test_a_managed_policy_is_attached_once(template: Template) -> None:
    out = policies.attach_managed_policy(template, policies.VPC_ACCESS_POLICY)
    out = policies.attach_managed_policy(out, policies.VPC_ACCESS_POLICY)
    assert props(out, "FireRole")["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}
    ]


# ---------------------------------------------------------------------------------------------------- functions


def test_functions_are_named_from_the_stack_name(template: Template) -> None:
    out = functions.apply_profile(template, SMALL)
    names = {f.logical_id: props(out, f.logical_id)["FunctionName"] for f in FUNCTIONS}
    assert names == {
        "APIHandler": {"Fn::Sub": "${AWS::StackName}"},
        "Fire": {"Fn::Sub": "${AWS::StackName}-fire"},
        "Backstop": {"Fn::Sub": "${AWS::StackName}-backstop"},
        "TaskSync": {"Fn::Sub": "${AWS::StackName}-task_sync"},
        "Silence": {"Fn::Sub": "${AWS::StackName}-silence"},
    }


def test_small_sets_memory_environment_and_no_tracing(template: Template) -> None:
    out = functions.apply_profile(template, SMALL)
    fire, api_fn = props(out, "Fire"), props(out, "APIHandler")
    assert (fire["MemorySize"], api_fn["MemorySize"]) == (1024, 512)
    assert "ReservedConcurrentExecutions" not in fire
    for function in FUNCTIONS:
        fn = props(out, function.logical_id)
        variables = fn["Environment"]["Variables"]
        assert variables["SIYU_SECRETS_PREFIX"] == {"Fn::Sub": "/${AWS::StackName}"}
        assert variables["SIYU_FIRE_SHARD_SIZE"] == "500"
        assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert variables["POWERTOOLS_TRACE_DISABLED"] == "true"
        assert variables["SIYU_STAGE"] == "dev"  # Chalice's own variables stay
        assert fn["Tracing"] == "PassThrough"
    assert props(out, "Backstop")["Events"]["BackstopEvent"]["Properties"]["Schedule"] == "rate(10 minutes)"
    assert "ManagedPolicyArns" not in props(out, "FireRole")
    assert "LambdaTracingAvailable" not in functions.apply_profile(template, SMALL).get("Conditions", {})


def test_large_reserves_the_fire_and_traces_it_alone(template: Template) -> None:
    out = functions.apply_profile(template, LARGE)
    fire = props(out, "Fire")
    assert (fire["MemorySize"], fire["ReservedConcurrentExecutions"]) == (1769, 300)
    # traced outside the aws-cn partition only: Lambda has no X-Ray integration in the China regions
    assert fire["Tracing"] == {"Fn::If": ["LambdaTracingAvailable", "Active", "PassThrough"]}
    assert fire["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["LambdaTracingAvailable", "false", "true"]
    }
    assert out["Conditions"]["LambdaTracingAvailable"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}]
    }
    assert fire["Environment"]["Variables"]["SIYU_FIRE_SHARD_SIZE"] == "1000"
    assert props(out, "APIHandler")["Tracing"] == "PassThrough"
    assert props(out, "APIHandler")["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert props(out, "Backstop")["Events"]["BackstopEvent"]["Properties"]["Schedule"] == "rate(5 minutes)"
    # the two X-Ray actions active tracing needs are policies/fire.json's (TracingWildcard), not a managed policy
    assert "ManagedPolicyArns" not in props(out, "FireRole")
    assert "LambdaTracingAvailable" not in functions.apply_profile(template, SMALL).get("Conditions", {})


def test_switching_back_to_no_reserved_concurrency_removes_it(template: Template) -> None:
    out = functions.apply_profile(functions.apply_profile(template, LARGE), SMALL)
    assert "ReservedConcurrentExecutions" not in props(out, "Fire")


def test_rate_expressions() -> None:
    assert functions.rate_expression(1) == "rate(1 minute)"
    assert functions.rate_expression(10) == "rate(10 minutes)"


def test_a_backstop_without_its_schedule_is_an_error(template: Template) -> None:
    del props(template, "Backstop")["Events"]
    with pytest.raises(TemplateError, match="Backstop should have one Schedule event"):
        functions.apply_profile(template, SMALL)


# ------------------------------------------------------------------------------------------- logs, tables, DLQ


def test_every_function_has_its_log_group_first(template: Template) -> None:
    out = logs.add_log_groups(template, MEDIUM)
    groups = of_type(out, "AWS::Logs::LogGroup")
    assert len(groups) == 5
    assert groups["FireLogGroup"]["Properties"] == {
        "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}-fire"},
        "RetentionInDays": 30,
    }
    assert groups["APIHandlerLogGroup"]["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}"}
    for function in FUNCTIONS:
        assert out["Resources"][function.logical_id]["DependsOn"] == [f"{function.logical_id}LogGroup"]
        # the group's name is the function's own name under /aws/lambda/
        name = out["Resources"][f"{function.logical_id}LogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"]
        assert name == "/aws/lambda/" + function.deployed_name["Fn::Sub"]


@pytest.mark.parametrize(("stage", "protected", "policy"), [("dev", False, "Delete"), ("prod", True, "Retain")])
def test_tables_per_stage(template: Template, stage: str, protected: bool, policy: str) -> None:
    out = tables.apply_tables(template, SMALL, stage)
    main, idem = out["Resources"]["SiyuTable"], out["Resources"]["IdempotencyTable"]
    assert main["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert idem["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    for table in (main, idem):
        assert table["Properties"]["DeletionProtectionEnabled"] is protected
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == (policy, policy)


def test_the_fire_dlq_takes_what_outlived_the_backstops_next_run(template: Template) -> None:
    assert fire_dlq.event_age_seconds(10) == 720 and fire_dlq.event_age_seconds(5) == 420
    assert fire_dlq.event_age_seconds(1) == 180 and fire_dlq.event_age_seconds(600) == 21600
    out = fire_dlq.add_fire_dlq(template, SMALL)
    assert props(out, "FireDeadLetterQueue")["QueueName"] == {"Fn::Sub": "${AWS::StackName}-fire-dlq"}
    assert props(out, "FireEventInvokeConfig") == {
        "FunctionName": {"Ref": "Fire"},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 720,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["FireDeadLetterQueue", "Arn"]}}},
    }


# ------------------------------------------------------------------------------------------------------ alarms


def test_the_profile_chooses_the_metric_alarms(template: Template) -> None:
    small = of_type(alarms.select_alarms(template, SMALL), alarms.ALARM_TYPE)
    assert sorted(small) == sorted(SMALL.alarms)
    large = of_type(alarms.select_alarms(template, LARGE), alarms.ALARM_TYPE)
    lateness = large["ShardLatenessAlarm"]["Properties"]
    assert (lateness["MetricName"], lateness["Statistic"], lateness["Threshold"]) == (
        "ShardLatenessSeconds",
        "Maximum",
        60,
    )
    assert lateness["ComparisonOperator"] == "GreaterThanThreshold"
    trusted_ip = large["WeComTrustedIpAlarm"]["Properties"]
    assert trusted_ip["Dimensions"] == [{"Name": "service", "Value": "siyu"}, {"Name": "errcode", "Value": "60020"}]
    assert large["FireErrorsAlarm"]["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Fire"}}]
    for alarm in large.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_an_alarm_the_template_lacks_is_an_error(template: Template) -> None:
    del template["Resources"]["WeComTrustedIpAlarm"]
    with pytest.raises(TemplateError, match="WeComTrustedIpAlarm"):
        alarms.select_alarms(template, SMALL)


def test_every_dead_letter_queue_gets_an_alarm(template: Template) -> None:
    out = alarms.add_dlq_alarms(fire_dlq.add_fire_dlq(template, SMALL))
    queues = ("ScheduleDeadLetterQueue", "RepairDeadLetterQueue", "FireDeadLetterQueue")
    for queue in queues:
        alarm = props(out, f"{queue}Alarm")
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        assert (alarm["MetricName"], alarm["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props(out, "FireDeadLetterQueueAlarm")["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-fire-dlq"}
    assert "RepairQueueAlarm" not in out["Resources"]  # not a DLQ


def test_a_dlq_without_a_name_from_the_stack_is_an_error(template: Template) -> None:
    del props(template, "RepairDeadLetterQueue")["QueueName"]
    with pytest.raises(TemplateError, match="RepairDeadLetterQueue needs a QueueName"):
        alarms.add_dlq_alarms(template)


# ----------------------------------------------------------------------------------- API, waivers, the whole


def test_the_api_is_regional_and_throttled_as_the_profile_says(template: Template) -> None:
    props(template, "RestAPI")["EndpointConfiguration"] = "EDGE"  # Chalice's default
    out = api.apply_api(template, LARGE)
    assert props(out, "RestAPI")["EndpointConfiguration"] == "REGIONAL"
    assert props(out, "RestAPI")["MethodSettings"] == [
        {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 1000, "ThrottlingBurstLimit": 2000}
    ]


def test_each_paths_methods_become_one_proxy_operation(template: Template) -> None:
    proxy = {"type": "aws_proxy", "httpMethod": "POST", "uri": "arn:fn"}
    params = [{"in": "path", "name": "tenant_id", "required": True, "type": "string"}]

    def op(consumes: str) -> dict[str, Any]:
        return {
            "consumes": [consumes],
            "produces": ["application/json"],
            "parameters": params,
            "responses": {"200": {"description": "200 response"}},
            "x-amazon-apigateway-integration": dict(proxy),
        }

    props(template, "RestAPI")["DefinitionBody"]["paths"] = {
        "/t/{tenant_id}/plans": {"get": op("application/json"), "post": op("text/csv"), "delete": op("*/*")}
    }
    out = api.apply_api(template, LARGE)
    assert props(out, "RestAPI")["DefinitionBody"]["paths"] == {
        "/t/{tenant_id}/plans": {
            "x-amazon-apigateway-any-method": {
                "parameters": params,
                "responses": {"200": {"description": "200 response"}},
                "x-amazon-apigateway-integration": proxy,
            }
        }
    }
    odd = op("*/*")
    odd["x-amazon-apigateway-integration"] = {"type": "mock"}
    props(template, "RestAPI")["DefinitionBody"]["paths"]["/t/{tenant_id}/plans"]["put"] = odd
    with pytest.raises(TemplateError, match="integrate differently"):
        api.apply_api(template, LARGE)


def test_waivers_carry_their_reasons(template: Template) -> None:
    out = waivers.apply_waivers(fire_dlq.add_fire_dlq(template, LARGE), LARGE)
    fire = out["Resources"]["Fire"]["Metadata"]
    assert fire["cfn-lint"]["config"]["ignore_checks"] == ["WS1000", "WS1004"]
    assert "aws-cn" in fire["SiyuLintWaivers"]["WS1000"]  # traced, but not in China: the rule wants a literal Active
    assert set(out["Resources"]["Backstop"]["Metadata"]["SiyuLintWaivers"]) == {"WS1000", "WS1004", "ES1007", "ES4000"}
    assert out["Resources"]["FireDeadLetterQueue"]["Metadata"]["cfn-lint"]["config"]["ignore_checks"] == ["ES6000"]
    assert "Metadata" not in out["Resources"]["RepairQueue"]
    for body in out["Resources"].values():
        metadata = body.get("Metadata", {})
        assert metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", []) == list(
            metadata.get("SiyuLintWaivers", {})
        )
        assert all(len(reason) > 40 for reason in metadata.get("SiyuLintWaivers", {}).values())
    small = waivers.apply_waivers(template, SMALL)
    assert "WS1000" in small["Resources"]["Fire"]["Metadata"]["SiyuLintWaivers"]


def test_build_records_what_it_built_and_changes_nothing_it_was_given(template: Template) -> None:
    before = copy.deepcopy(template)
    out = assemble.build(template, stage="prod", profile=MEDIUM, egress_option="nat-gateway")
    assert template == before
    assert out["Metadata"]["Siyu"] == {"stage": "prod", "profile": "medium", "egress": "nat-gateway"}
    assert out["Resources"]["SiyuTable"]["DeletionPolicy"] == "Retain"
    assert "EgressIp" in out["Outputs"]
    with pytest.raises(ValueError, match="stage must be one of dev, prod"):
        assemble.build(template, stage="staging", profile=MEDIUM, egress_option="none")


def test_the_template_is_written_compact(template: Template) -> None:
    text = render(template)
    assert json.loads(text) == template
    assert "\n" not in text
    assert len(text) < 0.97 * len(json.dumps(template))  # no spaces after separators either
    assert render({"a": [1, 2], "b": "中"}) == '{"a":[1,2],"b":"中"}'
