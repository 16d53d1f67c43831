"""Callback XML: the envelope is hostile input (size cap, no DTD/entities); events flatten to plain values and the
sample files in tests/events/wecom parse to what WeCom's docs (page 92130) describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.adapters.wecom.callback_xml import build_event_xml, cdata, parse_envelope, parse_event

EVENTS = Path(__file__).resolve().parents[1] / "events" / "wecom"
EXT_A = "wmAJ2GCAAAXtWyujaWJHDDGi0mAAAA"
EXT_B = "wmAJ2GCAAAXtWyujaWJHDDGi0mBBBB"


def load(name: str) -> dict[str, object]:
    return parse_event((EVENTS / f"{name}.xml").read_bytes())


# --- envelope ------------------------------------------------------------------------------------------------------

ENVELOPE = (
    b"<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID>7</AgentID></xml>"
)


def test_envelope_fields() -> None:
    env = parse_envelope(ENVELOPE, max_bytes=1024)
    assert (env.to_user, env.encrypt, env.agent_id) == ("ww1", "abc+/=", "7")


def test_envelope_without_agent_or_receiver_is_accepted_with_empty_values() -> None:
    env = parse_envelope(b"<xml><Encrypt>abc</Encrypt></xml>", max_bytes=1024)
    assert (env.to_user, env.encrypt, env.agent_id) == ("", "abc", "")


def test_envelope_at_the_cap_is_accepted_and_one_byte_more_is_not() -> None:
    parse_envelope(ENVELOPE, max_bytes=len(ENVELOPE))
    with pytest.raises(errors.CallbackTooLargeError) as info:
        parse_envelope(ENVELOPE + b" ", max_bytes=len(ENVELOPE))
    assert info.value.status == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml><Encrypt>abc</Encrypt>",  # unterminated
        b"<xml><ToUserName>ww1</ToUserName></xml>",  # no Encrypt
        b"<xml><Encrypt></Encrypt></xml>",  # empty Encrypt
        b"<xml><Encrypt><Inner>abc</Inner></Encrypt></xml>",  # Encrypt with no text of its own
        b"<root><Encrypt>abc</Encrypt></root>",  # wrong root
    ],
)
def test_malformed_envelopes_are_xml_errors(body: bytes) -> None:
    with pytest.raises(errors.CallbackXmlError) as info:
        parse_envelope(body, max_bytes=1024)
    assert info.value.wx_code == -40002


def test_dtd_is_forbidden() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE xml [<!ELEMENT xml ANY>]><xml><Encrypt>abc</Encrypt></xml>'
    with pytest.raises(errors.CallbackXmlError):
        parse_envelope(body, max_bytes=1024)


def test_entity_expansion_is_forbidden() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<xml><Encrypt>&b;</Encrypt></xml>"
    )
    with pytest.raises(errors.CallbackXmlError):
        parse_envelope(body, max_bytes=1024)


def test_external_entity_is_forbidden() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>'
    with pytest.raises(errors.CallbackXmlError):
        parse_envelope(body, max_bytes=1024)


def test_event_parser_is_defused_too() -> None:
    with pytest.raises(errors.CallbackXmlError):
        parse_event(b'<!DOCTYPE xml [<!ENTITY a "x">]><xml><ChangeType>&a;</ChangeType></xml>')


# --- sample events -------------------------------------------------------------------------------------------------


def test_add_external_contact() -> None:
    assert load("add_external_contact") == {
        "ToUserName": "ww1436e0e65a779aee",
        "FromUserName": "sys",
        "CreateTime": "1700000000",
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "UserID": "zhangsan",
        "ExternalUserID": EXT_A,
        "State": "ch_spring_2024",
        "WelcomeCode": "WELCOMECODE_ADD_0001",
    }


def test_add_half_external_contact() -> None:
    event = load("add_half_external_contact")
    assert event["ChangeType"] == "add_half_external_contact"
    assert (event["UserID"], event["ExternalUserID"], event["State"]) == ("zhangsan", EXT_B, "ch_spring_2024")
    assert event["WelcomeCode"] == "WELCOMECODE_HALF_0001"


def test_edit_external_contact_has_no_state_or_code() -> None:
    event = load("edit_external_contact")
    assert event["ChangeType"] == "edit_external_contact"
    assert (event["UserID"], event["ExternalUserID"]) == ("zhangsan", EXT_A)
    assert "State" not in event and "WelcomeCode" not in event


def test_del_external_contact_with_and_without_source() -> None:
    plain = load("del_external_contact")
    assert plain["ChangeType"] == "del_external_contact" and "Source" not in plain
    transfer = load("del_external_contact_delete_by_transfer")
    assert transfer["ChangeType"] == "del_external_contact"
    assert (transfer["UserID"], transfer["Source"]) == ("lisi", "DELETE_BY_TRANSFER")


def test_del_follow_user() -> None:
    event = load("del_follow_user")
    assert (event["ChangeType"], event["UserID"], event["ExternalUserID"]) == ("del_follow_user", "zhangsan", EXT_A)


def test_transfer_fail() -> None:
    event = load("transfer_fail")
    assert event["ChangeType"] == "transfer_fail"
    assert (event["FailReason"], event["UserID"], event["ExternalUserID"]) == ("customer_refused", "wangwu", EXT_A)


@pytest.mark.parametrize(
    "name", ["change_external_chat_update_add_member", "change_external_chat_update_add_member_comma"]
)
def test_group_update_member_list_in_both_forms(name: str) -> None:
    event = load(name)
    assert event["Event"] == "change_external_chat"
    assert (event["ChangeType"], event["UpdateDetail"]) == ("update", "add_member")
    assert event["ChatId"] == "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    assert (event["JoinScene"], event["MemChangeCnt"]) == ("3", "2")
    assert event["MemChangeList"] == [EXT_A, EXT_B]
    assert event["CurMemVer"] == "71217227bbd112ecfe3a49c482195cb4"


def test_unknown_event_still_flattens() -> None:
    event = load("unknown_event")
    assert (event["Event"], event["ChangeType"]) == ("change_external_unknown", "something_new")
    assert event["Extra"] == "future field"


def test_every_sample_file_is_named_after_its_change_type() -> None:
    # Other suites load these by name: <ChangeType>[_variant].xml, or <Event>_<ChangeType>_... for group events.
    files = sorted(EVENTS.glob("*.xml"))
    assert len(files) >= 10
    for path in files:
        event = parse_event(path.read_bytes())
        prefix = str(event["ChangeType"])
        if event["Event"] == "change_external_chat":
            prefix = f"{event['Event']}_{prefix}"
        assert path.stem.startswith(prefix) or path.stem == "unknown_event", path.name


def test_member_list_edge_forms() -> None:
    assert parse_event(b"<xml><MemChangeList></MemChangeList></xml>")["MemChangeList"] == []
    assert parse_event(b"<xml><MemChangeList> a , ,b </MemChangeList></xml>")["MemChangeList"] == ["a", "b"]
    assert parse_event(b"<xml><MemChangeList><Item>a</Item><Item/></MemChangeList></xml>")["MemChangeList"] == ["a"]


def test_values_are_stripped_and_first_occurrence_wins() -> None:
    event = parse_event(b"<xml><UserID>\n  <![CDATA[zhangsan]]>\n</UserID><UserID>other</UserID></xml>")
    assert event == {"UserID": "zhangsan"}


# --- building ------------------------------------------------------------------------------------------------------


def test_build_matches_wecom_shape() -> None:
    xml = build_event_xml({"ToUserName": "ww1", "CreateTime": 1700000000, "JoinScene": "3", "ChangeType": "update"})
    assert xml == (
        b"<xml><ToUserName><![CDATA[ww1]]></ToUserName><CreateTime>1700000000</CreateTime>"
        b"<JoinScene>3</JoinScene><ChangeType><![CDATA[update]]></ChangeType></xml>"
    )


def test_build_then_parse_round_trips() -> None:
    fields = {
        "ToUserName": "ww1",
        "CreateTime": 1700000000,
        "ChangeType": "add_external_contact",
        "State": "a]]>b<c>&d",
        "MemChangeList": ["x", "y]]>z"],
    }
    parsed = parse_event(build_event_xml(fields))
    assert parsed == {**fields, "CreateTime": "1700000000"}


def test_build_rejects_bad_names_and_numbers() -> None:
    with pytest.raises(errors.InvalidError):
        build_event_xml({"bad name": "x"})
    with pytest.raises(errors.InvalidError):
        build_event_xml({"CreateTime": "soon"})


def test_cdata_splits_its_terminator() -> None:
    assert cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
