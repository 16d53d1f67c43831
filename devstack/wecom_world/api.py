"""What the API modules share: the errcode table, ApiError, the ApiSet each module registers, and cursor paging.

Each API module (contact_ways, contacts, tags, messages) exports one ``APIS = ApiSet(...)`` naming its
``/cgi-bin/`` paths; world.py serves the union. A new family of APIs (e.g. 客户群) is a new module with its own
ApiSet, added to ``API_SETS`` in world.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.wecom_world.state import Corp, WorldState

ERRMSG = {
    -1: "system busy",
    0: "ok",
    40001: "invalid secret",
    40004: "invalid media type",
    40005: "invalid file type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40010: "invalid voice size",
    40011: "invalid video size",
    40014: "invalid access_token",
    40056: "invalid agentid",
    40029: "invalid code",
    40058: "invalid parameter",
    40068: "invalid tagid",
    40071: "tag name already exists",
    40072: "invalid tag name length",
    40096: "invalid external userid",
    40097: "handover user has not resigned",
    40126: "corp tag count exceeds 3000",
    40128: "customer transferred too often",
    40129: "customer is being transferred",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41008: "missing code",
    41005: "media data missing",
    41009: "userid missing",
    41035: "external userid missing",
    41037: "contact way type missing",
    41038: "contact way scene missing",
    41039: "invalid contact way type",
    41040: "invalid contact way scene",
    41041: "contact way users exceed limit",
    41043: "config_id missing",
    41044: "invalid config_id",
    41045: "contact way count exceeds limit",
    41046: "msgid missing",
    41047: "invalid msgid",
    41048: "no customer to send",
    41049: "welcome_code missing",
    41050: "invalid welcome_code",
    41051: "externaluser has started chatting",
    41096: "welcome msg is being distributed",
    42001: "access_token expired",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    50100: "invalid cursor",
    81013: "user & party & tag all invalid",
    84061: "not external contact",
}

#: One API: the world's state, the authenticated corp and the payload (body, or query for a GET) -> the answer's
#: fields besides errcode and errmsg. Raises ApiError for a WeCom error.
Handler = Callable[[WorldState, Corp, dict[str, Any]], dict[str, Any]]


class ApiError(Exception):
    """A WeCom error answer (errcode and its errmsg)."""

    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


class UnknownApiError(LookupError):
    """No such /cgi-bin/ API in the world (the sandbox answers HTTP 404)."""


@dataclass(frozen=True)
class ApiSet:
    """The APIs one module serves, by path under /cgi-bin/ (e.g. "externalcontact/get")."""

    handlers: Mapping[str, Handler]
    read_only: frozenset[str] = frozenset()  # only read: the sandbox need not save its state after them
    from_query: frozenset[str] = frozenset()  # GET APIs: their payload is the query string, not a body

    def __post_init__(self) -> None:
        stray = (self.read_only | self.from_query) - set(self.handlers)
        if stray:
            raise ValueError(f"ApiSet names APIs it does not serve: {sorted(stray)}")


@dataclass
class ApiTable:
    """The union of the modules' ApiSets; an API served twice is a mistake, caught at construction."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    read_only: set[str] = field(default_factory=set)
    from_query: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, *sets: ApiSet) -> ApiTable:
        table = cls()
        for api_set in sets:
            twice = set(table.handlers) & set(api_set.handlers)
            if twice:
                raise ValueError(f"APIs served by two modules: {sorted(twice)}")
            table.handlers.update(api_set.handlers)
            table.read_only |= api_set.read_only
            table.from_query |= api_set.from_query
        return table


def api_name(path: str) -> str:
    """The API a path names: "/cgi-bin/externalcontact/get?x=1" -> "externalcontact/get"."""
    return path.split("?", 1)[0].removeprefix("/").removeprefix("cgi-bin/")


def page(rows: list[dict[str, Any]], p: dict[str, Any], default: int, maximum: int) -> tuple[list[dict[str, Any]], str]:
    """Cursor pagination; a limit outside 1..maximum falls back to the default, as the docs say."""
    try:
        limit = int(p.get("limit") or default)
    except (TypeError, ValueError):
        raise ApiError(40058) from None
    if not 1 <= limit <= maximum:
        limit = default
    start = cursor(p.get("cursor"))
    end = start + limit
    return rows[start:end], (str(end) if end < len(rows) else "")


def cursor(value: Any) -> int:
    """A cursor is the offset as a string; anything else answers 50100."""
    if not value:
        return 0
    try:
        start = int(str(value))
    except ValueError:
        raise ApiError(50100) from None
    if start < 0:
        raise ApiError(50100)
    return start
