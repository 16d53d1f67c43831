"""WeCom callback XML: the encrypted envelope and the decrypted event (page 92130), parsed without DTDs or entities.

The envelope arrives from the internet before its signature is checked, so it is size-capped and parsed with
defusedxml (imported on first use). Events are flattened to ``{tag: text}``; MemChangeList becomes a list because
WeCom has delivered it both as ``<Item>`` children and as comma-separated text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import errors

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

LIST_FIELDS = frozenset({"MemChangeList"})
# Fields WeCom writes as bare numbers; everything else is wrapped in CDATA.
NUMERIC_FIELDS = frozenset({"CreateTime", "JoinScene", "QuitScene", "MemChangeCnt"})
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Envelope:
    """The outer POST body: who it is for, the ciphertext, and the app (AgentID may be empty)."""

    to_user: str
    encrypt: str
    agent_id: str


def cdata(text: str) -> str:
    """``text`` as CDATA; a literal "]]>" is split across two sections so it survives."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def parse_envelope(body: bytes, *, max_bytes: int) -> Envelope:
    """Parse the POST body; raise CallbackTooLargeError over ``max_bytes``, CallbackXmlError if malformed."""
    if len(body) > max_bytes:
        raise errors.CallbackTooLargeError(f"callback body exceeds {max_bytes} bytes")
    root = _parse(body)
    fields = _children(root)
    encrypt = fields.get("Encrypt", "")
    if not isinstance(encrypt, str) or not encrypt:
        raise errors.CallbackXmlError("envelope has no Encrypt element")
    return Envelope(to_user=_text(fields.get("ToUserName")), encrypt=encrypt, agent_id=_text(fields.get("AgentID")))


def parse_event(xml: bytes) -> dict[str, Any]:
    """The decrypted event as ``{tag: str}`` (``MemChangeList`` as ``list[str]``); CallbackXmlError if malformed."""
    return _children(_parse(xml))


def build_event_xml(fields: Mapping[str, Any]) -> bytes:
    """Serialise event fields the way WeCom does (numbers bare, strings in CDATA, lists as ``<Item>``)."""
    parts = ["<xml>"]
    for tag, value in fields.items():
        if _TAG.fullmatch(tag) is None:
            raise errors.InvalidError(f"not an XML element name: {tag!r}")
        if isinstance(value, (list, tuple)):
            inner = "".join(f"<Item>{cdata(str(item))}</Item>" for item in value)
        elif isinstance(value, int) or tag in NUMERIC_FIELDS:
            inner = _number(tag, value)
        else:
            inner = cdata(str(value))
        parts.append(f"<{tag}>{inner}</{tag}>")
    parts.append("</xml>")
    return "".join(parts).encode()


def _number(tag: str, value: Any) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError) as exc:
        raise errors.InvalidError(f"{tag} must be an integer") from exc


def _parse(xml: bytes) -> Element:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise errors.CallbackXmlError(f"malformed callback XML ({type(exc).__name__})") from exc
    if root.tag != "xml":
        raise errors.CallbackXmlError("callback XML root is not <xml>")
    return root


def _children(root: Element) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for child in root:
        if child.tag in fields:
            continue  # the first occurrence wins; WeCom never repeats a field
        if child.tag in LIST_FIELDS:
            fields[child.tag] = _list_value(child)
        else:
            fields[child.tag] = (child.text or "").strip()
    return fields


def _list_value(element: Element) -> list[str]:
    items = [(item.text or "").strip() for item in element if item.tag == "Item"]
    if not items:
        items = (element.text or "").split(",")
    return [item.strip() for item in items if item.strip()]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
