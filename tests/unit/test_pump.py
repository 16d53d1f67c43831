"""The local Scheduler pump against moto's Scheduler (which stores schedules but never fires them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from devstack.pump import SchedulerPump, due_time


def test_due_time_reads_the_schedule_timezone() -> None:
    assert due_time("at(2026-12-01T20:00:00)", "Asia/Shanghai") == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert due_time("rate(5 minutes)", "UTC") is None


def test_pump_fires_due_schedules_once_and_deletes_them() -> None:
    with mock_aws():
        client = boto3.client("scheduler", region_name="us-east-1")
        client.create_schedule_group(Name="g")
        for name, at in (("due", "2026-12-01T19:59:00"), ("later", "2026-12-01T20:30:00")):
            client.create_schedule(
                Name=name,
                GroupName="g",
                ScheduleExpression=f"at({at})",
                ScheduleExpressionTimezone="Asia/Shanghai",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                    "RoleArn": "arn:aws:iam::0:role/r",
                    "Input": json.dumps({"bucket_id": name}),
                },
            )
        fired: list[dict[str, Any]] = []
        pump = SchedulerPump(
            client,
            "g",
            fire=fired.append,
            backstop=lambda: None,
            now=lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
            log=lambda m: None,
        )
        assert pump.run_once() == 1 and fired == [{"bucket_id": "due"}]
        assert pump.run_once() == 0  # deleted after its one invocation
        names = [s["Name"] for s in client.list_schedules(GroupName="g")["Schedules"]]
        assert names == ["later"]


def test_a_failing_fire_keeps_the_schedule() -> None:
    with mock_aws():
        client = boto3.client("scheduler", region_name="us-east-1")
        client.create_schedule_group(Name="g")
        client.create_schedule(
            Name="s",
            GroupName="g",
            ScheduleExpression="at(2026-01-01T00:00:00)",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={"Arn": "arn:aws:lambda:us-east-1:0:function:f", "RoleArn": "arn:aws:iam::0:role/r", "Input": "{}"},
        )

        def boom(payload: dict[str, Any]) -> None:
            raise RuntimeError("down")

        pump = SchedulerPump(
            client,
            "g",
            fire=boom,
            backstop=lambda: None,
            now=lambda: datetime(2026, 12, 1, tzinfo=UTC),
            log=lambda m: None,
        )
        assert pump.run_once() == 0
        assert [s["Name"] for s in client.list_schedules(GroupName="g")["Schedules"]] == ["s"]
