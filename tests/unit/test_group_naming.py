"""The group naming template: it renders names and room bases, parses names back, and says why a name breaks it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.group_naming import (
    NamingTemplate,
    ParsedName,
    group_name,
    name_problems,
    parse_group_name,
    room_base_name,
    template_problems,
)
from chalicelib.errors import InvalidError

T = NamingTemplate(institution="XX教育")


def test_a_name_is_institution_positioning_cohort_and_padded_number() -> None:
    assert group_name(T, "考研数学冲刺", "3", 2) == "XX教育·考研数学冲刺·3期·02"
    assert group_name(T, "考研数学冲刺", "3期", "12") == "XX教育·考研数学冲刺·3期·12"
    assert group_name(replace(T, separator="-", number_width=3), "四六级", 10, "7") == "XX教育-四六级-10期-007"
    assert room_base_name(T, " 考研数学冲刺 ", "03期") == "XX教育·考研数学冲刺·3期·"


@pytest.mark.parametrize(
    ("positioning", "cohort", "number"),
    [("", "3", "1"), ("考研·数学", "3", "1"), ("考研", "三期", "1"), ("考研", "3", "二"), ("考研", "3", "-1")],
)
def test_a_name_the_template_cannot_give_is_refused(positioning: str, cohort: str, number: str) -> None:
    with pytest.raises(InvalidError):
        group_name(T, positioning, cohort, number)


def test_a_room_base_leaves_room_for_a_number_within_wecoms_40_characters() -> None:
    assert len(room_base_name(T, "考" * 29, 3)) == 38  # + a 2-digit number = 40
    with pytest.raises(InvalidError, match="no room for a 2-digit number"):
        room_base_name(T, "考" * 30, 3)


def test_a_name_parses_back_to_its_parts_padded_or_not() -> None:
    assert parse_group_name(T, "XX教育·考研数学冲刺·3期·02") == (ParsedName("考研数学冲刺", "3期", "02"), [])
    # WeCom appends its room number unpadded: an auto-created room still matches.
    assert parse_group_name(T, "XX教育·考研数学冲刺·3期·7")[0] == ParsedName("考研数学冲刺", "3期", "7")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("考研数学冲刺3期02群", ["has 1 part(s) separated by '·'; the template has 4"]),
        ("YY教育·考研数学冲刺·3期·02", ["institution is 'YY教育', not 'XX教育'"]),
        ("XX教育··3期·02", ["positioning is empty"]),
        ("XX教育·考研·第三期·02", ["cohort '第三期' is not a number followed by '期'"]),
        ("XX教育·考研·3·02", ["cohort '3' is not a number followed by '期'"]),
        ("XX教育·考研·3期·二", ["number '二' is not digits"]),
        ("YY教育·考研·3·x", ["institution is", "cohort '3'", "number 'x'"]),
        ("", ["the group has no name"]),
    ],
)
def test_a_name_that_breaks_the_template_says_each_reason(name: str, why: list[str]) -> None:
    problems = name_problems(T, name)
    assert len(problems) == len(why)
    for problem, expected in zip(problems, why, strict=True):
        assert problem.startswith(expected)


def test_a_matching_name_that_disagrees_with_the_setup_says_so() -> None:
    name = "XX教育·考研数学冲刺·3期·02"
    assert name_problems(T, name) == []
    assert name_problems(T, name, cohort="3期", number="2") == []
    assert name_problems(T, name, cohort="3", number="02") == []
    assert name_problems(T, name, cohort="4期", number="03") == [
        "cohort in the name is '3期', the setup says '4期'",
        "number in the name is '02', the setup says '03'",
    ]


def test_a_template_must_split_names_back_into_their_parts() -> None:
    assert template_problems(T) == []
    assert [f for f, _ in template_problems(NamingTemplate())] == ["institution"]
    assert [f for f, _ in template_problems(replace(T, separator="a"))] == ["separator"]
    assert [f for f, _ in template_problems(replace(T, separator=" "))] == ["separator"]
    assert [f for f, _ in template_problems(replace(T, institution="XX·教育"))] == ["institution"]
    assert [f for f, _ in template_problems(replace(T, cohort_suffix="期1"))] == ["cohort_suffix"]
    assert [f for f, _ in template_problems(replace(T, number_width=5))] == ["number_width"]
    assert T.public()["example"] == "XX教育·考研数学冲刺·3期·02"
