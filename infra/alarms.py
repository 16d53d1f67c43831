"""Alarms: one per dead-letter queue (always: something failed for good), and the metric alarms the profile turns
on. The metric alarms themselves are hand-written in infra/resources.json next to the SNS topic they notify
(`<stack>-alarms`, with the optional AlarmEmail subscription); what each means and what to do: docs/operations.md."""

from __future__ import annotations

from typing import Any

from infra.cfn import Template, TemplateError, copied, get_att, of_type, ref, sub
from infra.profiles import Profile

ALARM_TYPE = "AWS::CloudWatch::Alarm"
ALARM_TOPIC = "AlarmTopic"
DLQ_SUFFIX = "DeadLetterQueue"


def dead_letter_queues(template: Template) -> dict[str, dict[str, Any]]:
    """Every SQS queue that is a dead-letter queue (named `…DeadLetterQueue` by this project's convention)."""
    return {k: v for k, v in of_type(template, "AWS::SQS::Queue").items() if k.endswith(DLQ_SUFFIX)}


def select_alarms(template: Template, profile: Profile) -> Template:
    """Only the metric alarms the profile lists stay; a name the template does not have is an error, not a no-op."""
    out = copied(template)
    present = set(of_type(out, ALARM_TYPE))
    unknown = sorted(set(profile.alarms) - present)
    if unknown:
        raise TemplateError(f"profile {profile.name!r} turns on alarms the template does not have: {unknown}")
    for logical_id in present - set(profile.alarms):
        del out["Resources"][logical_id]
    return out


def dlq_alarm(queue_id: str, queue: dict[str, Any]) -> dict[str, Any]:
    """Goes off when the queue holds a message (ApproximateNumberOfMessagesVisible >= 1); named like the queue."""
    name = queue.get("Properties", {}).get("QueueName", {})
    if not (isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str)):
        raise TemplateError(f"{queue_id} needs a QueueName from the stack name to name its alarm")
    return {
        "Type": ALARM_TYPE,
        "Properties": {
            "AlarmName": sub(name["Fn::Sub"]),
            "AlarmDescription": f"{queue_id} holds a message: something failed for good. docs/operations.md, Alarms",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": get_att(queue_id, "QueueName")}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref(ALARM_TOPIC)],
            "OKActions": [ref(ALARM_TOPIC)],
        },
    }


def add_dlq_alarms(template: Template) -> Template:
    """`<Queue>Alarm` for every dead-letter queue in the template."""
    out = copied(template)
    for queue_id, queue in dead_letter_queues(out).items():
        out["Resources"][f"{queue_id}Alarm"] = dlq_alarm(queue_id, queue)
    return out
