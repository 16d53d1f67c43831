"""The content and script libraries on fakes: items and their files, scripts by stage and scene, references checked
when a plan or channel is saved, and what a send makes of them (media uploaded again before its 3 days end, and once
more after a 40007)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.library import MEDIA_LIFETIME, ContentItem, FileRef, MediaRef, needs_upload
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.services.library import Upload
from tests.fakes.blobs import FakeBlobs
from tests.unit.conftest import Env, make_channel

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def image(env: Env, title: str = "课程海报", **over: Any) -> str:
    data = {"kind": "image", "title": title, "tags": ["海报"], "stage": "nurturing", **over}
    return env.svc.content.create(env.tenant, data, Upload("poster.png", "image/png", PNG)).content_id


def uploads(env: Env) -> int:
    """Media WeCom issued (an upload refused for a stale access_token, then retried, counts once)."""
    return len([c for c in env.world.calls("media/upload") if c.errcode == 0])


def blobs(env: Env) -> FakeBlobs:
    assert isinstance(env.svc.blobs, FakeBlobs)
    return env.svc.blobs


# --- items ----------------------------------------------------------------------------------------------------------


def test_an_item_keeps_its_file_in_the_blob_store_under_the_tenant(env: Env) -> None:
    cid = image(env)
    item = env.svc.content.item("unit", cid)
    assert item.file is not None and item.file.size == len(PNG) and item.file.content_type == "image/png"
    assert list(blobs(env).objects) == [f"unit/{item.file.key}"]
    ref, blob = env.svc.content.file("unit", cid)
    assert (ref.filename, blob.data) == ("poster.png", PNG)
    env.svc.content.delete("unit", cid)
    assert blobs(env).objects == {}
    with pytest.raises(NotFoundError):
        env.svc.content.item("unit", cid)


@pytest.mark.parametrize(
    ("data", "upload", "why"),
    [
        ({"kind": "text", "title": "t"}, None, "text"),
        ({"kind": "link", "title": "t", "url": "ftp://x"}, None, "url"),
        ({"kind": "miniprogram", "title": "t", "appid": "wx1"}, None, "page"),
        ({"kind": "image", "title": "t"}, Upload("a.gif", "image/gif", b"GIF89a" * 4), "PNG or a JPEG"),
        ({"kind": "image", "title": "t"}, Upload("a.png", "image/png", b"tiny"), "more than 5 bytes"),
        ({"kind": "link", "title": "t", "url": "https://x"}, Upload("a.png", "image/png", PNG), "has no file"),
    ],
)
def test_a_bad_item_is_refused_and_nothing_is_stored(env: Env, data: dict[str, Any], upload: Any, why: str) -> None:
    with pytest.raises(InvalidError, match=why):
        env.svc.content.create(env.tenant, data, upload)
    assert env.svc.content.list("unit").items == [] and blobs(env).objects == {}


def test_list_filters_by_kind_tag_and_stage(env: Env) -> None:
    poster = image(env)
    env.svc.content.create(env.tenant, {"kind": "text", "title": "开场白", "text": "您好", "stage": "new"})
    link = env.svc.content.create(env.tenant, {"kind": "link", "title": "题库", "url": "https://e.x/q"}).content_id
    assert [c.content_id for c in env.svc.content.list("unit", kind="image").items] == [poster]
    assert [c.content_id for c in env.svc.content.list("unit", tag="海报").items] == [poster]
    assert [c.title for c in env.svc.content.list("unit", stage="new").items] == ["开场白"]
    first = env.svc.content.list("unit", limit=2)
    rest = env.svc.content.list("unit", cursor=first.next_cursor, limit=2)
    assert len(first.items) == 2 and [c.content_id for c in rest.items] == [link] and rest.next_cursor is None


def test_an_update_twice_is_one_change_and_a_stale_rev_is_refused(env: Env) -> None:
    cid = env.svc.content.create(env.tenant, {"kind": "text", "title": "开场白", "text": "您好"}).content_id
    first = env.svc.content.update(env.tenant, cid, {"rev": 1, "text": "您好呀"})
    again = env.svc.content.update(env.tenant, cid, {"rev": 1, "text": "您好呀"})
    assert first.rev == again.rev == 2 and again.text == "您好呀"
    with pytest.raises(ConflictError) as stale:
        env.svc.content.update(env.tenant, cid, {"rev": 1, "text": "别的"})
    assert stale.value.details == {"rev": 2}


def test_a_new_file_is_a_new_blob_and_the_same_file_twice_changes_nothing(env: Env) -> None:
    cid = image(env)
    before = env.svc.content.item("unit", cid)
    assert env.svc.content.put_file(env.tenant, cid, Upload("poster.png", "image/png", PNG)) == before
    changed = env.svc.content.put_file(env.tenant, cid, Upload("v2.png", "image/png", PNG + b"v2"))
    assert changed.file is not None and before.file is not None and changed.file.key != before.file.key
    assert changed.rev == before.rev + 1 and len(blobs(env).objects) == 2  # the old one goes with the item


# --- scripts --------------------------------------------------------------------------------------------------------


def test_scripts_for_a_stage_come_scene_by_scene(env: Env) -> None:
    s = env.svc.scripts
    s.create(env.tenant, {"stage": "hot", "scene": "closing", "title": "限时", "text": "今晚报名立减"})
    s.create(env.tenant, {"stage": "hot", "scene": "icebreak", "title": "问候", "text": "同学好", "order": 2})
    s.create(env.tenant, {"stage": "hot", "scene": "icebreak", "title": "自我介绍", "text": "我是张老师", "order": 1})
    s.create(env.tenant, {"stage": "new", "scene": "icebreak", "title": "欢迎", "text": "欢迎"})
    assert [x.title for x in s.for_stage("unit", "hot")] == ["自我介绍", "问候", "限时"]
    assert [x.title for x in s.for_stage("unit", "hot", "closing")] == ["限时"]
    assert s.for_stage("unit", "no-such-stage") == []
    assert [(stage, scene, len(group)) for stage, scene, group in s.grouped("unit")] == [
        ("new", "icebreak", 1),
        ("hot", "icebreak", 2),
        ("hot", "closing", 1),
    ]


def test_a_script_names_only_content_that_exists(env: Env) -> None:
    with pytest.raises(InvalidError, match="cnt_nope"):
        env.svc.scripts.create(
            env.tenant, {"stage": "hot", "scene": "closing", "title": "t", "text": "x", "content_ids": ["cnt_nope"]}
        )
    cid = image(env)
    made = env.svc.scripts.create(
        env.tenant, {"stage": "hot", "scene": "closing", "title": "t", "text": "x", "content_ids": [cid]}
    )
    assert made.content_ids == (cid,)
    assert env.svc.scripts.update(env.tenant, made.script_id, {"rev": 1, "title": "t2"}).rev == 2
    assert env.svc.scripts.update(env.tenant, made.script_id, {"rev": 1, "title": "t2"}).rev == 2  # a retried PUT
    env.svc.scripts.delete("unit", made.script_id)
    with pytest.raises(NotFoundError):
        env.svc.scripts.delete("unit", made.script_id)


# --- references checked on save ----------------------------------------------------------------------------------


def _plan_doc(content_ids: list[str], script_id: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": "d4",
        "day": 4,
        "at": "10:00",
        "content_type": "content",
        "message": {"text": "资料发你", "content_ids": content_ids},
    }
    if script_id:
        step["script_id"] = script_id
    return {"name": "资料包培育", "trigger": {"type": "manual"}, "steps": [step]}


def test_a_plan_naming_missing_content_or_script_is_refused_naming_them(env: Env) -> None:
    cid = image(env)
    with pytest.raises(InvalidError) as refused:
        env.svc.plans.create(env.tenant, _plan_doc([cid, "cnt_gone"], "scr_gone"))
    paths = {p["path"]: p["message"] for p in refused.value.details}
    assert paths["/steps/0/message/content_ids/1"] == "content cnt_gone does not exist"
    assert paths["/steps/0/script_id"] == "script scr_gone does not exist"
    assert "/steps/0/message/content_ids/0" not in paths
    assert env.svc.plans.create(env.tenant, _plan_doc([cid])).steps[0].message.content_ids == (cid,)


def test_a_channel_welcome_naming_missing_content_is_refused(env: Env) -> None:
    with pytest.raises(InvalidError, match="cnt_gone"):
        make_channel(env, welcome={"text": "您好", "content_ids": ["cnt_gone"]})
    assert env.calls("externalcontact/add_contact_way") == 0  # refused before WeCom was asked
    cid = image(env)
    channel = make_channel(env, welcome={"text": "您好", "content_ids": [cid]})
    assert channel.welcome.content_ids == (cid,)


# --- sending ----------------------------------------------------------------------------------------------------


def test_media_is_uploaded_again_only_near_its_three_days() -> None:
    file = FileRef("content/c/1", "a.png", "image/png", 10, "x")
    item = ContentItem("cnt_1", "image", "t", file=file)
    assert needs_upload(item, 1000)  # never uploaded
    fresh = ContentItem("cnt_1", "image", "t", file=file, media=MediaRef("m", 1000, "content/c/1"))
    assert not needs_upload(fresh, 1000 + MEDIA_LIFETIME - 3601)
    assert needs_upload(fresh, 1000 + MEDIA_LIFETIME - 3599)  # less than an hour left
    other = ContentItem("cnt_1", "image", "t", file=FileRef("content/c/2", "a.png", "image/png", 10, "y"),
                        media=fresh.media)  # fmt: skip
    assert needs_upload(other, 1000)  # made from another version of the file


def test_a_welcome_names_content_and_sends_it_with_fresh_media(env: Env) -> None:
    cid = image(env)
    text = env.svc.content.create(env.tenant, {"kind": "text", "title": "福利", "text": "送你资料包"}).content_id
    channel = make_channel(env, welcome={"text": "您好", "content_ids": [text, cid]})
    env.scan(channel.state)
    [welcome] = env.world.welcome_messages()
    assert welcome["text"] == "您好\n\n送你资料包"
    [attachment] = welcome["attachments"]
    assert attachment["msgtype"] == "image" and attachment["image"]["media_id"].startswith("3")
    assert uploads(env) == 1
    env.clock.advance(days=1)
    env.scan(channel.state)
    assert uploads(env) == 1  # the kept media_id still has two days


def test_a_welcome_that_meets_40007_uploads_again_and_is_sent(env: Env) -> None:
    cid = image(env)
    channel = make_channel(env, welcome={"text": "您好", "content_ids": [cid]})
    env.world.inject("externalcontact/send_welcome_msg", 40007)
    env.scan(channel.state)
    assert len(env.world.welcome_messages()) == 1
    assert uploads(env) == 2  # once before the send, once after WeCom refused the media


def _enroll_day_four(env: Env, content_ids: list[str]) -> str:
    """A plan whose day-4 step sends ``content_ids``, a customer enrolled through its channel; the step's bucket,
    with the clock moved to its time (the bucket id ends in its UTC minute)."""
    plan = env.svc.plans.create(env.tenant, _plan_doc(content_ids))
    env.svc.plans.publish(env.tenant, plan.plan_id)
    channel = make_channel(env, plan_id=plan.plan_id)
    env.scan(channel.state)
    [bucket] = [s["payload"]["bucket_id"] for s in env.scheduler.schedules.values()]
    env.clock.current = datetime.strptime(bucket.rsplit(".", 1)[1], "%Y%m%d%H%M").replace(tzinfo=UTC)
    return str(bucket)


def _fire_day_four(env: Env, content_ids: list[str]) -> Any:
    return env.svc.sop.fire("unit", _enroll_day_four(env, content_ids))


def test_a_touch_firing_four_days_after_its_content_was_uploaded_goes_out(env: Env) -> None:
    cid = image(env)
    # Uploaded to WeCom today (a welcome used it), so on day 4 its media_id is a day past its 3.
    channel = make_channel(env, welcome={"text": "您好", "content_ids": [cid]})
    env.scan(channel.state)
    uploaded = env.svc.content.item("unit", cid).media
    assert uploaded is not None and uploads(env) == 1
    report = _fire_day_four(env, [cid])
    assert report.sent == 1 and report.failed == 0
    calls = env.world.calls("externalcontact/add_msg_template")
    assert [c.errcode for c in calls] == [0]  # uploaded again before the send: WeCom never saw the expired one
    [template] = [c.payload for c in calls]
    [attachment] = template["attachments"]
    assert attachment["image"]["media_id"] != uploaded.media_id  # a new upload, not the expired one
    kept = env.svc.content.item("unit", cid).media
    assert kept is not None and kept.media_id == attachment["image"]["media_id"]
    assert kept.uploaded_at == int((env.clock.now()).timestamp())


def test_a_40007_at_send_time_is_recovered_once(env: Env) -> None:
    cid = image(env)
    env.world.inject("externalcontact/add_msg_template", 40007)
    report = _fire_day_four(env, [cid])
    assert report.sent == 1 and report.failed == 0
    codes = [c.errcode for c in env.world.calls("externalcontact/add_msg_template")]
    assert codes == [40007, 0] and uploads(env) == 2  # once before the send, once after WeCom refused the media


def test_a_touch_whose_content_was_deleted_fails_with_its_reason(env: Env) -> None:
    cid = image(env)
    bucket = _enroll_day_four(env, [cid])
    env.svc.content.delete("unit", cid)
    report = env.svc.sop.fire("unit", bucket)
    assert report.sent == 0 and report.failed == 1 and env.calls("externalcontact/add_msg_template") == 0
    [task] = env.store.list_tasks("unit", userid=None, status="failed", due_from=None, due_to=None, limit=5)
    assert task.reason == "content_deleted"


# --- plan sheets and group content --------------------------------------------------------------------------------


def _sheet(env: Env, csv: str) -> Any:
    raw = csv.encode("utf-8")
    return env.svc.plans.import_sheet(env.tenant, raw, "text/csv", {"name": "素材培育"})


def test_a_sheet_names_content_and_a_script_in_its_columns(env: Env) -> None:
    cid = image(env)
    card = env.svc.content.create(env.tenant, {"kind": "text", "title": "福利", "text": "送你资料"}).content_id
    script = env.svc.scripts.create(env.tenant, {"stage": "new", "scene": "icebreak", "title": "t", "text": "x"})
    plan, _ = _sheet(
        env,
        "天数,时间,内容类型,内容,素材,话术库\n"
        f"0,20:00,服务,资料包发你～,{cid},\n"
        f'1,19:30,营销,,"{cid}， {card}",{script.script_id}\n',
    )
    assert [s.message.content_ids for s in plan.steps] == [(cid,), (cid, card)]
    assert (plan.steps[1].message.text, plan.steps[1].script_id) == ("", script.script_id)


def test_a_sheet_row_naming_missing_content_is_reported_against_its_row(env: Env) -> None:
    with pytest.raises(InvalidError) as refused:
        _sheet(env, "天数,时间,内容类型,内容,素材\n0,20:00,服务,你好,cnt_gone\n1,20:00,服务,你好,not-an-id\n")
    rows = {(e.get("row"), e.get("column")): e["message"] for e in refused.value.details}
    assert "cnt_gone" in " ".join(rows.values()) and rows[(3, "素材")].startswith("a content id looks like cnt_")
    assert any(row == 2 for row, _ in rows)  # the missing item is against the row that names it


def test_group_content_names_only_content_that_exists(env: Env) -> None:
    data = {"kind": "rules", "title": "群规", "message": {"text": "每天打卡", "content_ids": ["cnt_gone"]}}
    with pytest.raises(InvalidError, match="cnt_gone"):
        env.svc.group_content.create(env.tenant, data)
    cid = image(env)
    made = env.svc.group_content.create(env.tenant, {**data, "message": {"text": "每天打卡", "content_ids": [cid]}})
    assert made.message.content_ids == (cid,)


def test_a_welcome_whose_media_is_refused_twice_becomes_the_owners_task(env: Env) -> None:
    cid = image(env)
    channel = make_channel(env, welcome={"text": "您好", "content_ids": [cid]})
    env.world.inject("externalcontact/send_welcome_msg", 40007, times=2)
    env.scan(channel.state)
    assert env.world.welcome_messages() == [] and uploads(env) == 2  # retried once, not forever
    tasks = env.store.list_tasks("unit", userid="zhang", status=None, due_from=None, due_to=None, limit=5)
    assert [t.reason for t in tasks] == ["welcome_missed"]
