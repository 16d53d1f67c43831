"""The fire's asynchronous invocations (the Scheduler's, and the shards a large bucket fans out to) end, when they
fail for good, in the fire DLQ `<stack>-fire-dlq`, which has an alarm like every DLQ.

How long an invocation may wait (MaximumEventAgeInSeconds) follows the lateness budget: the backstop fires whatever
is still due on its next run once the bucket is `SETTLE` (2 min) old, so an invocation older than one backstop
interval plus `SETTLE` has been overtaken: firing it then would only race the backstop's own run for the same
touches (never a second send, but a quota counted twice). It goes to the DLQ instead, where the alarm shows that
something failed although the backstop has the touches. Two retries (Lambda's own, about 1 and 2 minutes apart) fit
within that age for an invocation that fails fast; one that times out is overtaken, which is the point."""

from __future__ import annotations

from infra.cfn import FIRE, Template, copied, get_att, ref, sub
from infra.profiles import Profile

FIRE_DLQ = "FireDeadLetterQueue"
FIRE_INVOKE_CONFIG = "FireEventInvokeConfig"
SETTLE_SECONDS = 120  # chalicelib/services/sop/fanout.py SETTLE: a fanned-out bucket's own shards get this long
RETRY_ATTEMPTS = 2
MIN_EVENT_AGE, MAX_EVENT_AGE = 60, 21600  # what Lambda accepts
DLQ_RETENTION_SECONDS = 1209600  # 14 days, SQS's longest: time to read what failed


def event_age_seconds(backstop_rate_minutes: int) -> int:
    """How long a fire invocation may wait before the backstop has it covered: one sweep interval plus SETTLE."""
    return max(MIN_EVENT_AGE, min(MAX_EVENT_AGE, backstop_rate_minutes * 60 + SETTLE_SECONDS))


def add_fire_dlq(template: Template, profile: Profile) -> Template:
    """The fire DLQ and the fire function's EventInvokeConfig (on failure: that queue)."""
    out = copied(template)
    out["Resources"][FIRE_DLQ] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": sub("${AWS::StackName}-fire-dlq"),
            "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
            "SqsManagedSseEnabled": True,
        },
    }
    out["Resources"][FIRE_INVOKE_CONFIG] = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": ref(FIRE.logical_id),
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": event_age_seconds(profile.backstop_rate_minutes),
            "DestinationConfig": {"OnFailure": {"Destination": get_att(FIRE_DLQ, "Arn")}},
        },
    }
    return out
