"""The policy test's own proof (issue 12 §2): a real flow through the app, recorded, is allowed by policies/; the same
recording against a policy missing one grant is refused exactly there; and the files keep the contract's form.

The whole functional suite is recorded and checked as well, at the session's end (tests/aws_calls/plugin.py)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters.shards import ThreadedShards
from tests.aws_calls.actions import Names, iam_requests
from tests.aws_calls.check import Tally, check
from tests.aws_calls.policy import FUNCTIONS, POLICIES_DIR, TARGETS, granting, lint, load_policies, wildcard_sids
from tests.aws_calls.recorder import Call, function_of, recording
from tests.functional.conftest import ADMIN, CORP, TENANT, WECOM, Api

ROOT = Path(__file__).resolve().parents[2]
TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${AWS::StackName}-main"


def _flow(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """A tenant, a plan with a due-now and a next-day step, two scans, the health check, an idempotent create, the
    backstop, and the next day's bucket fired by its schedule's own event in shards of one (threads, here)."""
    monkeypatch.setenv("SIYU_FIRE_SHARD_SIZE", "1")
    with recording() as calls:
        created = api.call("POST", "/admin/tenants", {"tenant_id": TENANT, "name": "示例教育", "corp_id": CORP,
                                                      "wecom": WECOM}, ADMIN)  # fmt: skip
        assert created.status_code == 201, created.body
        token = api.token(TENANT, "admin")
        api.call("POST", f"/t/{TENANT}/staff", {"userid": "zhang", "name": "张老师"}, token)
        steps = [
            {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "资料包发你～"}},
            {"id": "s2", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
        ]
        exits = [{"type": "order", "kind": "trial"}]
        plan = api.call("POST", f"/t/{TENANT}/plans", {"name": "培育", "trigger": {"type": "manual"}, "steps": steps,
                                                       "exit": exits}, token)  # fmt: skip
        assert plan.status_code == 201, plan.body
        assert api.call("POST", f"/t/{TENANT}/plans/{plan.json['plan_id']}/publish", {}, token).status_code == 200
        body = {"name": "抖音", "source": "douyin", "plan_id": plan.json["plan_id"], "staff": {"userids": ["zhang"]}}
        channel = api.call("POST", f"/t/{TENANT}/channels", body, token, headers={"Idempotency-Key": "req-1"})
        assert channel.status_code == 201, channel.body
        for _ in range(2):
            assert api.scan(channel.json["state"])[1].status_code == 200
        assert api.call("GET", "/health").status_code in (200, 503)
        event = api.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                    resources=[])  # fmt: skip
        api.client.lambda_.invoke("backstop", event)
        scheduler = boto3.client("scheduler", region_name="us-east-1")
        (schedule,) = scheduler.list_schedules(GroupName="siyu-functional")["Schedules"]
        detail = scheduler.get_schedule(Name=schedule["Name"], GroupName="siyu-functional")
        api.clock.advance(days=1)
        fired = api.client.lambda_.invoke("fire", json.loads(detail["Target"]["Input"])).payload
        assert fired["shards"] == 2, fired
        shards = bootstrap.services().sop.kernel.fanout.dispatcher
        assert isinstance(shards, ThreadedShards) and len([r for r in shards.wait(timeout=30) if r]) == 2
    return calls


def _tally(calls: list[Call]) -> Tally:
    tally = Tally()
    for call in calls:
        tally.add(call)
    return tally


def test_a_real_flow_is_allowed_by_the_policies(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    tally = _tally(_flow(api, monkeypatch))
    functions = {s.function for s in tally.seen.values()}
    actions = {(s.function, s.request.action) for s in tally.seen.values()}
    assert functions == {"api_handler", "backstop", "fire"}
    assert {("api_handler", "scheduler:CreateSchedule"), ("api_handler", "iam:PassRole")} <= actions
    assert {("api_handler", "dynamodb:DescribeTable"), ("api_handler", "scheduler:GetScheduleGroup")} <= actions
    assert ("api_handler", "dynamodb:PutItem") in actions and ("fire", "dynamodb:UpdateItem") in actions
    resources = {(s.function, s.request.resource) for s in tally.seen.values()}
    assert ("api_handler", TABLE_ARN.replace("-main", "-idempotency")) in resources  # Powertools' own boto3 client
    result = check(tally, load_policies())
    assert [d.line() for d in result.denials] == []


def test_a_grant_removed_is_exactly_the_call_refused(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    tally = _tally(_flow(api, monkeypatch))
    policies = load_policies()
    narrowed = copy.deepcopy(policies)
    (main,) = [st for st in narrowed["api_handler"]["Statement"] if st["Sid"] == "MainTable"]
    main["Action"].remove("dynamodb:PutItem")
    result = check(tally, narrowed)
    refused = {(d.seen.function, d.seen.request.action, d.seen.request.resource) for d in result.denials}
    assert refused == {("api_handler", "dynamodb:PutItem", TABLE_ARN)}
    (denial,) = result.denials
    assert denial.targets == TARGETS and denial.seen.count >= 1
    assert "test_a_grant_removed_is_exactly_the_call_refused" in denial.line()
    assert check(tally, policies).denials == []  # the fire's own PutItem grant is untouched


def test_a_call_from_the_test_itself_is_no_functions(api: Api) -> None:
    with recording() as calls:
        boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName="siyu-functional")
    assert calls == []


def test_the_policy_files_lint_clean_and_name_every_function() -> None:
    policies = load_policies()
    assert {name: lint(doc) for name, doc in policies.items()} == {name: [] for name in FUNCTIONS}
    assert sorted(p.stem for p in POLICIES_DIR.glob("*.json")) == sorted(FUNCTIONS)
    readme = (POLICIES_DIR / "README.md").read_text()
    assert [sid for sid in sorted(wildcard_sids(policies.values())) if f"`{sid}`" not in readme] == []


def test_a_star_outside_a_wildcard_statement_is_refused() -> None:
    doc = load_policies()["fire"]
    wide = copy.deepcopy(doc)
    (main,) = [st for st in wide["Statement"] if st["Sid"] == "MainTable"]
    main["Action"] = ["dynamodb:*"]
    assert lint(wide) == ["statement 1 (MainTable): has * in Action or Resource, so its Sid must end in Wildcard"]
    fixed = copy.deepcopy(doc)
    fixed["Statement"][1]["Resource"] = "arn:aws:dynamodb:us-east-1:123456789012:table/siyu-dev-main"
    assert lint(fixed) == [
        "statement 1 (MainTable): arn:aws:dynamodb:us-east-1:123456789012:table/siyu-dev-main names a fixed "
        "partition/account; use the pseudo parameters"
    ]


def test_every_stage_gives_each_function_its_own_policy() -> None:
    """As Chalice itself resolves the config (per stage, per function), and for every function the app defines."""
    from chalice.config import Config

    from app import app

    disk = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in ("local", "dev", "prod"):
        resolved = {
            name: Config(chalice_stage=stage, function_name=name, config_from_disk=disk).iam_policy_file
            for name in FUNCTIONS
        }
        assert resolved == {name: f"../policies/{name}.json" for name in FUNCTIONS}
    assert disk["autogen_policy"] is False
    names = [f.name for f in app.pure_lambda_functions] + [e.name for e in app.event_sources]
    assert sorted(["api_handler", *names]) == sorted(FUNCTIONS)


def test_operations_map_to_the_iam_requests_aws_authorises() -> None:
    names = Names.from_env({"SIYU_TABLE": "t", "SIYU_SCHEDULE_GROUP": "g", "SIYU_SECRETS_PREFIX": "/x"})
    tx = {"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]}
    assert [r.action for r in iam_requests("dynamodb", "TransactWriteItems", tx, names)] == [
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
    ]
    schedule = {"Name": "b1", "GroupName": "g", "Target": {"RoleArn": "arn:aws:iam::1:role/siyu-local-scheduler"}}
    made = iam_requests("scheduler", "CreateSchedule", schedule, names)
    assert [(r.action, r.resource.split("}:")[-1], r.context) for r in made] == [
        ("scheduler:CreateSchedule", "schedule/${AWS::StackName}/b1", ()),
        ("iam:PassRole", "role/${AWS::StackName}-scheduler", (("iam:PassedToService", "scheduler.amazonaws.com"),)),
    ]
    (secret,) = iam_requests("ssm", "GetParameter", {"Name": "/x/tenants/acme"}, names)
    assert secret.resource.endswith(":parameter/${AWS::StackName}/tenants/acme")
    (listing,) = iam_requests("s3", "ListObjectsV2", {"Bucket": "siyu-local-blobs"}, names)
    assert (listing.action, listing.resource) == ("s3:ListBucket", "arn:${AWS::Partition}:s3:::${AWS::StackName}-"
                                                  "blobs-${AWS::AccountId}")  # fmt: skip
    batch = {"Bucket": "siyu-local-blobs", "Delete": {"Objects": [{"Key": "acme/a"}, {"Key": "acme/b"}]}}
    assert [(r.action, r.resource.rsplit("}", 1)[-1]) for r in iam_requests("s3", "DeleteObjects", batch, names)] == [
        ("s3:DeleteObject", "/acme/a"),
        ("s3:DeleteObject", "/acme/b"),
    ]
    fire, target = load_policies()["fire"], TARGETS[0]
    assert granting(fire, made[1], target) == [("PassSchedulerRole", "iam:PassRole")]
    to_another_service = made[1].__class__(made[1].action, made[1].resource, (("iam:PassedToService", "ec2"),))
    assert granting(fire, to_another_service, target) == []  # the condition holds the role to Scheduler


def _frame_in(module: str, function: str) -> Any:
    """A frame of ``function`` in ``module``, as the recorder sees one on the stack."""
    scope: dict[str, Any] = {"__name__": module, "sys": sys}
    exec(f"def {function}():\n    return sys._getframe()", scope)  # a frame with a given module name
    return scope[function]()


@pytest.mark.parametrize(
    ("module", "function", "expected"),
    [
        ("chalicelib.jobs.sop", "fire", "fire"),
        ("chalicelib.adapters.shards", "_run", "fire"),
        ("chalicelib.jobs.repairs", "repair", "backstop"),
        ("chalicelib.jobs.tasks", "sync", "task_sync"),
        ("app", "silence", "silence"),
        ("chalicelib.services.customers", "fire", "api_handler"),  # a route's code: no entry point of a job
        ("tests.functional.test_x", "fire", None),  # the test's own call
    ],
)
def test_the_entry_point_on_the_stack_names_the_function(module: str, function: str, expected: str | None) -> None:
    assert function_of(_frame_in(module, function)) == expected


def test_work_a_function_submits_to_a_pool_thread_is_that_functions() -> None:
    """The fire's write pool: a worker thread's stack starts in concurrent.futures, yet its calls are the fire's."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.aws_calls.recorder import RECORDER

    RECORDER.install()  # idempotent: the plugin installed it already
    worker: dict[str, Any] = {"__name__": "chalicelib.services.sop.fanout", "sys": sys, "function_of": function_of}
    exec("def write():\n    return function_of(sys._getframe())", worker)
    with ThreadPoolExecutor(max_workers=1) as pool:
        for module, entry, expected in (
            ("chalicelib.jobs.sop", "fire", "fire"),
            ("chalicelib.services.bulk", "run", "api_handler"),  # a route firing a due bucket inline
            ("tests.functional.test_x", "submit", "api_handler"),  # a test submitting app code itself
        ):
            scope: dict[str, Any] = {"__name__": module, "pool": pool, "write": worker["write"]}
            exec(f"def {entry}():\n    return pool.submit(write).result()", scope)
            assert scope[entry]() == expected, (module, entry)
        assert pool.submit(lambda: function_of(sys._getframe())).result() is None  # no app code at all
