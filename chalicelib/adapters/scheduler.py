"""EventBridge Scheduler: one one-time ``at()`` schedule per bucket, targeting the fire Lambda.

moto stores schedules without validating them, so names and expressions are checked here, where a mistake would
otherwise only show on AWS.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.errors import InvalidError, UpstreamError
from chalicelib.settings import Settings

NAME_RE = re.compile(r"^[0-9a-zA-Z\-_.]{1,64}$")
AT_RE = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")


def check_schedule(name: str, expression: str) -> None:
    if not NAME_RE.match(name):
        raise InvalidError(f"schedule name {name!r} is not 1-64 chars of [0-9a-zA-Z-_.]")
    if not AT_RE.match(expression):
        raise InvalidError(f"schedule expression {expression!r} is not at(yyyy-mm-ddThh:mm:ss)")


class EventBridgeScheduler:
    """Creates bucket schedules in the stage's group; ConflictException means the schedule already exists."""

    def __init__(self, client: Any, *, group: str, target_arn: str, role_arn: str, dlq_arn: str | None) -> None:
        self._client = client
        self.group = group
        self.target_arn = target_arn
        self.role_arn = role_arn
        self.dlq_arn = dlq_arn

    @classmethod
    def for_settings(cls, settings: Settings) -> EventBridgeScheduler:
        """The stage's scheduler; its boto3 client is built on first use (most requests never schedule)."""

        def client() -> Any:
            import boto3

            return boto3.client("scheduler", region_name=settings.region, endpoint_url=settings.scheduler_endpoint)

        return cls(
            client,
            group=settings.schedule_group,
            target_arn=settings.fire_target_arn,
            role_arn=settings.scheduler_role_arn,
            dlq_arn=settings.schedule_dlq_arn,
        )

    @property
    def client(self) -> Any:
        if callable(self._client) and not hasattr(self._client, "create_schedule"):
            self._client = self._client()
        return self._client

    def schedule(self, *, name: str, expression: str, timezone: str, payload: dict[str, Any]) -> bool:
        """True if created now, False if a schedule of that name was already there."""
        from botocore.exceptions import ClientError

        check_schedule(name, expression)
        target: dict[str, Any] = {
            "Arn": self.target_arn,
            "RoleArn": self.role_arn,
            "Input": json.dumps(payload, separators=(",", ":")),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
        }
        if self.dlq_arn:
            target["DeadLetterConfig"] = {"Arn": self.dlq_arn}
        try:
            self.client.create_schedule(
                Name=name,
                GroupName=self.group,
                ScheduleExpression=expression,
                ScheduleExpressionTimezone=timezone,
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=target,
                ClientToken=name,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConflictException":
                return False
            raise UpstreamError("EventBridge Scheduler refused the schedule") from exc
        return True
