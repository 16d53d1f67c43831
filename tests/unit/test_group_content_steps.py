"""Group plan steps that send group content by id (``"message": {"content_id": "gct_…"}``), on in-memory fakes: the
piece must exist when the plan is saved or published; each fire sends (and shows the staff) the piece as it is then,
so an edit after publish reaches the next fire; a piece deleted after publish fails its touches as ``content_deleted``
and the calendar goes on; the simulation shows the piece."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain.messages import Message
from chalicelib.domain.plan_documents import plan_from_json
from chalicelib.domain.plans import plan_to_json
from chalicelib.domain.sop import FAILED, SENT, StaffTask
from chalicelib.errors import InvalidError, WeComBusyError
from chalicelib.ports import MsgTemplateResult, WeComCredentials
from chalicelib.services.group_content import GroupContentService
from tests.fakes.wecom import RecordingWeCom
from tests.unit.group_plan_env import TID, GroupEnv, step

IMAGE = {"msgtype": "image", "image": {"media_id": "MEDIA_rules"}}


class MessageWeCom(RecordingWeCom):
    """Records each call's whole message (text and attachments); ``busy`` calls answer errcode -1 first."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []
        self.busy = 0

    def add_msg_template(self, creds: WeComCredentials, *, sender: str, message: Message, **kw: Any) -> Any:
        if self.busy:
            self.busy -= 1
            raise WeComBusyError(-1, "system busy", api="add_msg_template")
        self.messages.append(message)
        result: MsgTemplateResult = super().add_msg_template(creds, sender=sender, message=message, **kw)
        return result


def _env() -> tuple[GroupEnv, GroupContentService, MessageWeCom]:
    wecom = MessageWeCom()
    env = GroupEnv(wecom=wecom)
    return env, GroupContentService(env.store, env.clock, env.ids), wecom


def _rules(contents: GroupContentService, env: GroupEnv, **over: Any) -> str:
    data = {
        "kind": "rules",
        "title": "学习群群规",
        "message": {"text": "群规 v1：每天 21:00 前打卡", "attachments": [IMAGE]},
        "notes": "开营当天与群公告一起发",
        **over,
    }
    return contents.create(env.tenant, data).content_id


def _by_content(sid: str, day: int, content_id: str, **over: Any) -> dict[str, Any]:
    return {**step(sid, day, "20:00"), "message": {"content_id": content_id}, **over}


def _tasks(env: GroupEnv, status: str) -> list[StaffTask]:
    return env.store.list_tasks(TID, userid=None, status=status, due_from=None, due_to=None, limit=50)


def test_each_fire_sends_and_shows_the_content_as_it_is_then() -> None:
    env, contents, wecom = _env()
    env.group("wr_a")
    rules = _rules(contents, env)
    plan = env.plan([_by_content("pre7", -7, rules, notes="先@所有人"), _by_content("pre6", -6, rules)])
    assert plan_to_json(plan)["steps"][0]["message"] == {"content_id": rules}  # stored by reference, not copied
    assert plan_from_json(plan_to_json(plan)).steps[0].content_id == rules
    env.groups.enroll(env.tenant, plan.plan_id)
    [first] = env.bucket_ids()
    assert env.fire_at_minute(first).sent == 1
    assert [(m.text, [a.to_wecom() for a in m.attachments]) for m in wecom.messages] == [
        ("群规 v1：每天 21:00 前打卡", [IMAGE])
    ]
    [task] = _tasks(env, "created")
    assert (task.text, task.notes) == ("群规 v1：每天 21:00 前打卡", "先@所有人\n\n开营当天与群公告一起发")
    contents.update(env.tenant, rules, {"rev": 1, "message": {"text": "群规 v2：每天 22:00 前打卡"}, "notes": ""})
    [second] = [b for b in env.bucket_ids() if ".pre6." in b]
    assert env.fire_at_minute(second).sent == 1
    assert [(m.text, len(m.attachments)) for m in wecom.messages][1] == ("群规 v2：每天 22:00 前打卡", 0)
    latest = next(t for t in _tasks(env, "created") if t.step_id == "pre6")
    assert (latest.text, latest.notes) == ("群规 v2：每天 22:00 前打卡", "")


def test_a_content_deleted_after_publish_fails_its_touches_by_name_and_the_calendar_goes_on() -> None:
    env, contents, wecom = _env()
    env.group("wr_a")
    env.group("wr_b")
    rules = _rules(contents, env)
    plan = env.plan([_by_content("pre7", -7, rules), step("pre6", -6, "20:00")])
    env.groups.enroll(env.tenant, plan.plan_id)
    contents.delete(TID, rules)
    [first] = env.bucket_ids()
    report = env.fire_at_minute(first)
    assert (report.sent, report.failed, report.reasons) == (0, 2, {"content_deleted": 2})
    assert wecom.messages == []  # nothing reached WeCom
    assert {t.subject.id: (t.state, t.reason) for t in env.touches(first)} == {
        "wr_a": (FAILED, "content_deleted"),
        "wr_b": (FAILED, "content_deleted"),
    }
    [task] = _tasks(env, FAILED)
    assert (task.reason, task.text, task.recipients) == ("content_deleted", "", ("wr_a", "wr_b"))
    assert env.sop.fire(TID, first).tasks == 0  # the schedule's retry: nothing twice
    [following] = [b for b in env.bucket_ids() if ".pre6." in b]  # each group's calendar goes on
    assert env.fire_at_minute(following).sent == 2
    assert {t.state for t in env.touches(following)} == {SENT}


def test_a_retry_sends_the_text_its_task_shows_and_fails_by_name_once_the_content_is_gone() -> None:
    env, contents, wecom = _env()
    env.group("wr_a")
    env.group("wr_b", owner="li")
    rules = _rules(contents, env)
    plan = env.plan([_by_content("pre7", -7, rules)])
    env.groups.enroll(env.tenant, plan.plan_id)
    wecom.busy = 2  # both owners' tasks meet errcode -1
    report = env.fire_at_minute(env.bucket_ids()[0])
    assert report.retrying == 2
    zhang, li = sorted(_tasks(env, "retrying"), key=lambda t: t.userid != "zhang")
    contents.update(env.tenant, rules, {"rev": 1, "message": {"text": "群规 v2", "attachments": []}})
    env.clock.current = env.clock.now() + timedelta(minutes=5)
    assert env.sop.retry_task(TID, zhang.task_id)["outcome"] == "created"
    assert [(m.text, len(m.attachments)) for m in wecom.messages] == [("群规 v1：每天 21:00 前打卡", 0)]
    contents.delete(TID, rules)
    assert env.sop.retry_task(TID, li.task_id) == {"task_id": li.task_id, "outcome": FAILED, "touches": 1}
    failed = env.store.get_task(TID, li.task_id)
    assert failed is not None and (failed.status, failed.reason) == (FAILED, "content_deleted")
    assert len(wecom.messages) == 1


def test_a_plan_is_saved_and_published_only_with_content_that_exists_and_fits_its_groups() -> None:
    env, contents, _ = _env()
    env.group("wr_a")
    env.group("wr_b")
    with pytest.raises(InvalidError) as unknown:
        env.plan([_by_content("pre7", -7, "gct_nosuchpiece")])
    assert unknown.value.code == "content_not_found"
    assert unknown.value.details == [
        {
            "path": "/steps/0/message/content_id",
            "message": "group content gct_nosuchpiece does not exist",
            "code": "content_not_found",
        }
    ]
    rules = _rules(contents, env)
    both = {**step("pre7", -7, "20:00"), "message": {"content_id": rules, "text": "又一份"}}
    with pytest.raises(InvalidError) as mixed:
        env.plan([both])
    assert [d["path"] for d in mixed.value.details] == ["/steps/0/message"]
    own = _rules(contents, env, chat_id="wr_a", title="wr_a 的群规")
    with pytest.raises(InvalidError) as other:
        env.plan([_by_content("pre7", -7, own)])  # the audience is every study group, not wr_a alone
    assert other.value.code == "content_of_another_group"
    alone = env.plan([_by_content("pre7", -7, own)], name="wr_a 专属", group_audience={"chat_ids": ["wr_a"]})
    assert alone.steps[0].content_id == own
    draft = env.plans.create(env.tenant, {**plan_to_json(alone), "name": "草稿"})
    contents.delete(TID, own)
    with pytest.raises(InvalidError) as gone:
        env.plans.publish(env.tenant, draft.plan_id)
    assert gone.value.code == "content_not_found" and "cannot go live" in gone.value.message
    customer = {
        "name": "客户计划",
        "trigger": {"type": "manual"},
        "steps": [{"id": "s1", "after_minutes": 5, "content_type": "service", "message": {"content_id": rules}}],
    }
    with pytest.raises(InvalidError) as for_customers:
        env.plans.create(env.tenant, customer)
    assert [d["path"] for d in for_customers.value.details] == ["/steps/0/message/content_id"]


def test_the_simulation_shows_the_content_a_step_sends_and_when_it_was_deleted() -> None:
    env, contents, _ = _env()
    rules = _rules(contents, env)
    plan = env.plan([_by_content("pre7", -7, rules), _by_content("d0", 0, rules, title="开营群规")])
    shown = env.simulator.simulate(env.tenant, plan.plan_id, {"cohort_start": "2026-12-08"})
    first, second = shown["items"]
    assert (first["title"], second["title"]) == ("学习群群规", "开营群规")  # the piece's title when the step has none
    assert first["content"] == {
        "content_id": rules,
        "kind": "rules",
        "title": "学习群群规",
        "text": "群规 v1：每天 21:00 前打卡",
        "attachments": 1,
        "notes": "开营当天与群公告一起发",
        "deleted": False,
    }
    contents.delete(TID, rules)
    again = env.simulator.simulate(env.tenant, plan.plan_id, {"cohort_start": "2026-12-08"})
    assert again["items"][0]["content"] == {"content_id": rules, "deleted": True}
    plain = env.plan([step("pre7", -7, "20:00")], name="纯文本")
    assert (
        "content" not in env.simulator.simulate(env.tenant, plain.plan_id, {"cohort_start": "2026-12-08"})["items"][0]
    )
