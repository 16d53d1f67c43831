"""How SOP records are stored as documents: the subject flattened (a customer's as ``customer_id``, as it was before
subjects, so stored items read the same), another kind's as ``subject_kind`` and ``subject_id``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.domain.sop import CUSTOMER, Enrollment, Subject, Touch


def _flat(doc: dict[str, Any]) -> dict[str, Any]:
    subject = doc.pop("subject")
    if subject["kind"] == CUSTOMER:
        return {"customer_id": subject["id"], **doc}
    return {"subject_kind": subject["kind"], "subject_id": subject["id"], **doc}


def _subject(data: dict[str, Any]) -> Subject:
    if "customer_id" in data:
        return Subject.customer(data.pop("customer_id"))
    return Subject(data.pop("subject_kind"), data.pop("subject_id"))


def enrollment_doc(e: Enrollment) -> dict[str, Any]:
    doc = _flat(asdict(e))
    if doc.get("day0") is None:  # only a group's enrollment has a calendar day 0: a customer's item stays as it was
        doc.pop("day0", None)
    return doc


def enrollment_of(doc: dict[str, Any]) -> Enrollment:
    data = dict(doc)
    return Enrollment(_subject(data), **data)


def touch_doc(touch: Touch) -> dict[str, Any]:
    return _flat(asdict(touch))


def touch_of(doc: dict[str, Any], state: str) -> Touch:
    data = dict(doc)
    subject = _subject(data)
    return Touch(**{**data, "subject": subject, "state": state})
