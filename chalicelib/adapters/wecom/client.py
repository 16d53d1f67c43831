"""The one WeCom server-API client (implements ports.WeComPort), for the real API and the sandbox alike.

What it owns: the access_token and JS-SDK ticket cache (cache.py: per corp and secret, one refresher at a time), the
documented retry rules (refresh once on 40014/42001; back off on -1 at most ``max_busy_retries`` times; never loop on
45009/45033), the mapping of errcodes onto the SiyuError tree, and the documented limits checked before a call is
spent.
It branches on errcode only (errcodes.py: which are retried, which error each becomes), never on errmsg, and never
logs secrets, tokens, URLs, names or phone numbers.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib import deadlines, errors
from chalicelib.adapters.wecom.acquisition import AcquisitionMixin
from chalicelib.adapters.wecom.answers import check_contact_way, check_tag_name, follow_user, tag_group
from chalicelib.adapters.wecom.answers import errcode_of as _errcode
from chalicelib.adapters.wecom.answers import payload_of as _payload
from chalicelib.adapters.wecom.answers import require as _require
from chalicelib.adapters.wecom.answers import required_str as _required_str
from chalicelib.adapters.wecom.app_messages import AppMessagesMixin
from chalicelib.adapters.wecom.bodies import message_body, template_recipients
from chalicelib.adapters.wecom.cache import RefreshingCache
from chalicelib.adapters.wecom.contact_list import ContactListMixin
from chalicelib.adapters.wecom.errcodes import BUSY, OK, TOKEN_ERRCODES, WELCOME_OUTCOMES, error_for
from chalicelib.adapters.wecom.groups import GroupChatsMixin
from chalicelib.adapters.wecom.handover import HandoverMixin  # 客户继承 (issue 14 §2)
from chalicelib.adapters.wecom.images import ImagesMixin
from chalicelib.adapters.wecom.media import MediaMixin
from chalicelib.adapters.wecom.moments import MomentsMixin
from chalicelib.adapters.wecom.statistics import StatisticsMixin
from chalicelib.adapters.wecom.tickets import JsApiTicketsMixin
from chalicelib.adapters.wecom.transport import Transport
from chalicelib.observability import count, count_by
from chalicelib.ports import (
    ContactWay,
    CorpTagGroup,
    ExternalProfile,
    FollowUser,
    Message,
    MsgTemplateResult,
    WeComCredentials,
    WelcomeOutcome,
)
from chalicelib.tracing import span

logger = logging.getLogger("siyu.wecom")

PAGE_LIMIT = 1000  # get_groupmsg_task / get_groupmsg_send_result (93338)

# A call with less time than this left in its budget is not started: it could not get an answer in time.
MIN_CALL_SECONDS = 0.25


class Budget(Protocol):
    """The time a caller has left (seconds, on its monotonic clock): a callback's 3 s (services/budget.py)."""

    def left(self) -> float: ...


class WeComClient(
    GroupChatsMixin,
    StatisticsMixin,
    MediaMixin,
    JsApiTicketsMixin,
    AppMessagesMixin,
    ImagesMixin,
    AcquisitionMixin,
    MomentsMixin,
    HandoverMixin,
    ContactListMixin,
):
    """WeComPort over a Transport (groups.py, statistics.py, media.py: media/upload, tickets.py: JS-SDK tickets,
    app_messages.py: application messages, images.py: QR images, acquisition.py: 获客链接, moments.py: 客户朋友圈).
    One per process, thread-safe."""

    def __init__(
        self,
        transport: Transport,
        *,
        timeout: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        max_busy_retries: int = 3,
        busy_backoff: float = 0.2,
        token_margin: float = 300.0,
    ) -> None:
        self._transport = transport
        self._timeout = timeout
        self._sleep = sleep
        self._max_busy_retries = max_busy_retries
        self._busy_backoff = busy_backoff
        self._cache = RefreshingCache(monotonic, token_margin)  # access_tokens and JS-SDK tickets (cache.py)
        self._budget: Budget | None = None

    def bounded(self, budget: Budget) -> WeComClient:
        """This client (same transport, same token cache) with every call fitted into ``budget``: a request's
        timeout is at most what is left, a retry's backoff never sleeps past it, and a call that cannot fit (less
        than MIN_CALL_SECONDS left) is not started but raises WeComDeadlineError."""
        view = copy.copy(self)
        view._budget = budget
        return view

    # --- contact ways -------------------------------------------------------------------------------------------

    def add_contact_way(self, creds: WeComCredentials, *, users: list[str], state: str, remark: str = "") -> ContactWay:
        """A QR 「联系我」 for ``users`` (type 1 for one user, 2 for several) that skips verification."""
        check_contact_way(users, state, remark)
        body = {
            "type": 1 if len(users) == 1 else 2,
            "scene": 2,
            "remark": remark,
            "skip_verify": True,
            "state": state,
            "user": list(users),
        }
        data = self._api(creds, "externalcontact/add_contact_way", body)
        config_id = _required_str(data, "config_id", "add_contact_way")
        return ContactWay(config_id=config_id, qr_code=str(data.get("qr_code", "")))

    def update_contact_way(
        self, creds: WeComCredentials, *, config_id: str, users: list[str], state: str, remark: str = ""
    ) -> None:
        _require(config_id, "config_id")
        check_contact_way(users, state, remark)
        body = {"config_id": config_id, "remark": remark, "skip_verify": True, "state": state, "user": list(users)}
        self._api(creds, "externalcontact/update_contact_way", body)

    def del_contact_way(self, creds: WeComCredentials, *, config_id: str) -> None:
        _require(config_id, "config_id")
        self._api(creds, "externalcontact/del_contact_way", {"config_id": config_id})

    # --- customers ----------------------------------------------------------------------------------------------

    def get_external_contact(self, creds: WeComCredentials, external_userid: str) -> ExternalProfile:
        """The profile and every staff relation (follow_user pages are followed to the end)."""
        _require(external_userid, "external_userid")
        follow: list[FollowUser] = []
        cursor = ""
        while True:
            query = {"external_userid": external_userid}
            if cursor:
                query["cursor"] = cursor
            data = self._api(creds, "externalcontact/get", None, method="GET", query=query)
            follow.extend(follow_user(item) for item in data.get("follow_user") or [])
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                break
        contact = data.get("external_contact")
        if not isinstance(contact, dict):
            raise errors.WeComTransportError("WeCom externalcontact/get answered without external_contact")
        return ExternalProfile(
            external_userid=str(contact.get("external_userid") or external_userid),
            name=str(contact.get("name", "")),
            type=int(contact.get("type", 1)),
            gender=int(contact.get("gender", 0)),
            avatar=str(contact.get("avatar", "")),
            unionid=str(contact.get("unionid", "")),
            corp_name=str(contact.get("corp_name", "")),
            follow_users=tuple(follow),
        )

    def mark_tag(
        self,
        creds: WeComCredentials,
        *,
        userid: str,
        external_userid: str,
        add_tag: list[str],
        remove_tag: list[str],
    ) -> None:
        _require(userid, "userid")
        _require(external_userid, "external_userid")
        if not add_tag and not remove_tag:
            raise errors.InvalidError("mark_tag needs add_tag or remove_tag")
        body = {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": list(add_tag),
            "remove_tag": list(remove_tag),
        }
        self._api(creds, "externalcontact/mark_tag", body)

    def send_welcome_msg(self, creds: WeComCredentials, *, welcome_code: str, message: Message) -> str:
        """A WelcomeOutcome value. The code is single-use within 20 s, so nothing but -1 is retried; errcodes
        become outcomes (unknown ones FAILED; _call has logged the errcode); only transport failures raise."""
        _require(welcome_code, "welcome_code")
        body: dict[str, Any] = {"welcome_code": welcome_code, **message_body(message)}
        try:
            self._api(creds, "externalcontact/send_welcome_msg", body)
        except errors.WeComError as exc:
            return WELCOME_OUTCOMES.get(exc.errcode, WelcomeOutcome.FAILED)
        return WelcomeOutcome.SENT

    # --- corp tags ----------------------------------------------------------------------------------------------

    def get_corp_tag_list(self, creds: WeComCredentials) -> list[CorpTagGroup]:
        data = self._api(creds, "externalcontact/get_corp_tag_list", {})
        return [tag_group(group) for group in data.get("tag_group") or [] if not group.get("deleted")]

    def add_corp_tags(self, creds: WeComCredentials, *, group_name: str, tag_names: list[str]) -> CorpTagGroup:
        """Ensure ``tag_names`` exist in the group named ``group_name`` (created if missing); returns it with ids."""
        check_tag_name(group_name, "group_name")
        wanted = list(dict.fromkeys(tag_names))
        for name in wanted:
            check_tag_name(name, "tag name")
        existing = next((g for g in self.get_corp_tag_list(creds) if g.group_name == group_name), None)
        missing = [name for name in wanted if existing is None or name not in existing.tags]
        if existing is not None and not missing:
            return existing
        if not missing:
            raise errors.InvalidError("a new tag group needs at least one tag")
        body: dict[str, Any] = {"tag": [{"name": name} for name in missing]}
        if existing is None:
            body["group_name"] = group_name
        else:
            body["group_id"] = existing.group_id
        data = self._api(creds, "externalcontact/add_corp_tag", body)
        created = data.get("tag_group")
        if not isinstance(created, dict):
            raise errors.WeComTransportError("WeCom externalcontact/add_corp_tag answered without tag_group")
        added = tag_group(created)
        if existing is None:
            return CorpTagGroup(group_id=added.group_id, group_name=group_name, tags=added.tags)
        return CorpTagGroup(group_id=existing.group_id, group_name=group_name, tags={**existing.tags, **added.tags})

    def del_corp_tags(self, creds: WeComCredentials, *, tag_ids: list[str], group_ids: list[str]) -> None:
        if not tag_ids and not group_ids:
            raise errors.InvalidError("del_corp_tags needs tag_ids or group_ids")
        self._api(creds, "externalcontact/del_corp_tag", {"tag_id": list(tag_ids), "group_id": list(group_ids)})

    # --- mass messages (企业群发) --------------------------------------------------------------------------------

    def add_msg_template(
        self,
        creds: WeComCredentials,
        *,
        sender: str,
        message: Message,
        chat_type: str = "single",
        external_userids: list[str] | None = None,
        chat_ids: list[str] | None = None,
    ) -> MsgTemplateResult:
        """Create a staff task (sent only once ``sender`` confirms it) to customers (``chat_type`` "single") or to
        group chats ("group"); fail_list holds the unreachable ones."""
        _require(sender, "sender")
        body: dict[str, Any] = {"sender": sender, **template_recipients(chat_type, external_userids, chat_ids)}
        body.update(message_body(message))
        data = self._api(creds, "externalcontact/add_msg_template", body)
        return MsgTemplateResult(
            msgid=_required_str(data, "msgid", "add_msg_template"),
            fail_list=tuple(str(x) for x in data.get("fail_list") or []),
        )

    def get_groupmsg_task(self, creds: WeComCredentials, *, msgid: str, cursor: str = "") -> dict[str, Any]:
        """One page of per-staff status: ``{"task_list": [...], "next_cursor": str}``."""
        _require(msgid, "msgid")
        body = {"msgid": msgid, "limit": PAGE_LIMIT, "cursor": cursor}
        return _payload(self._api(creds, "externalcontact/get_groupmsg_task", body))

    def get_groupmsg_send_result(
        self, creds: WeComCredentials, *, msgid: str, userid: str, cursor: str = ""
    ) -> dict[str, Any]:
        """One page of per-customer status for one staff member: ``{"send_list": [...], "next_cursor": str}``."""
        _require(msgid, "msgid")
        _require(userid, "userid")
        body = {"msgid": msgid, "userid": userid, "limit": PAGE_LIMIT, "cursor": cursor}
        return _payload(self._api(creds, "externalcontact/get_groupmsg_send_result", body))

    def get_groupmsg_list(
        self,
        creds: WeComCredentials,
        *,
        start_time: int,
        end_time: int,
        creator: str = "",
        cursor: str = "",
        chat_type: str = "single",
    ) -> dict[str, Any]:
        """One page of mass messages of ``chat_type`` ("single": to customers, "group": to group chats) created in
        [start_time, end_time] (get_groupmsg_list_v2), for reconciling tasks whose msgid was lost."""
        body: dict[str, Any] = {
            "chat_type": chat_type,
            "start_time": start_time,
            "end_time": end_time,
            "filter_type": 2,
            "limit": 100,
            "cursor": cursor,
        }
        if creator:
            body["creator"] = creator
        return _payload(self._api(creds, "externalcontact/get_groupmsg_list_v2", body))

    # --- staff sign-in (OAuth) ------------------------------------------------------------------------------

    def user_id_from_code(self, creds: WeComCredentials, code: str) -> str:
        """The corp member an OAuth ``code`` was issued to (``auth/getuserinfo``; a code is valid 5 minutes, once).
        A code issued to someone outside the corp answers an openid and no userid: refused as a ForbiddenError."""
        _require(code, "code")
        data = self._api(creds, "auth/getuserinfo", None, method="GET", query={"code": code})
        userid = data.get("userid") or data.get("UserId")
        if not isinstance(userid, str) or not userid:
            raise errors.ForbiddenError("this WeCom account is not a member of the corp")
        return userid

    # --- plumbing -----------------------------------------------------------------------------------------------

    def _api(
        self,
        creds: WeComCredentials,
        api: str,
        body: dict[str, Any] | None,
        *,
        method: str = "POST",
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call ``/cgi-bin/{api}`` with the corp's token; refresh the token once if WeCom rejects it. On the fire
        path each call is an X-Ray subsegment named by its API (never its URL: it carries the token)."""
        with span(f"wecom {api}", api=api):
            return self._call(creds, api, body, method, query)

    def _call(
        self, creds: WeComCredentials, api: str, body: dict[str, Any] | None, method: str, query: dict[str, str] | None
    ) -> dict[str, Any]:
        token = self._token(creds)
        refreshed = False
        while True:
            data = self._send(method, api, {**(query or {}), "access_token": token}, body)
            errcode = _errcode(data, api)
            if errcode == OK:
                return data
            if errcode in TOKEN_ERRCODES and not refreshed:
                logger.info("access_token rejected; refreshing once", extra={"api": api, "errcode": errcode})
                refreshed = True
                token = self._token(creds, stale=token)
                continue
            raise self._fail(errcode, data, api)

    def _send(self, method: str, api: str, query: dict[str, str], body: dict[str, Any] | None) -> dict[str, Any]:
        """One request, repeated with exponential backoff while WeCom answers -1 (busy)."""
        attempt = 0
        while True:
            data = self._transport.request(method, f"/cgi-bin/{api}", query=query, body=body, timeout=self._fit(api))
            errcode = _errcode(data, api)
            if errcode != OK:  # every answer that is not a success, also a busy one retried here (-1)
                count_by("WeComErrors", "errcode", str(errcode))
            if errcode != BUSY or attempt >= self._max_busy_retries:
                return data
            delay = self._busy_backoff * (2**attempt)
            budget = self._limit()
            if budget is not None and budget.left() - delay < MIN_CALL_SECONDS:
                return data  # no time for the backoff and another call: the caller gets this busy answer
            attempt += 1
            logger.info("WeCom busy; backing off", extra={"api": api, "attempt": attempt, "delay": delay})
            self._sleep(delay)

    def _limit(self) -> Budget | None:
        """This view's budget, else that of the callback being served (chalicelib/deadlines.py), else none."""
        return self._budget if self._budget is not None else deadlines.current()

    def _fit(self, api: str) -> float:
        """The timeout of the next request: the client's, or less when the budget has less left."""
        budget = self._limit()
        if budget is None:
            return self._timeout
        left = budget.left()
        if left < MIN_CALL_SECONDS:
            logger.info("WeCom call not started: out of budget", extra={"api": api, "left": round(left, 3)})
            raise errors.WeComDeadlineError(f"no time left for WeCom {api}", details={"api": api})
        return min(self._timeout, left)

    def _token(self, creds: WeComCredentials, *, stale: str | None = None) -> str:
        """A valid access_token for the corp+secret; only one thread per key calls gettoken at a time.
        ``stale`` is the token WeCom just rejected: a different cached one (another thread refreshed) is reused."""
        key = ("token", creds.corp_id, hashlib.sha256(creds.secret.encode()).hexdigest())

        def gettoken() -> tuple[str, float]:
            query = {"corpid": creds.corp_id, "corpsecret": creds.secret}
            try:
                data = self._send("GET", "gettoken", query, None)
                errcode = _errcode(data, "gettoken")
                if errcode != OK:
                    raise self._fail(errcode, data, "gettoken")
            except errors.SiyuError:  # no token, no WeCom call at all for this corp: WeComTokenFailures alarms
                count("WeComTokenFailures")
                raise
            return _required_str(data, "access_token", "gettoken"), float(data.get("expires_in") or 7200)

        return self._cache.get(key, gettoken, stale=stale)

    def _fail(self, errcode: int, data: dict[str, Any], api: str) -> errors.WeComError:
        exc = error_for(errcode, str(data.get("errmsg", "")), api=api)
        logger.warning("WeCom call failed", extra={"api": api, "errcode": errcode, "error": exc.code})
        return exc
