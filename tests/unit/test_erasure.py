"""Erasure leaves nothing behind (services on the in-memory store; tests/integration/test_erasure_dynamodb.py runs the
same on DynamoDB Local): after a story that uses every feature, nothing stored names the customer or holds their
words, the bystander is whole, a long history is erased in calls that resume, and a repeat changes nothing."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass, replace
from typing import Any

import pytest

from chalicelib.domain import webhooks as w
from chalicelib.domain.business_events import sign
from chalicelib.domain.channels import Assignment, Channel
from chalicelib.errors import NotFoundError
from chalicelib.ports import CustomerFilter
from chalicelib.services import customers as customers_service
from chalicelib.services.task_sync import escalation_task_id
from tests.fakes.store import FakeStore
from tests.unit.conftest import CORP, Env, make_channel, make_env

WORDS = "老师，这个课多少钱？怎么报名"


class Story(Env):
    """An Env whose ``everything`` is every stored thing as one searchable string (the DynamoDB variant scans)."""

    def everything(self) -> str:
        def plain(value: Any) -> Any:
            if is_dataclass(value) and not isinstance(value, type):
                return asdict(value)
            return repr(value)

        state = {k: v for k, v in vars(self.store).items() if k not in ("lock", "calls")}
        dump = json.dumps({repr(k): repr(v) for k, v in state.items()}, ensure_ascii=False, default=plain)
        return dump + json.dumps(self.scheduler.schedules, ensure_ascii=False)


@pytest.fixture
def story() -> Story:
    env = make_env(FakeStore(), Story)
    assert isinstance(env, Story)
    return env


def _event(env: Env, body: dict[str, Any]) -> None:
    body = {"occurred_at": env.clock.now().isoformat(), **body}
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(env.clock.now().timestamp()))
    result = env.svc.events.receive("unit", timestamp=stamp, signature=sign(env.tenant.events_secret, stamp, raw),
                                    body=raw)  # fmt: skip
    assert result["results"][0]["status"] == "applied", result


def play(env: Env) -> tuple[str, str, str]:
    """Every feature once for one customer; returns (their id, their external id, a bystander's id)."""
    steps = [
        {"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "同学你好"}},
        {"id": "s2", "day": 1, "at": "10:00", "content_type": "interactive", "message": {"text": "每日一练"}},
    ]
    plan = env.svc.plans.create(env.tenant, {"name": "新客培育", "trigger": {"type": "manual"}, "steps": steps,
                                             "exit": [{"type": "order", "kind": "trial"}]})  # fmt: skip
    env.svc.plans.publish(env.tenant, plan.plan_id)
    channel = make_channel(env, plan_id=plan.plan_id)
    fields, result = env.scan(channel.state)
    cid, ext = result.customer_id, fields["ExternalUserID"]
    other_fields, other_result = env.scan(channel.state)
    other = other_result.customer_id
    group = env.svc.tags.create_group(env.tenant, name="意向", exclusive=False, tags=["高意向"])
    env.svc.customers.change_tags(env.tenant, cid, add=[group.tags[0].tag_id], remove=[], actor="zhang")
    listed = env.svc.staff_tasks.tasks("unit", userid=None, status=None, due_from=None, due_to=None, limit=100)
    [task] = [t for t in listed if cid in t.customer_ids]
    env.svc.staff_tasks.confirm("unit", task.task_id, userid=None, proof_url=None)
    _event(env, {"event_id": "m-1", "type": "message", "customer_id": cid, "text": WORDS})
    # A group message: the customer's activity record and daily speaker marker in the group's partition.
    _event(env, {"event_id": "g-1", "type": "message", "customer_id": cid, "chat_id": "wrCamp01", "text": "打卡"})
    _event(env, {"event_id": "o-1", "type": "order", "customer_id": cid, "kind": "trial", "amount": 9.9})
    _event(env, {"event_id": "k-1", "type": "checkin", "customer_id": cid, "streak": 2})
    _event(env, {"event_id": "x-1", "type": "custom", "customer_id": cid, "name": "看完直播"})
    code = env.svc.channels.referral_for(env.tenant, cid, {})
    assert cid[1:] not in code.channel_id  # the code's id (its WeCom state) names no one
    referred = env.scan(code.state)[1].customer_id  # a friend the customer brought (老带新)
    assert env.svc.customers.detail("unit", referred)["referrer_customer_id"] == cid
    other_ext, owner = other_fields["ExternalUserID"], env.svc.customers.get("unit", other).owner_userid
    assert env.event("del_follow_user", userid=owner, external_userid=other_ext)[1].outcome == "lost"
    env.clock.advance(minutes=5)
    again = env.scan(code.state, external_userid=other_ext)[1]  # the bystander re-added through the code
    assert again.customer_id == other and again.outcome == "readd"
    return cid, ext, other


def test_erasure_leaves_nothing_that_names_the_customer(story: Story) -> None:
    cid, ext, other = play(story)
    page = story.svc.customers.detail("unit", cid)["timeline"]
    assert {"touch", "enrolled", "enrollment_ended", "message", "order", "checkin", "custom", "tags_changed"} <= {
        e["type"] for e in page
    }
    before = story.everything()
    assert cid in before and ext in before and cid[1:] in before  # the search finds what it looks for
    code_id = story.store.referral_code_of("unit", cid)
    assert code_id is not None and code_id in before
    result = story.svc.customers.erase(story.tenant, cid)
    assert result["erased"] is True and result["tasks_updated"] == 2 and result["referral_channel_deleted"]
    after = story.everything()
    assert [m for m in (cid, cid[1:], ext, WORDS, "多少钱") if m in after] == []
    assert other in after and story.svc.customers.get("unit", other).customer_id == other
    assert result["referred_customers_unlinked"] == 0  # nothing stored named the referrer: nothing to rewrite
    assert story.store.get_channel("unit", code_id) is None and story.store.referral_code_of("unit", cid) is None
    [friend] = [c for c in story.svc.customers.find("unit", CustomerFilter(), cursor=None, limit=10).items
                if c.source_channel_id == code_id]  # fmt: skip
    assert friend.referrer_customer_id is None and [t.channel_id for t in friend.touches] == [code_id]
    readded = story.svc.customers.detail("unit", other)
    assert readded["referrer_customer_id"] is None and code_id in [t["channel_id"] for t in readded["touches"]]
    with pytest.raises(NotFoundError):  # a repeat: nothing left to erase, nothing changes
        story.svc.customers.erase(story.tenant, cid)
    assert story.everything() == after


def test_a_long_history_is_erased_in_calls_that_resume(story: Story, monkeypatch: pytest.MonkeyPatch) -> None:
    cid, ext, _ = play(story)
    for n in range(12):
        _event(story, {"event_id": f"k-{n + 2}", "type": "checkin", "customer_id": cid})
    monkeypatch.setattr(customers_service, "ERASE_MAX_ITEMS", 5)
    calls = []
    for _ in range(20):
        result = story.svc.customers.erase(story.tenant, cid)
        calls.append(result["items_deleted"])
        if result["erased"]:
            break
    assert len(calls) > 3 and all(n <= 5 + 2 for n in calls)  # 5 partition items a call (+ touches, profile)
    assert [m for m in (cid, cid[1:], ext) if m in story.everything()] == []


def test_every_run_of_a_re_entered_plan_is_erased_not_only_the_last(story: Story) -> None:
    """The enrollment item keeps only the last run; the timeline keeps every run's start, so the first run's sent
    touch (an earlier bucket) is found too."""
    steps = [{"id": "s1", "after_minutes": 0, "content_type": "service", "message": {"text": "你好"}}]
    plan = story.svc.plans.create(story.tenant, {"name": "再次培育", "trigger": {"type": "manual"}, "steps": steps,
                                                 "reentry": "after_completion"})  # fmt: skip
    story.svc.plans.publish(story.tenant, plan.plan_id)
    cid = story.scan(make_channel(story).state)[1].customer_id
    assert story.svc.sop.enroll(story.tenant, cid, plan.plan_id) is not None
    story.clock.advance(minutes=10)  # before quiet hours: the second run's touch is sent at once too
    assert story.svc.sop.enroll(story.tenant, cid, plan.plan_id) is not None  # the first run completed
    touches = [e for e in story.svc.customers.detail("unit", cid)["timeline"] if e["type"] == "touch"]
    assert len({e["detail"]["bucket"] for e in touches}) == 2  # two runs, two buckets
    story.svc.customers.erase(story.tenant, cid)
    assert cid not in story.everything()


def test_a_legacy_referral_code_that_names_the_customer_is_kept_then_rewritten(story: Story) -> None:
    """Codes made before ids were random are ``rf_<cid>``, with no link, and those they brought stored the
    referrer: the code stays the customer's (no second code), and erasure rewrites it to ``rf_erased`` in the
    records of those it brought (the old walk, kept for these codes)."""
    cid = story.scan(make_channel(story).state)[1].customer_id
    legacy = Channel(channel_id="rf_" + cid[1:], name="老带新", source="referral", kind="referral",
                     referrer_customer_id=cid, assignment=Assignment(userids=("zhang",)), version=1)  # fmt: skip
    legacy = story.svc.channels._register(story.tenant, legacy)  # as an older release made it
    friend_id = story.scan(legacy.state)[1].customer_id
    friend = story.store.get_customer("unit", friend_id)
    assert friend is not None
    story.store.save_customer("unit", replace(friend, referrer_customer_id=cid, version=friend.version + 1),
                              expected_version=friend.version)  # fmt: skip
    assert story.svc.channels.referral_for(story.tenant, cid, {}) == legacy
    assert story.store.referral_code_of("unit", cid) is None
    result = story.svc.customers.erase(story.tenant, cid)
    assert result["erased"] and result["referral_channel_deleted"] and result["referred_customers_unlinked"] == 1
    assert cid[1:] not in story.everything()
    friend = story.store.get_customer("unit", friend_id)
    assert friend is not None and friend.referrer_customer_id is None and friend.source_channel_id == "rf_erased"
    assert [t.channel_id for t in friend.touches] == ["rf_erased"]


def test_erasure_keeps_the_others_outcomes_and_clears_the_leads_escalation(story: Story) -> None:
    """Two customers share a task that went overdue (escalated to the lead: a task copying both ids), then was sent
    (each one's outcome, by position). Erasing the first leaves the second their own outcome, and neither task
    names the first."""
    steps = [{"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"text": "同学你好"}}]
    plan = story.svc.plans.create(story.tenant, {"name": "新客培育", "trigger": {"type": "manual"}, "steps": steps})
    story.svc.plans.publish(story.tenant, plan.plan_id)
    story.svc.staff.update("unit", "zhang", {"lead_userid": "wang"})
    channel = make_channel(story, plan_id=plan.plan_id)
    first, second = story.scan(channel.state)[1].customer_id, story.scan(channel.state)[1].customer_id
    story.clock.advance(minutes=5)
    for schedule in list(story.scheduler.schedules.values()):  # the one bucket both touches are in
        story.svc.sop.fire("unit", schedule["payload"]["bucket_id"])
    listed = story.svc.staff_tasks.tasks("unit", userid="zhang", status=None, due_from=None, due_to=None, limit=100)
    [task] = [t for t in listed if first in t.customer_ids]
    assert task.customer_ids == (first, second), "the scenario needs both in one task, the erased one first"
    story.clock.advance(minutes=130)
    assert story.svc.task_sync.run("unit").lead_tasks == 1
    second_ext = story.svc.customers.get("unit", second).external_userid
    story.world.event(CORP, "del_follow_user", userid="zhang", external_userid=second_ext)
    story.world.confirm_task(task.msgid or "", "zhang")
    assert story.svc.task_sync.run("unit").sent == 1
    synced = story.store.get_task("unit", task.task_id)
    assert synced is not None and synced.outcome_map() == {first: "sent", second: "not_friend"}
    lead_task = story.store.get_task("unit", escalation_task_id(task.task_id))
    assert lead_task is not None and lead_task.userid == "wang" and lead_task.customer_ids == (first, second)
    assert first in story.everything()

    result = story.svc.customers.erase(story.tenant, first)

    assert result["erased"] is True and result["tasks_updated"] == 2  # the task and the lead's escalation
    after = story.store.get_task("unit", task.task_id)
    assert after is not None and after.customer_ids == (second,)
    assert after.outcome_map() == {second: "not_friend"}  # not the erased customer's "sent"
    assert after.results == synced.results  # the counts name no one: they stay
    lead_after = story.store.get_task("unit", escalation_task_id(task.task_id))
    assert lead_after is not None and lead_after.customer_ids == (second,)
    listed = story.svc.staff_tasks.tasks("unit", userid=None, status=None, due_from=None, due_to=None, limit=100)
    assert {t.task_id: t.customer_ids for t in listed} == {task.task_id: (second,), lead_task.task_id: (second,)}
    assert first not in story.everything() and first[1:] not in story.everything()


def test_erasure_deletes_every_webhook_delivery_about_the_customer(story: Story) -> None:
    """Outbound webhooks (issue 14 §6): the story's events queued deliveries about the customer (no sender runs
    here); with one delivered and one dead, erasure deletes all of them, and the bystander's stay as they were."""
    webhooks = story.svc.webhooks
    assert webhooks is not None
    hooks = [webhooks.create("unit", {"url": f"https://hooks.example.com/{n}", "events": list(w.EVENTS)})[0]
             for n in (1, 2)]  # fmt: skip
    cid, _, other = play(story)
    pending = webhooks.pending("unit")
    mine = [d for d in pending if d.subject == w.customer_subject(cid)]
    theirs = [d for d in pending if d not in mine]  # the bystander's, the friend's, the staff's
    assert len(pending) < 50 and any(d.subject == w.customer_subject(other) for d in theirs)
    assert len(mine) >= 6 and {d.webhook_id for d in mine} == {h.webhook_id for h in hooks}
    now = story.clock.now()
    delivered = w.after_success(mine[0], now=now, zone=story.tenant.zone, status=200)
    dead = replace(mine[1], status=w.DEAD, dead_at=delivered.delivered_at, attempts=6, version=2)
    for d in (delivered, dead):
        assert story.store.save_delivery("unit", d, expected_version=1)
    assert cid in story.everything()

    result = story.svc.customers.erase(story.tenant, cid)

    assert result["erased"] and result["webhook_deliveries_deleted"] == len(mine)
    assert webhooks.pending("unit") == theirs  # in their order, unchanged
    for hook in hooks:
        for status in (w.DELIVERED, w.DEAD):
            assert webhooks.deliveries("unit", hook.webhook_id, status=status) == []
    assert cid not in story.everything() and cid[1:] not in story.everything()
