"""The naming rule of a tenant's groups (domain.md "Groups"): institution + positioning + cohort + number, joined by
one separator, e.g. ``XX教育·考研数学冲刺·3期·02``. Pure.

One template renders the name of a new group, gives a group code the base WeCom names its auto-created rooms from
(``room_base_name`` + ``room_base_id``), and judges existing names for the naming report. WeCom appends the room
number unpadded (``…·3期·7``), so the matcher takes any run of digits as a number and only rendering pads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.errors import InvalidError

MAX_ROOM_BASE_NAME = 40  # WeCom: room_base_name ≤ 40 characters
MAX_INSTITUTION = 20
MAX_SEPARATOR = 3
DEFAULT_SEPARATOR = "·"
DEFAULT_COHORT_SUFFIX = "期"
PARTS = ("institution", "positioning", "cohort", "number")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class NamingTemplate:
    """A tenant's naming rule. ``institution`` empty means the tenant has not set one (nothing is judged)."""

    institution: str = ""
    separator: str = DEFAULT_SEPARATOR
    cohort_suffix: str = DEFAULT_COHORT_SUFFIX  # a cohort is written ``<n><suffix>``: 3期
    number_width: int = 2  # a rendered number is zero-padded to this width: 02

    @property
    def configured(self) -> bool:
        return bool(self.institution)

    def public(self) -> dict[str, object]:
        return {
            "institution": self.institution,
            "separator": self.separator,
            "cohort_suffix": self.cohort_suffix,
            "number_width": self.number_width,
            "example": group_name(self, "考研数学冲刺", "3", 2) if self.configured else None,
        }


def template_problems(t: NamingTemplate) -> list[tuple[str, str]]:
    """(field, message) for each rule a template breaks: the separator must split a name back into its parts."""
    problems: list[tuple[str, str]] = []
    if not 1 <= len(t.institution) <= MAX_INSTITUTION:
        problems.append(("institution", f"must be 1 to {MAX_INSTITUTION} characters"))
    if not 1 <= len(t.separator) <= MAX_SEPARATOR or t.separator.isalnum() or t.separator.isspace():
        problems.append(("separator", f"must be 1 to {MAX_SEPARATOR} characters, not letters, digits or blanks"))
    elif t.separator in t.institution:
        problems.append(("institution", "must not contain the separator"))
    if t.cohort_suffix and (
        (t.separator and t.separator in t.cohort_suffix) or any(c.isdigit() for c in t.cohort_suffix)
    ):
        problems.append(("cohort_suffix", "must contain neither digits nor the separator"))
    if not 1 <= t.number_width <= 4:
        problems.append(("number_width", "must be 1 to 4"))
    return problems


def cohort_label(t: NamingTemplate, cohort: str | int) -> str:
    """``3`` or ``"3期"`` → ``"3期"``; anything else is refused."""
    text = str(cohort).strip()
    digits = text.removesuffix(t.cohort_suffix) if t.cohort_suffix else text
    if not _DIGITS.match(digits):
        raise InvalidError(f"cohort must be a number, optionally followed by {t.cohort_suffix!r}: got {text!r}")
    return f"{int(digits)}{t.cohort_suffix}"


def _positioning(t: NamingTemplate, positioning: str) -> str:
    text = positioning.strip()
    if not text or t.separator in text:
        raise InvalidError(f"positioning must be non-empty and must not contain the separator {t.separator!r}")
    return text


def group_name(t: NamingTemplate, positioning: str, cohort: str | int, number: str | int) -> str:
    """The name the template gives a group: ``XX教育·考研数学冲刺·3期·02``."""
    text = str(number).strip()
    if not _DIGITS.match(text):
        raise InvalidError(f"number must be digits: got {text!r}")
    return room_base_name(t, positioning, cohort) + text.zfill(t.number_width)


def room_base_name(t: NamingTemplate, positioning: str, cohort: str | int) -> str:
    """The name without its number, ending in the separator: WeCom names each room it creates for a code by
    appending the room number to it (``room_base_name`` + ``room_base_id``)."""
    sep = t.separator
    base = f"{t.institution}{sep}{_positioning(t, positioning)}{sep}{cohort_label(t, cohort)}{sep}"
    if len(base) > MAX_ROOM_BASE_NAME - t.number_width:
        raise InvalidError(
            f"the name {base!r} leaves no room for a {t.number_width}-digit number within WeCom's"
            f" {MAX_ROOM_BASE_NAME} characters"
        )
    return base


@dataclass(frozen=True)
class ParsedName:
    positioning: str
    cohort: str
    number: str


def parse_group_name(t: NamingTemplate, name: str) -> tuple[ParsedName | None, list[str]]:
    """The parts of a name that follows the template, or None and why it does not (one reason per broken rule)."""
    parts = name.split(t.separator)
    if len(parts) != len(PARTS):
        shown = t.separator.join(PARTS)
        return None, [f"has {len(parts)} part(s) separated by {t.separator!r}; the template has 4 ({shown})"]
    institution, positioning, cohort, number = parts
    why: list[str] = []
    if institution != t.institution:
        why.append(f"institution is {institution!r}, not {t.institution!r}")
    if not positioning.strip():
        why.append("positioning is empty")
    digits = cohort.removesuffix(t.cohort_suffix) if t.cohort_suffix and cohort.endswith(t.cohort_suffix) else None
    if digits is None or not _DIGITS.match(digits):
        why.append(f"cohort {cohort!r} is not a number followed by {t.cohort_suffix!r}")
    if not _DIGITS.match(number):
        why.append(f"number {number!r} is not digits")
    return (None, why) if why else (ParsedName(positioning, cohort, number), [])


def name_problems(t: NamingTemplate, name: str, *, cohort: str | None = None, number: str | None = None) -> list[str]:
    """Why ``name`` breaks the template, and where it disagrees with the group's setup (its cohort and number when
    ops set them); empty when it matches."""
    if not name:
        return ["the group has no name"]
    parsed, why = parse_group_name(t, name)
    if parsed is None:
        return why
    if cohort and _same_cohort(t, cohort) != parsed.cohort:
        why.append(f"cohort in the name is {parsed.cohort!r}, the setup says {cohort!r}")
    if number and _DIGITS.match(number) and int(number) != int(parsed.number):
        why.append(f"number in the name is {parsed.number!r}, the setup says {number!r}")
    return why


def _same_cohort(t: NamingTemplate, cohort: str) -> str:
    try:
        return cohort_label(t, cohort)
    except InvalidError:
        return cohort
