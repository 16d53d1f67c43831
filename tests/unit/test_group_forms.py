"""The 社群 forms' parsing (console/group_forms.py): fields → the JSON API's bodies, refusals → the field they are
about, in Chinese; an enrollment's outcome → one line for the flash."""

from __future__ import annotations

from chalicelib.console import group_forms as forms
from chalicelib.errors import InvalidError


def test_a_setup_form_is_the_setup_body_with_blanks_unset() -> None:
    form, body = forms.parse_setup({"rev": "3", "type": "study", "cohort": " 3期 ", "cohort_start": "",
                                    "tags": "数学， 冲刺 数学", "kols": ""})  # fmt: skip
    assert form.ok and body == {"rev": 3, "type": "study", "cohort": "3期", "cohort_start": None, "number": None,
                                "campaign": None, "tags": ["数学", "冲刺"], "kols": []}  # fmt: skip
    stale, _ = forms.parse_setup({"rev": "x"})
    assert "表单已过期" in stale.errors[""]


def test_a_code_form_keeps_a_group_ticked_twice_as_a_live_group() -> None:
    form, body = forms.parse_code({"name": "码", "positioning": "数学", "cohort": "3", "rotate_at": "200"},
                                  ["wr1"], ["wr1", "wr2"])  # fmt: skip
    assert form.ok and body["chat_ids"] == ["wr1"] and body["queue"] == ["wr2"] and body["rotate_at"] == 200
    assert body["auto_create_room"] is False  # an unticked box is absent from the form
    empty, _ = forms.parse_code({"rotate_at": "两百"}, [], [])
    assert set(empty.errors) == {"name", "positioning", "cohort", "chat_ids", "rotate_at"}


def test_refusals_go_next_to_their_field_in_chinese() -> None:
    form = forms.new_code()
    schema = InvalidError("bad", details=[{"path": "/rotate_at", "message": "1 is less than the minimum of 2"}])
    forms.place(form, schema, forms.CODE_FIELDS)
    forms.place(form, InvalidError("cohort must be a number, optionally followed by '期': got 'x'"), forms.CODE_FIELDS)
    forms.place(form, InvalidError("group(s) already on a code: wr1 (on gc_1)"), forms.CODE_FIELDS)
    forms.place(form, InvalidError("something else entirely"), forms.CODE_FIELDS)
    assert form.errors == {
        "rotate_at": forms.MESSAGES["rotate_at"],
        "cohort": forms.CODE_COHORT,
        "chat_ids": "这些群已在别的群活码上：wr1 (on gc_1)",
        "": "something else entirely",
    }
    queue = forms.Form({})
    forms.place(queue, InvalidError("queue: group(s) already full on this code: wr3"), ("rotate_at", "queue"))
    assert queue.errors == {"queue": "这些群在这个群活码上已满：wr3"}


def test_an_enrollment_reads_as_one_line() -> None:
    result = {
        "enrolled": [{"chat_id": "wr1", "first_due_at": "2026-12-02T10:00:00+08:00"},
                     {"chat_id": "wr2", "first_due_at": "2026-12-01T20:00:00+08:00"}],
        "refused": [{"chat_id": "wr3", "reason": "no_cohort_start"}],
    }  # fmt: skip
    line = forms.enrolled_message(result, {"wr3": "三群"})
    assert line == "已报名 2 个社群，首次推送 2026-12-01 20:00；三群 未报名：还没有设置开营日"
    assert forms.enrolled_message({"enrolled": [], "refused": []}, {}) == "没有报名任何社群"
