"""An in-memory model of the part of WeCom Siyu uses: state plus the documented rules and errcodes.

The real WeComClient runs against it unchanged, in process through WorldTransport or over HTTP through the sandbox.
Rules and errcodes follow shared/reference/wecom.md and the official pages it cites (global errcodes 90313);
where the docs name no errcode the world uses 40058 (不合法的参数), and says so at the call site.

Pure Python, deterministic (ids derive from counters and hashes, time from the clock it is given), thread-safe.
"""

from __future__ import annotations

import calendar
import copy
import dataclasses
import functools
import hashlib
import json
import re
import threading
import time
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib import errors

TOKEN_TTL = 7200  # gettoken expires_in (91039)
WELCOME_CODE_TTL = 20.0  # send_welcome_msg within 20 s of the event (92599)
MAX_CONTACT_WAYS = 500_000  # per corp via the API (92228)
MAX_CORP_TAGS = 3000  # 40126 (90313, 92117)
MAX_NAME_CHARS = 30  # state, remark, tag and group names
MAX_CONTACT_WAY_USERS = 100  # 41041
MAX_TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9
MAX_TEMPLATE_RECIPIENTS = 10_000
TASK_PAGE_DEFAULT, TASK_PAGE_MAX = 500, 1000  # get_groupmsg_task / send_result (93338)
LIST_PAGE_DEFAULT, LIST_PAGE_MAX = 50, 100  # get_groupmsg_list_v2 (93338)
LIST_MAX_SPAN = 31 * 86400  # get_groupmsg_list_v2 range
BEIJING = 8 * 3600  # month boundaries for receive limits are China time
SNAPSHOT_FORMAT = "siyu-wecom-world"
SNAPSHOT_VERSION = 1  # bump when a persisted field changes name, type or meaning

# Staff task status (93338): 0 not sent, 2 sent. Customer status: 0 not sent, 1 sent, 2 not a friend, 3 limit hit.
STAFF_NOT_SENT, STAFF_SENT = 0, 2
SEND_PENDING, SEND_OK, SEND_NOT_FRIEND, SEND_LIMIT = 0, 1, 2, 3

ERRMSG = {
    -1: "system busy",
    0: "ok",
    40001: "invalid secret",
    40014: "invalid access_token",
    40058: "invalid parameter",
    40068: "invalid tagid",
    40071: "tag name already exists",
    40072: "invalid tag name length",
    40096: "invalid external userid",
    40126: "corp tag count exceeds 3000",
    41002: "corpid missing",
    41004: "corpsecret missing",
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
    84061: "not external contact",
}

_EXTERNAL_USERID = re.compile(r"w[mo][0-9A-Za-z_-]{1,62}")
_CONTACT_CHANGES_WITH_CODE = frozenset({"add_external_contact", "add_half_external_contact"})
# APIs that only read (gettoken issues a token, which is not durable state); every other API may change the world.
_READ_ONLY_APIS = frozenset(
    {
        "gettoken",
        "externalcontact/get_contact_way",
        "externalcontact/get",
        "externalcontact/get_corp_tag_list",
        "externalcontact/get_groupmsg_task",
        "externalcontact/get_groupmsg_send_result",
        "externalcontact/get_groupmsg_list_v2",
    }
)


class UnknownApiError(LookupError):
    """No such /cgi-bin/ API in the world (the sandbox answers HTTP 404)."""


class WorldError(ValueError):
    """A control call the world cannot honour (unknown msgid, wrong staff, no contact way for a state...)."""


class SnapshotError(ValueError):
    """restore() refused the data: not JSON, not a world snapshot, another version, or fields of the wrong shape."""


class _ApiError(Exception):
    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


@dataclass(frozen=True)
class Call:
    """One API call as the world saw it: payload without access_token or secret, and the errcode it answered."""

    api: str
    corp_id: str
    payload: dict[str, Any]
    errcode: int


@dataclass
class _ContactWay:
    config_id: str
    type: int
    scene: int
    users: list[str]
    state: str
    remark: str
    skip_verify: bool
    created_at: float
    next_user: int = 0  # round-robin position


@dataclass
class _Profile:
    name: str | None = None
    unionid: str | None = None
    gender: int | None = None
    avatar: str | None = None
    remark_mobiles: tuple[str, ...] = ()


@dataclass
class _Follow:
    userid: str
    external_userid: str
    state: str
    createtime: int
    remark_mobiles: tuple[str, ...] = ()
    tags: list[str] = field(default_factory=list)
    active: bool = True  # False once the staff member deleted the customer (del_external_contact)
    customer_deleted: bool = False  # the customer deleted the staff member (del_follow_user)

    @property
    def friends(self) -> bool:
        return self.active and not self.customer_deleted


@dataclass
class _TagGroup:
    group_id: str
    name: str
    create_time: int
    order: int = 0
    tag_ids: list[str] = field(default_factory=list)


@dataclass
class _Tag:
    tag_id: str
    name: str
    group_id: str
    create_time: int
    order: int = 0


@dataclass
class _WelcomeCode:
    userid: str
    external_userid: str
    issued_at: float
    used: bool = False


@dataclass
class _Recipient:
    external_userid: str
    status: int = SEND_PENDING
    send_time: int = 0


@dataclass
class _Task:
    msgid: str
    corp_id: str
    sender: str
    create_time: int
    text: str
    attachments: list[dict[str, Any]]
    recipients: list[_Recipient]
    status: int = STAFF_NOT_SENT
    send_time: int = 0


@dataclass
class _Corp:
    corp_id: str
    secret: str | None = None  # None: any secret is accepted
    unionid: bool = True  # bound to an Open Platform account, so unionid is returned
    monthly_limit: int | None = None  # mass messages one customer receives per month; None = days in the month
    ways: dict[str, _ContactWay] = field(default_factory=dict)
    follows: dict[str, dict[str, _Follow]] = field(default_factory=dict)  # external_userid -> userid -> relation
    profiles: dict[str, _Profile] = field(default_factory=dict)
    groups: dict[str, _TagGroup] = field(default_factory=dict)
    tags: dict[str, _Tag] = field(default_factory=dict)
    welcome_codes: dict[str, _WelcomeCode] = field(default_factory=dict)
    tasks: dict[str, _Task] = field(default_factory=dict)
    received: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (external_userid, year, month)


@dataclass
class _Token:
    corp_id: str
    expires_at: float


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


class WeComWorld:
    """The WeCom state and rules. ``handle`` serves the APIs; the other public methods are the test controls."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_contact_ways: int = MAX_CONTACT_WAYS,
        max_tags: int = MAX_CORP_TAGS,
        follow_page_size: int = 500,
    ) -> None:
        self._clock = clock
        self.max_contact_ways = max_contact_ways
        self.max_tags = max_tags
        self.follow_page_size = follow_page_size
        self._lock = threading.RLock()
        self._apis: dict[str, Callable[[_Corp, dict[str, Any]], dict[str, Any]]] = {
            "externalcontact/add_contact_way": self._add_contact_way,
            "externalcontact/update_contact_way": self._update_contact_way,
            "externalcontact/get_contact_way": self._get_contact_way,
            "externalcontact/del_contact_way": self._del_contact_way,
            "externalcontact/get": self._get_external_contact,
            "externalcontact/mark_tag": self._mark_tag,
            "externalcontact/send_welcome_msg": self._send_welcome_msg,
            "externalcontact/get_corp_tag_list": self._get_corp_tag_list,
            "externalcontact/add_corp_tag": self._add_corp_tag,
            "externalcontact/edit_corp_tag": self._edit_corp_tag,
            "externalcontact/del_corp_tag": self._del_corp_tag,
            "externalcontact/add_msg_template": self._add_msg_template,
            "externalcontact/get_groupmsg_task": self._get_groupmsg_task,
            "externalcontact/get_groupmsg_send_result": self._get_groupmsg_send_result,
            "externalcontact/get_groupmsg_list_v2": self._get_groupmsg_list_v2,
        }
        self.reset()

    # --- controls -----------------------------------------------------------------------------------------------

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Read time from ``clock`` (unix seconds) from now on: the local stack's one movable clock, or a test's."""
        with self._lock:
            self._clock = clock

    def now(self) -> float:
        return self._clock()

    def reset(self) -> None:
        """Forget everything (corps, tokens, faults, calls)."""
        with self._lock:
            self._corps: dict[str, _Corp] = {}
            self._tokens: dict[str, _Token] = {}
            self._faults: dict[str, list[int]] = {}
            self._calls: list[Call] = []
            self._welcomes: list[dict[str, Any]] = []
            self._task_corp: dict[str, str] = {}
            self._seq = 0

    def register_corp(
        self, corp_id: str, *, secret: str | None = None, unionid: bool = True, monthly_limit: int | None = None
    ) -> None:
        """Configure a corp: a fixed secret (others get 40001), whether unionid is returned, the receive limit."""
        with self._lock:
            corp = self._corp(corp_id)
            corp.secret = secret
            corp.unionid = unionid
            corp.monthly_limit = monthly_limit

    def register_contact(
        self,
        corp_id: str,
        external_userid: str,
        *,
        name: str | None = None,
        unionid: str | None = None,
        gender: int | None = None,
        avatar: str | None = None,
        remark_mobiles: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Give an external contact an explicit profile instead of the synthetic one."""
        with self._lock:
            self._check_external_userid(external_userid)
            profile = self._corp(corp_id).profiles.setdefault(external_userid, _Profile())
            if name is not None:
                profile.name = name
            if unionid is not None:
                profile.unionid = unionid
            if gender is not None:
                profile.gender = gender
            if avatar is not None:
                profile.avatar = avatar
            if remark_mobiles:
                profile.remark_mobiles = tuple(remark_mobiles)

    def inject(self, api: str, errcode: int, times: int = 1) -> None:
        """Make the next ``times`` calls of ``api`` (e.g. "externalcontact/send_welcome_msg") answer ``errcode``."""
        with self._lock:
            self._faults.setdefault(self._api_name(api), []).extend([errcode] * times)

    def expire_tokens(self) -> None:
        """Expire every issued access_token, so the next call answers 42001."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = float("-inf")

    def calls(self, api: str | None = None) -> list[Call]:
        """Recorded calls, oldest first, optionally only those of one API."""
        with self._lock:
            name = None if api is None else self._api_name(api)
            return [call for call in self._calls if name is None or call.api == name]

    def welcome_messages(self) -> list[dict[str, Any]]:
        """Welcome messages delivered so far (corp_id, userid, external_userid, text, attachments)."""
        with self._lock:
            return copy.deepcopy(self._welcomes)

    def scan(
        self,
        corp_id: str,
        state: str,
        *,
        external_userid: str | None = None,
        userid: str | None = None,
        name: str | None = None,
        unionid: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """A customer scans the contact way with ``state``: picks its next staff member (round-robin) unless
        ``userid`` is given, creates the relation, issues a welcome code; returns the add_external_contact fields."""
        with self._lock:
            corp = self._corp(corp_id)
            if userid is None:
                way = next((w for w in corp.ways.values() if w.state == state), None)
                if way is None:
                    raise WorldError(f"no contact way with state {state!r} in corp {corp_id}")
                userid = way.users[way.next_user % len(way.users)]
                way.next_user += 1
            if external_userid is None:
                self._seq += 1
                external_userid = "wm" + _digest(corp_id, "external", self._seq)[:30]
            if name is not None or unionid is not None:
                self.register_contact(corp_id, external_userid, name=name, unionid=unionid)
            return self.event(
                corp_id,
                "add_external_contact",
                userid=userid,
                external_userid=external_userid,
                now=now,
                State=state,
            )

    def event(
        self,
        corp_id: str,
        change_type: str,
        *,
        userid: str = "",
        external_userid: str = "",
        event: str = "change_external_contact",
        now: float | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Apply a change WeCom reports by callback and return the event fields (for build_event_xml).

        add_* create the relation and issue a WelcomeCode (none if the pair was related before, as WeCom omits it
        for customers who already chatted); del_external_contact ends the relation on the staff side;
        del_follow_user marks that the customer deleted the staff member. Other change types (and other
        ``event`` values such as change_external_chat) only produce fields; ``extra`` fields are appended as given.
        """
        with self._lock:
            corp = self._corp(corp_id)
            at = self._clock() if now is None else now
            fields: dict[str, Any] = {
                "ToUserName": corp_id,
                "FromUserName": "sys",
                "CreateTime": int(at),
                "MsgType": "event",
                "Event": event,
                "ChangeType": change_type,
            }
            if userid:
                fields["UserID"] = userid
            if external_userid:
                self._check_external_userid(external_userid)
                fields["ExternalUserID"] = external_userid
            if event == "change_external_contact":
                extra = self._apply_contact_change(corp, change_type, userid, external_userid, at, extra)
            fields.update(extra)
            return fields

    def confirm_task(self, msgid: str, userid: str, *, now: float | None = None) -> dict[str, int]:
        """The staff member confirms the mass-message task in their client: it is sent, customer by customer
        (2 if no longer a friend, 3 if the customer's monthly receive limit is reached). Returns status counts."""
        with self._lock:
            corp_id = self._task_corp.get(msgid)
            if corp_id is None:
                raise WorldError(f"unknown msgid {msgid}")
            corp = self._corps[corp_id]
            task = corp.tasks[msgid]
            if task.sender != userid:
                raise WorldError(f"task {msgid} belongs to another staff member")
            if task.status == STAFF_SENT:
                raise WorldError(f"task {msgid} was already sent")
            at = int(self._clock() if now is None else now)
            year, month = time.gmtime(at + BEIJING)[:2]
            limit = corp.monthly_limit or calendar.monthrange(year, month)[1]
            counts = {"sent": 0, "not_friend": 0, "limit_hit": 0}
            for recipient in task.recipients:
                follow = corp.follows.get(recipient.external_userid, {}).get(userid)
                key = (recipient.external_userid, year, month)
                if follow is None or not follow.friends:
                    recipient.status = SEND_NOT_FRIEND
                    counts["not_friend"] += 1
                elif corp.received.get(key, 0) >= limit:
                    recipient.status = SEND_LIMIT
                    counts["limit_hit"] += 1
                else:
                    corp.received[key] = corp.received.get(key, 0) + 1
                    recipient.status = SEND_OK
                    recipient.send_time = at
                    counts["sent"] += 1
            task.status = STAFF_SENT
            task.send_time = at
            return counts

    # --- persistence --------------------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The durable WeCom state as versioned JSON (UTF-8): every corp (settings, contact ways, profiles, follow
        relations, tag groups and tags, welcome codes, mass-message tasks, received counts), the msgid -> corp map
        and the id sequence, so ids made after a restore never repeat earlier ones.

        Not the call log, delivered welcome messages, injected faults or access tokens: clients get a new token on
        40014. JSON rather than pickle: the state is plain dataclasses, so the file stays readable and loading it
        runs no code.
        """
        with self._lock:
            data = {
                "format": SNAPSHOT_FORMAT,
                "version": SNAPSHOT_VERSION,
                "seq": self._seq,
                "task_corp": dict(self._task_corp),
                "corps": _encode(dict[str, _Corp], self._corps),
            }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def restore(self, data: bytes) -> None:
        """Replace the world's state with a snapshot(); tokens, faults, calls and welcome messages start empty.

        Raises SnapshotError, leaving the world unchanged, for anything but a consistent snapshot of this version.
        """
        try:
            doc = json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise SnapshotError(f"not a JSON world snapshot ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"not a WeCom world snapshot (format {SNAPSHOT_FORMAT!r} expected)")
        if doc.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(
                f"unsupported WeCom world snapshot version {doc.get('version')!r} (this world reads {SNAPSHOT_VERSION})"
            )
        unknown = set(doc) - {"format", "version", "seq", "task_corp", "corps"}
        if unknown:
            raise SnapshotError(f"snapshot: unknown field(s) {sorted(unknown)}")
        seq: int = _decode(int, doc.get("seq"), "seq")
        task_corp: dict[str, str] = _decode(dict[str, str], doc.get("task_corp"), "task_corp")
        corps: dict[str, _Corp] = _decode(dict[str, _Corp], doc.get("corps"), "corps")
        _check_snapshot(seq, task_corp, corps)
        with self._lock:
            self.reset()
            self._corps, self._task_corp, self._seq = corps, task_corp, seq

    def changes_state(self, path: str) -> bool:
        """Whether the /cgi-bin/ API at ``path`` may change durable state (all but gettoken and the reads)."""
        return self._api_name(path) not in _READ_ONLY_APIS

    # --- the API ------------------------------------------------------------------------------------------------

    def handle(self, path: str, query: Mapping[str, str], body: Mapping[str, Any] | None) -> dict[str, Any]:
        """Serve one ``/cgi-bin/...`` request; always a WeCom-shaped dict with errcode and errmsg."""
        api = self._api_name(path)
        if api != "gettoken" and api not in self._apis:
            raise UnknownApiError(api)
        payload = dict(query) if api in ("gettoken", "externalcontact/get") else dict(body or {})
        payload.pop("access_token", None)
        with self._lock:
            if api == "gettoken":
                corp_id = str(query.get("corpid", ""))
            else:  # known even when a fault answers first, so the call log says whose call it was
                token = self._tokens.get(str(query.get("access_token", "")))
                corp_id = token.corp_id if token is not None else ""
            try:
                faults = self._faults.get(api)
                if faults:
                    raise _ApiError(faults.pop(0))
                if api == "gettoken":
                    result = self._gettoken(query)
                else:
                    corp = self._authenticate(str(query.get("access_token", "")))
                    result = self._apis[api](corp, payload)
                result = {"errcode": 0, "errmsg": "ok", **result}
            except _ApiError as exc:
                result = {"errcode": exc.errcode, "errmsg": ERRMSG.get(exc.errcode, "error")}
            except (TypeError, ValueError, AttributeError):  # a field of the wrong JSON type
                result = {"errcode": 47001, "errmsg": ERRMSG[47001]}
            payload.pop("corpsecret", None)
            self._calls.append(Call(api, corp_id, copy.deepcopy(payload), result["errcode"]))
            return result

    def _gettoken(self, query: Mapping[str, str]) -> dict[str, Any]:
        corp_id, secret = str(query.get("corpid", "")), str(query.get("corpsecret", ""))
        if not corp_id:
            raise _ApiError(41002)
        if not secret:
            raise _ApiError(41004)
        corp = self._corp(corp_id)
        if corp.secret is not None and corp.secret != secret:
            raise _ApiError(40001)
        now = self._clock()
        # Within its lifetime gettoken hands out the same token (91039).
        for value, token in self._tokens.items():
            if token.corp_id == corp_id and token.expires_at > now:
                return {"access_token": value, "expires_in": int(token.expires_at - now)}
        self._seq += 1
        value = "sbx" + _digest(corp_id, "token", self._seq)[:40]
        self._tokens[value] = _Token(corp_id, now + TOKEN_TTL)
        return {"access_token": value, "expires_in": TOKEN_TTL}

    def _authenticate(self, access_token: str) -> _Corp:
        token = self._tokens.get(access_token)
        if token is None:
            raise _ApiError(40014)
        if token.expires_at <= self._clock():
            raise _ApiError(42001)
        return self._corps[token.corp_id]

    # contact ways (92228)

    def _add_contact_way(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        if len(corp.ways) >= self.max_contact_ways:
            raise _ApiError(41045)
        way_type, scene = self._way_type_scene(p)
        users, state, remark = self._way_fields(p, way_type, {})
        self._seq += 1
        config_id = _digest(corp.corp_id, "way", self._seq)[:32]
        corp.ways[config_id] = _ContactWay(
            config_id=config_id,
            type=way_type,
            scene=scene,
            users=users,
            state=state,
            remark=remark,
            skip_verify=bool(p.get("skip_verify", True)),
            created_at=self._clock(),
        )
        result: dict[str, Any] = {"config_id": config_id}
        if scene == 2:
            result["qr_code"] = self._qr_code(config_id)
        return result

    def _update_contact_way(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        way = self._way(corp, p)
        users, state, remark = self._way_fields(p, way.type, asdict(way))
        way.users, way.state, way.remark = users, state, remark
        if "skip_verify" in p:
            way.skip_verify = bool(p["skip_verify"])
        return {}

    def _get_contact_way(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        way = self._way(corp, p)
        contact_way = {
            "config_id": way.config_id,
            "type": way.type,
            "scene": way.scene,
            "remark": way.remark,
            "skip_verify": way.skip_verify,
            "state": way.state,
            "user": list(way.users),
            "party": [],
        }
        if way.scene == 2:
            contact_way["qr_code"] = self._qr_code(way.config_id)
        return {"contact_way": contact_way}

    def _del_contact_way(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        del corp.ways[self._way(corp, p).config_id]
        return {}

    def _way(self, corp: _Corp, p: dict[str, Any]) -> _ContactWay:
        config_id = str(p.get("config_id") or "")
        if not config_id:
            raise _ApiError(41043)
        way = corp.ways.get(config_id)
        if way is None:
            raise _ApiError(41044)
        return way

    @staticmethod
    def _way_type_scene(p: dict[str, Any]) -> tuple[int, int]:
        if "type" not in p:
            raise _ApiError(41037)
        if "scene" not in p:
            raise _ApiError(41038)
        if p["type"] not in (1, 2):
            raise _ApiError(41039)
        if p["scene"] not in (1, 2):
            raise _ApiError(41040)
        return int(p["type"]), int(p["scene"])

    @staticmethod
    def _way_fields(p: dict[str, Any], way_type: int, current: dict[str, Any]) -> tuple[list[str], str, str]:
        users = [str(u) for u in p.get("user", current.get("users", [])) or []]
        state = str(p.get("state", current.get("state", "")))
        remark = str(p.get("remark", current.get("remark", "")))
        if not users:
            raise _ApiError(40058)  # we model users only, no departments
        if len(users) > MAX_CONTACT_WAY_USERS:
            raise _ApiError(41041)
        if way_type == 1 and len(users) != 1:
            raise _ApiError(41039)  # a single-person way has exactly one user
        if len(state) > MAX_NAME_CHARS or len(remark) > MAX_NAME_CHARS:
            raise _ApiError(40058)  # the docs give the limits (30) but no specific errcode
        return users, state, remark

    @staticmethod
    def _qr_code(config_id: str) -> str:
        return f"http://sandbox/qr/{config_id}"

    # customers (92114, 92697, 92599)

    def _get_external_contact(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        external_userid = str(p.get("external_userid") or "")
        if not external_userid:
            raise _ApiError(41035)
        if _EXTERNAL_USERID.fullmatch(external_userid) is None:
            raise _ApiError(40096)
        follows = [f for f in corp.follows.get(external_userid, {}).values() if f.active]
        if not follows:
            raise _ApiError(84061)
        start = self._cursor(p.get("cursor"))
        page = follows[start : start + self.follow_page_size]
        end = start + len(page)
        return {
            "external_contact": self._profile_json(corp, external_userid),
            "follow_user": [self._follow_json(corp, f) for f in page],
            "next_cursor": str(end) if end < len(follows) else "",
        }

    def _profile_json(self, corp: _Corp, external_userid: str) -> dict[str, Any]:
        digest = _digest(external_userid)
        profile = corp.profiles.get(external_userid, _Profile())
        contact: dict[str, Any] = {
            "external_userid": external_userid,
            "name": profile.name if profile.name is not None else f"家长{int(digest[:8], 16) % 10000:04d}",
            "type": 1,
            "avatar": profile.avatar if profile.avatar is not None else f"http://sandbox/avatar/{external_userid}.png",
            "gender": profile.gender if profile.gender is not None else int(digest[8:10], 16) % 3,
        }
        if corp.unionid:
            contact["unionid"] = profile.unionid if profile.unionid is not None else "o" + digest[10:37]
        return contact

    def _follow_json(self, corp: _Corp, follow: _Follow) -> dict[str, Any]:
        tags = []
        for tag_id in follow.tags:
            tag = corp.tags[tag_id]
            group = corp.groups[tag.group_id]
            tags.append({"group_name": group.name, "tag_name": tag.name, "tag_id": tag_id, "type": 1})
        return {
            "userid": follow.userid,
            "remark": "",
            "description": "",
            "createtime": follow.createtime,
            "tags": tags,
            "remark_mobiles": list(follow.remark_mobiles),
            "add_way": 1,
            "state": follow.state,
        }

    def _mark_tag(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        userid, external_userid = str(p.get("userid") or ""), str(p.get("external_userid") or "")
        if not userid:
            raise _ApiError(41009)
        if not external_userid:
            raise _ApiError(41035)
        add, remove = list(p.get("add_tag") or []), list(p.get("remove_tag") or [])
        if not add and not remove:
            raise _ApiError(40058)  # "add_tag and remove_tag cannot both be empty" (92697), no specific errcode
        follow = corp.follows.get(external_userid, {}).get(userid)
        if follow is None or not follow.active:
            raise _ApiError(84061)
        if any(tag_id not in corp.tags for tag_id in add + remove):
            raise _ApiError(40068)
        follow.tags = [t for t in dict.fromkeys(follow.tags + add) if t not in remove]
        return {}

    def _send_welcome_msg(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        code = str(p.get("welcome_code") or "")
        if not code:
            raise _ApiError(41049)
        issued = corp.welcome_codes.get(code)
        if issued is None:
            raise _ApiError(41050)
        if issued.used:
            raise _ApiError(41051)  # delivered already: WeCom answers 41051 to a second call (92599)
        if self._clock() - issued.issued_at > WELCOME_CODE_TTL:
            raise _ApiError(41050)  # 欢迎语code具有时效性，须在添加好友后20秒内使用 (90313)
        text, attachments = self._message(p)
        issued.used = True
        self._welcomes.append(
            {
                "corp_id": corp.corp_id,
                "userid": issued.userid,
                "external_userid": issued.external_userid,
                "text": text,
                "attachments": attachments,
            }
        )
        return {}

    @staticmethod
    def _message(p: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        text_obj = p.get("text") or {}
        text = str(text_obj.get("content", "")) if isinstance(text_obj, dict) else ""
        attachments = list(p.get("attachments") or [])
        if not text and not attachments:
            raise _ApiError(44004)
        if len(text.encode()) > MAX_TEXT_BYTES:
            raise _ApiError(45002)
        if len(attachments) > MAX_ATTACHMENTS:
            raise _ApiError(40058)  # documented limit (9), no specific errcode
        return text, attachments

    # corp tags (92117)

    def _get_corp_tag_list(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        group_ids, tag_ids = set(p.get("group_id") or []), set(p.get("tag_id") or [])
        groups = []
        for group in corp.groups.values():
            if group_ids and group.group_id not in group_ids:
                continue
            ids = group.tag_ids if group_ids or not tag_ids else [t for t in group.tag_ids if t in tag_ids]
            if ids or not tag_ids:
                groups.append(self._group_json(corp, group, ids))
        return {"tag_group": groups}

    def _group_json(self, corp: _Corp, group: _TagGroup, tag_ids: list[str]) -> dict[str, Any]:
        tags = [corp.tags[t] for t in tag_ids]
        return {
            "group_id": group.group_id,
            "group_name": group.name,
            "create_time": group.create_time,
            "order": group.order,
            "tag": [{"id": t.tag_id, "name": t.name, "create_time": t.create_time, "order": t.order} for t in tags],
        }

    def _add_corp_tag(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        names = [str(t.get("name", "")) for t in p.get("tag") or [] if isinstance(t, dict)]
        if not names:
            raise _ApiError(40058)
        group_id, group_name = str(p.get("group_id") or ""), str(p.get("group_name") or "")
        for name in names + ([group_name] if group_name else []):
            self._check_tag_name(name)
        if group_id:
            group = corp.groups.get(group_id)
            if group is None:
                raise _ApiError(40068)
        elif group_name:
            # An existing group of that name receives the tags (92117).
            group = next((g for g in corp.groups.values() if g.name == group_name), None)
        else:
            raise _ApiError(40058)
        existing = {corp.tags[t].name for t in group.tag_ids} if group else set()
        if len(set(names)) != len(names) or existing & set(names):
            raise _ApiError(40071)
        if len(corp.tags) + len(names) > self.max_tags:
            raise _ApiError(40126)
        now = int(self._clock())
        if group is None:
            self._seq += 1
            group = _TagGroup("et" + _digest(corp.corp_id, "group", self._seq)[:20], group_name, now)
            corp.groups[group.group_id] = group
        created = []
        for name in names:
            self._seq += 1
            tag = _Tag("et" + _digest(corp.corp_id, "tag", self._seq)[:20], name, group.group_id, now)
            corp.tags[tag.tag_id] = tag
            group.tag_ids.append(tag.tag_id)
            created.append(tag.tag_id)
        return {"tag_group": self._group_json(corp, group, created)}

    def _edit_corp_tag(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        target = str(p.get("id") or "")
        name = p.get("name")
        if target in corp.tags:
            tag = corp.tags[target]
            siblings = {corp.tags[t].name for t in corp.groups[tag.group_id].tag_ids if t != target}
            item: _Tag | _TagGroup = tag
        elif target in corp.groups:
            siblings = {g.name for g in corp.groups.values() if g.group_id != target}
            item = corp.groups[target]
        else:
            raise _ApiError(40068)
        if name is not None:
            self._check_tag_name(str(name))
            if name in siblings:
                raise _ApiError(40071)
            item.name = str(name)
        if "order" in p:
            item.order = int(p["order"])
        return {}

    def _del_corp_tag(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        tag_ids, group_ids = list(p.get("tag_id") or []), list(p.get("group_id") or [])
        if not tag_ids and not group_ids:
            raise _ApiError(40058)  # tag_id and group_id cannot both be empty (92117)
        if any(t not in corp.tags for t in tag_ids) or any(g not in corp.groups for g in group_ids):
            raise _ApiError(40068)
        doomed = set(tag_ids)
        for group_id in group_ids:
            doomed.update(corp.groups[group_id].tag_ids)
        for tag_id in doomed:
            tag = corp.tags.pop(tag_id)
            group = corp.groups.get(tag.group_id)
            if group is not None:
                group.tag_ids.remove(tag_id)
                if not group.tag_ids:  # a group without tags is deleted with its last tag
                    del corp.groups[group.group_id]
        for relations in corp.follows.values():
            for follow in relations.values():
                follow.tags = [t for t in follow.tags if t not in doomed]
        return {}

    @staticmethod
    def _check_tag_name(name: str) -> None:
        if not name or len(name) > MAX_NAME_CHARS:
            raise _ApiError(40072)

    # mass messages (92135, 93338)

    def _add_msg_template(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("chat_type", "single") != "single":
            raise _ApiError(40058)  # the world models customer (single) mass messages only
        sender = str(p.get("sender") or "")
        if not sender:
            raise _ApiError(41009)  # the world requires a sender (WeCom would pick every staff member)
        requested = [str(x) for x in p.get("external_userid") or []]
        if len(requested) > MAX_TEMPLATE_RECIPIENTS:
            raise _ApiError(40058)
        text, attachments = self._message(p)
        if not requested:  # only a sender: all of that staff member's customers
            requested = [ext for ext, rel in corp.follows.items() if sender in rel and rel[sender].friends]
        targets = list(dict.fromkeys(requested))
        reachable = [ext for ext in targets if self._friends(corp, ext, sender)]
        if not reachable:
            raise _ApiError(41048)
        self._seq += 1
        msgid = "msg" + _digest(corp.corp_id, "msg", self._seq)[:24]
        corp.tasks[msgid] = _Task(
            msgid=msgid,
            corp_id=corp.corp_id,
            sender=sender,
            create_time=int(self._clock()),
            text=text,
            attachments=attachments,
            recipients=[_Recipient(ext) for ext in reachable],
        )
        self._task_corp[msgid] = corp.corp_id
        sendable = set(reachable)
        return {"fail_list": [ext for ext in targets if ext not in sendable], "msgid": msgid}

    @staticmethod
    def _friends(corp: _Corp, external_userid: str, userid: str) -> bool:
        follow = corp.follows.get(external_userid, {}).get(userid)
        return follow is not None and follow.friends

    def _task(self, corp: _Corp, p: dict[str, Any]) -> _Task:
        msgid = str(p.get("msgid") or "")
        if not msgid:
            raise _ApiError(41046)
        task = corp.tasks.get(msgid)
        if task is None:
            raise _ApiError(41047)
        return task

    def _get_groupmsg_task(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        task = self._task(corp, p)
        row: dict[str, Any] = {"userid": task.sender, "status": task.status}
        if task.status == STAFF_SENT:
            row["send_time"] = task.send_time
        rows, cursor = self._page([row], p, TASK_PAGE_DEFAULT, TASK_PAGE_MAX)
        return {"next_cursor": cursor, "task_list": rows}

    def _get_groupmsg_send_result(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        task = self._task(corp, p)
        userid = str(p.get("userid") or "")
        if not userid:
            raise _ApiError(41009)
        rows: list[dict[str, Any]] = []
        if userid == task.sender:
            for r in task.recipients:
                row: dict[str, Any] = {"external_userid": r.external_userid, "userid": userid, "status": r.status}
                if r.status == SEND_OK:
                    row["send_time"] = r.send_time
                rows.append(row)
        page, cursor = self._page(rows, p, TASK_PAGE_DEFAULT, TASK_PAGE_MAX)
        return {"next_cursor": cursor, "send_list": page}

    def _get_groupmsg_list_v2(self, corp: _Corp, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("chat_type") not in ("single", "group"):
            raise _ApiError(40058)
        try:
            start, end = int(p["start_time"]), int(p["end_time"])
        except (KeyError, TypeError, ValueError):
            raise _ApiError(40058) from None
        if end < start or end - start > LIST_MAX_SPAN:
            raise _ApiError(40058)  # the range may span at most one month
        creator = str(p.get("creator") or "")
        filter_type = int(p.get("filter_type", 2))
        tasks = sorted(corp.tasks.values(), key=lambda t: (t.create_time, t.msgid))
        rows = [
            {
                "msgid": t.msgid,
                "creator": t.sender,
                "create_time": t.create_time,
                "create_type": 0,  # created by the enterprise (API)
                "text": {"content": t.text},
                "attachments": copy.deepcopy(t.attachments),
            }
            for t in tasks
            if p["chat_type"] == "single"
            and start <= t.create_time <= end
            and (not creator or t.sender == creator)
            and filter_type in (0, 2)
        ]
        page, cursor = self._page(rows, p, LIST_PAGE_DEFAULT, LIST_PAGE_MAX)
        return {"next_cursor": cursor, "group_msg_list": page}

    def _page(
        self, rows: list[dict[str, Any]], p: dict[str, Any], default: int, maximum: int
    ) -> tuple[list[dict[str, Any]], str]:
        """Cursor pagination; a limit outside 1..maximum falls back to the default, as the docs say."""
        try:
            limit = int(p.get("limit") or default)
        except (TypeError, ValueError):
            raise _ApiError(40058) from None
        if not 1 <= limit <= maximum:
            limit = default
        start = self._cursor(p.get("cursor"))
        end = start + limit
        return rows[start:end], (str(end) if end < len(rows) else "")

    @staticmethod
    def _cursor(value: Any) -> int:
        if not value:
            return 0
        try:
            start = int(str(value))
        except ValueError:
            raise _ApiError(50100) from None
        if start < 0:
            raise _ApiError(50100)
        return start

    # --- internals ----------------------------------------------------------------------------------------------

    def _apply_contact_change(
        self, corp: _Corp, change_type: str, userid: str, external_userid: str, at: float, extra: dict[str, Any]
    ) -> dict[str, Any]:
        relations = corp.follows.get(external_userid, {})
        existing = relations.get(userid)
        if change_type in _CONTACT_CHANGES_WITH_CODE:
            if not userid or not external_userid:
                raise WorldError(f"{change_type} needs userid and external_userid")
            state = str(extra.get("State", ""))
            if not state:
                extra = {k: v for k, v in extra.items() if k != "State"}
            profile = corp.profiles.get(external_userid, _Profile())
            corp.follows.setdefault(external_userid, {})[userid] = _Follow(
                userid=userid,
                external_userid=external_userid,
                state=state,
                createtime=int(at),
                remark_mobiles=profile.remark_mobiles,
            )
            if existing is None and "WelcomeCode" not in extra:
                self._seq += 1
                code = "WC" + _digest(corp.corp_id, "welcome", self._seq)[:30]
                corp.welcome_codes[code] = _WelcomeCode(userid, external_userid, at)
                extra = {**extra, "WelcomeCode": code}
        elif change_type == "del_external_contact" and existing is not None:
            existing.active = False
        elif change_type == "del_follow_user" and existing is not None:
            existing.customer_deleted = True
        elif change_type == "transfer_fail" and "FailReason" not in extra:
            extra = {**extra, "FailReason": "customer_refused"}
        return extra

    def _corp(self, corp_id: str) -> _Corp:
        if not corp_id:
            raise WorldError("corp_id is required")
        corp = self._corps.get(corp_id)
        if corp is None:
            corp = self._corps[corp_id] = _Corp(corp_id)
        return corp

    @staticmethod
    def _check_external_userid(external_userid: str) -> None:
        if _EXTERNAL_USERID.fullmatch(external_userid) is None:
            raise WorldError(f"{external_userid!r} does not look like an external_userid (wm…/wo…)")

    @staticmethod
    def _api_name(path: str) -> str:
        return path.split("?", 1)[0].removeprefix("/").removeprefix("cgi-bin/")


# --- snapshot codec -----------------------------------------------------------------------------------------------
# Type-directed, from the dataclasses' annotations: a field added with a default is persisted and read back (absent
# in older snapshots: the default) without touching this code. Dicts with non-string keys (received counts) are
# lists of [key, value] pairs; tuples are lists.

_hints = functools.cache(typing.get_type_hints)


def _encode(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return copy.deepcopy(value)
    if _is_dataclass_type(tp):
        hints = _hints(tp)
        return {f.name: _encode(hints[f.name], getattr(value, f.name)) for f in dataclasses.fields(tp)}
    if origin in (typing.Union, types.UnionType):
        return None if value is None else _encode(_optional(tp), value)
    if origin is dict:
        key_tp, value_tp = args
        if key_tp is str:
            return {k: _encode(value_tp, v) for k, v in value.items()}
        return [[_encode(key_tp, k), _encode(value_tp, v)] for k, v in value.items()]
    if origin is list or (origin is tuple and args[-1] is Ellipsis):
        return [_encode(args[0], v) for v in value]
    if origin is tuple:
        return [_encode(t, v) for t, v in zip(args, value, strict=True)]
    return value


def _decode(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value  # fresh from json.loads: nothing else holds it
    if _is_dataclass_type(tp):
        _expect(isinstance(value, dict), where, "an object")
        hints, fields = _hints(tp), dataclasses.fields(tp)
        unknown = set(value) - {f.name for f in fields}
        if unknown:
            raise SnapshotError(f"{where}: unknown field(s) {sorted(unknown)}")
        kwargs = {}
        for f in fields:
            if f.name in value:
                kwargs[f.name] = _decode(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SnapshotError(f"{where}: field {f.name!r} is missing")
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        return None if value is None else _decode(_optional(tp), value, where)
    if origin is dict:
        key_tp, value_tp = args
        if key_tp is str:
            _expect(isinstance(value, dict), where, "an object")
            return {k: _decode(value_tp, v, f"{where}[{k!r}]") for k, v in value.items()}
        _expect(isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value), where, "pairs")
        return {_decode(key_tp, k, f"{where} key"): _decode(value_tp, v, f"{where}[{k!r}]") for k, v in value}
    if origin in (list, tuple):
        _expect(isinstance(value, list), where, "a list")
        if origin is list or args[-1] is Ellipsis:
            items = [_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        _expect(len(value) == len(args), where, f"{len(args)} items")
        return tuple(_decode(t, v, f"{where}[{i}]") for i, (t, v) in enumerate(zip(args, value, strict=True)))
    if tp is bool:
        _expect(isinstance(value, bool), where, "true or false")
    elif tp is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), where, "an integer")
    elif tp is float:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), where, "a number")
        return float(value)
    elif tp is str:
        _expect(isinstance(value, str), where, "a string")
    else:
        raise TypeError(f"the snapshot codec does not handle {tp!r} ({where})")  # a new field type: extend the codec
    return value


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _optional(tp: Any) -> Any:
    (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]  # only Optional unions are used
    return inner


def _expect(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise SnapshotError(f"{where}: expected {what}")


def _check_snapshot(seq: int, task_corp: dict[str, str], corps: dict[str, _Corp]) -> None:
    """The cross-references the world relies on (a broken one would surface later as a KeyError, i.e. HTTP 500)."""

    def check(ok: bool, what: str) -> None:
        if not ok:
            raise SnapshotError(f"inconsistent snapshot: {what}")

    check(seq >= 0, "seq is negative")
    for corp_id, corp in corps.items():
        check(corp.corp_id == corp_id, f"corp {corp_id} is stored under another id")
        for key, way in corp.ways.items():
            check(way.config_id == key and bool(way.users), f"contact way {key} of {corp_id}")
        for key, group in corp.groups.items():
            check(group.group_id == key and all(t in corp.tags for t in group.tag_ids), f"tag group {key}")
        for key, tag in corp.tags.items():
            check(tag.tag_id == key and tag.group_id in corp.groups, f"tag {key} of {corp_id}")
        for external_userid, relations in corp.follows.items():
            for userid, follow in relations.items():
                ok = (follow.userid, follow.external_userid) == (userid, external_userid)
                check(ok and all(t in corp.tags for t in follow.tags), f"follow {userid}/{external_userid}")
        for msgid, task in corp.tasks.items():
            check(task.msgid == msgid and task.corp_id == corp_id, f"task {msgid} of {corp_id}")
    expected = {msgid: corp_id for corp_id, corp in corps.items() for msgid in corp.tasks}
    check(task_corp == expected, "task_corp does not match the corps' tasks")


class WorldTransport:
    """Transport (chalicelib.adapters.wecom.transport) that hands requests to a world in process. Bodies and answers
    go through JSON so the client is held to what the wire can carry."""

    def __init__(self, world: WeComWorld) -> None:
        self.world = world

    def request(
        self, method: str, path: str, *, query: dict[str, str], body: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]:
        wire_body = None if body is None else json.loads(json.dumps(body))
        try:
            answer = self.world.handle(path, dict(query), wire_body)
        except UnknownApiError:
            raise errors.WeComTransportError(f"WeCom {path} answered HTTP 404") from None
        result: dict[str, Any] = json.loads(json.dumps(answer))
        return result
