"""The log-privacy scan (log_privacy.py) catches what it is there for: a customer's name, a phone and a secret logged
on purpose fail the test, shown masked; ids, times and counts do not."""

from __future__ import annotations

import logging

import pytest

from chalicelib.observability import count_by, flush, logger
from devstack.wecom_world.contacts import register_contact
from tests.functional.conftest import CORP, WECOM, Api
from tests.functional.log_privacy import PHONE, Capture, collect_sandbox

NAME = "王小明"
EXT = "wm" + "p" * 30


def _failure(capture: Capture) -> str:
    with pytest.raises(pytest.fail.Exception) as failed:
        capture.check("during the test")
    return str(failed.value)


def test_a_name_a_phone_and_a_secret_logged_on_purpose_fail_the_test_with_the_values_masked(
    api: Api, log_privacy: Capture
) -> None:
    api.create_tenant()  # its WeCom secret goes by in the request body
    register_contact(api.sandbox.world, CORP, EXT, name=NAME)  # a contact WeCom hands out, with its name
    collect_sandbox(log_privacy, api.sandbox)  # as the scan does once the test is over
    logger.warning("planted", extra={"customer": NAME, "tel": "+86 138-1234-5678", "key": WECOM["secret"]})
    message = _failure(log_privacy)
    assert "1 log line(s) during the test" in message
    assert NAME not in message and "138-1234-5678" not in message and WECOM["secret"] not in message
    assert f"<name {NAME[0]}…(3)>" in message and "<phone +86…(17)>" in message and "<secret acm…(11)>" in message
    assert log_privacy.leaks(log_privacy.scanned) == []  # reported once: the test goes on clean


def test_debug_lines_other_loggers_and_emf_documents_are_scanned_too(api: Api, log_privacy: Capture) -> None:
    logger.debug("planted at debug", extra={"tel": "13912345678"})
    logging.getLogger("somewhere.else").warning("planted elsewhere: %s", "+8615912345678")
    count_by("Planted", "reason", "18612345678")  # a metric's dimension value is printed in its EMF document
    flush()
    print("a test's own print: 18712345678")  # not Siyu's line: not scanned
    message = _failure(log_privacy)
    assert "3 log line(s)" in message and "12345678" not in message and '"Planted"' in message


def test_ids_times_and_counts_are_not_taken_for_phone_numbers(api: Api, log_privacy: Capture) -> None:
    logger.info(
        "clean",
        extra={
            "customer_id": "c13812345678a",
            "at": 1764554405,
            "ms": 1764554405123,
            "digest": "ab13812345678cd",
            "count": 23812345678,
            "tenant": "acme",
        },
    )
    assert log_privacy.leaks() == []
    assert PHONE.search("tel 138 1234 5678") and PHONE.search("86-13812345678") and not PHONE.search("213812345678")
