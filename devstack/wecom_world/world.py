"""WeComWorld: the API dispatch (tokens, faults, the call log) over the API modules, and the test controls."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

from devstack.wecom_world import (
    acquisition,
    app_messages,
    contact_list,
    contact_ways,
    contacts,
    groups,
    handover,
    join_ways,
    media,
    messages,
    moments,
    oauth,
    qr_images,
    snapshot,
    statistics,
    tags,
    tickets,
)
from devstack.wecom_world.api import ERRMSG, ApiError, ApiSet, ApiTable, UnknownApiError, api_name
from devstack.wecom_world.group_controls import GroupControls
from devstack.wecom_world.state import Call, Corp, Token, WorldState, digest

TOKEN_TTL = 7200  # gettoken expires_in (91039)

#: Every API family the world serves; a new one adds its module's ApiSet here.
API_SETS: tuple[ApiSet, ...] = (
    contact_ways.APIS,
    contacts.APIS,
    tags.APIS,
    messages.APIS,
    groups.APIS,
    join_ways.APIS,
    statistics.APIS,
    app_messages.APIS,
    oauth.APIS,
    tickets.APIS,
    media.APIS,
    acquisition.APIS,
    moments.APIS,
    handover.APIS,  # 客户继承 (在职 / 离职)
    contact_list.APIS,  # issue 14 §1: the first contact sync's bulk reads
)


class WorldTimeoutError(Exception):
    """A slow call outlasted the caller's timeout (in process only; over HTTP the client times out itself)."""


class WeComWorld(
    GroupControls,
    handover.HandoverControls,
    tickets.JsSdkControls,
    acquisition.AcquisitionControls,
    moments.MomentControls,
    contact_list.ContactListControls,
    WorldState,
):
    """The WeCom state and rules. ``handle`` serves the APIs; the other public methods are the test controls."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_contact_ways: int = contact_ways.MAX_CONTACT_WAYS,
        max_tags: int = tags.MAX_CORP_TAGS,
        follow_page_size: int = 500,
        api_sets: tuple[ApiSet, ...] = API_SETS,
        sleep: Callable[[float], None] = time.sleep,
        max_chat_members: int = groups.MAX_CHAT_MEMBERS,
    ) -> None:
        super().__init__(
            clock=clock,
            max_contact_ways=max_contact_ways,
            max_tags=max_tags,
            follow_page_size=follow_page_size,
            max_chat_members=max_chat_members,
        )
        self._apis = ApiTable.of(*api_sets)
        self.sleep = sleep  # how a slow call (``slow``) spends its time: tests pass a virtual clock's advance

    # --- controls -----------------------------------------------------------------------------------------------

    def qr_png(self, url_or_path: str) -> bytes | None:
        """The PNG behind a ``qr_code`` URL this world gave out, or None (no live way has it)."""
        return qr_images.qr_png(self, url_or_path)

    def use_clock(self, clock: Callable[[], float]) -> None:
        """Read time from ``clock`` (unix seconds) from now on: the local stack's one movable clock, or a test's."""
        with self.lock:
            self._clock = clock

    def register_corp(
        self,
        corp_id: str,
        *,
        secret: str | None = None,
        unionid: bool = True,
        monthly_limit: int | None = None,
        chat_member_limit: int | None = None,
    ) -> None:
        """Configure a corp: a fixed secret (others get 40001), whether unionid is returned, the receive limit,
        the member limit of its groups (None: the world's ``max_chat_members``)."""
        with self.lock:
            corp = self.corp(corp_id)
            corp.secret = secret
            corp.unionid = unionid
            corp.monthly_limit = monthly_limit
            corp.chat_member_limit = chat_member_limit

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
        with self.lock:
            contacts.register_contact(
                self,
                corp_id,
                external_userid,
                name=name,
                unionid=unionid,
                gender=gender,
                avatar=avatar,
                remark_mobiles=remark_mobiles,
            )

    def inject(self, api: str, errcode: int, times: int = 1) -> None:
        """Make the next ``times`` calls of ``api`` (e.g. "externalcontact/send_welcome_msg") answer ``errcode``."""
        with self.lock:
            self.faults.setdefault(api_name(api), []).extend([errcode] * times)

    def slow(self, api: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls of ``api`` take ``seconds`` before they are served (WeCom being slow)."""
        with self.lock:
            self.delays.setdefault(api_name(api), []).extend([seconds] * times)

    def expire_tokens(self) -> None:
        """Expire every issued access_token, so the next call answers 42001."""
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = float("-inf")

    def calls(self, api: str | None = None) -> list[Call]:
        """Recorded calls, oldest first, optionally only those of one API."""
        with self.lock:
            name = None if api is None else api_name(api)
            return [call for call in self.call_log if name is None or call.api == name]

    def app_messages(self, corp_id: str, userid: str | None = None) -> list[dict[str, Any]]:
        """Application messages (message/send) to the corp's members, or one member's, oldest first: each with its
        status (delivered, duplicate, dropped)."""
        with self.lock:
            return app_messages.messages(self.corp(corp_id), userid)

    def welcome_messages(self) -> list[dict[str, Any]]:
        """Welcome messages delivered so far (corp_id, userid, external_userid, text, attachments)."""
        with self.lock:
            return copy.deepcopy(self.welcomes)

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
        with self.lock:
            return contacts.scan(
                self,
                corp_id,
                state,
                external_userid=external_userid,
                userid=userid,
                name=name,
                unionid=unionid,
                now=now,
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
        with self.lock:
            return contacts.event(
                self,
                corp_id,
                change_type,
                userid=userid,
                external_userid=external_userid,
                event=event,
                now=now,
                **extra,
            )

    def confirm_task(self, msgid: str, userid: str, *, now: float | None = None) -> dict[str, int]:
        """The staff member confirms the mass-message task in their client: it is sent, customer by customer
        (2 if no longer a friend, 3 if the customer's monthly receive limit is reached). Returns status counts."""
        with self.lock:
            return messages.confirm_task(self, msgid, userid, now=now)

    # --- persistence --------------------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The durable WeCom state as versioned JSON (UTF-8): every corp (settings, contact ways, profiles, follow
        relations, tag groups and tags, welcome codes, mass-message tasks, received counts, customer groups and their
        join ways, acquisition links and their quota), the msgid -> corp map and the id sequence, so ids made after a
        restore never repeat earlier ones.

        Not the call log, delivered welcome messages, injected faults or access tokens: clients get a new token on
        40014. The format is snapshot.py's.
        """
        with self.lock:
            return snapshot.dump(self.seq, self.task_corp, self.corps)

    def restore(self, data: bytes) -> None:
        """Replace the world's state with a snapshot(); tokens, faults, calls and welcome messages start empty.

        Raises SnapshotError, leaving the world unchanged, for anything but a consistent snapshot of this version.
        """
        seq, task_corp, corps = snapshot.load(data)
        with self.lock:
            self.reset()
            self.corps, self.task_corp, self.seq = corps, task_corp, seq

    def changes_state(self, path: str) -> bool:
        """Whether the /cgi-bin/ API at ``path`` may change durable state (all but gettoken and the reads)."""
        api = api_name(path)
        return api != "gettoken" and api not in self._apis.read_only

    # --- the API ------------------------------------------------------------------------------------------------

    def handle(
        self, path: str, query: Mapping[str, str], body: Mapping[str, Any] | None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Serve one ``/cgi-bin/...`` request; always a WeCom-shaped dict with errcode and errmsg. A call made slow
        (``slow``) first sleeps its delay; with a ``timeout`` shorter than that it sleeps the timeout and raises
        WorldTimeoutError unserved (an in-process caller's view of a request that timed out)."""
        api = api_name(path)
        if api != "gettoken" and api not in self._apis.handlers:
            raise UnknownApiError(api)
        with self.lock:
            pending = self.delays.get(api)
            delay = pending.pop(0) if pending else 0.0
        if delay > 0:
            if timeout is not None and delay > timeout:
                self.sleep(timeout)
                raise WorldTimeoutError(api)
            self.sleep(delay)
        payload = dict(query) if api == "gettoken" or api in self._apis.from_query else dict(body or {})
        payload.pop("access_token", None)
        with self.lock:
            if api == "gettoken":
                corp_id = str(query.get("corpid", ""))
            else:  # known even when a fault answers first, so the call log says whose call it was
                token = self.tokens.get(str(query.get("access_token", "")))
                corp_id = token.corp_id if token is not None else ""
            try:
                faults = self.faults.get(api)
                if faults:
                    raise ApiError(faults.pop(0))
                if api == "gettoken":
                    result = self._gettoken(query)
                else:
                    corp = self._authenticate(str(query.get("access_token", "")))
                    result = self._apis.handlers[api](self, corp, payload)
                result = {"errcode": 0, "errmsg": "ok", **result}
            except ApiError as exc:
                result = {"errcode": exc.errcode, "errmsg": ERRMSG.get(exc.errcode, "error")}
            except (TypeError, ValueError, AttributeError):  # a field of the wrong JSON type
                result = {"errcode": 47001, "errmsg": ERRMSG[47001]}
            payload.pop("corpsecret", None)
            self.call_log.append(Call(api, corp_id, copy.deepcopy(payload), result["errcode"]))
            return result

    def _gettoken(self, query: Mapping[str, str]) -> dict[str, Any]:
        corp_id, secret = str(query.get("corpid", "")), str(query.get("corpsecret", ""))
        if not corp_id:
            raise ApiError(41002)
        if not secret:
            raise ApiError(41004)
        corp = self.corp(corp_id)
        if corp.secret is not None and corp.secret != secret:
            raise ApiError(40001)
        now = self.now()
        # Within its lifetime gettoken hands out the same token (91039).
        for value, token in self.tokens.items():
            if token.corp_id == corp_id and token.expires_at > now:
                return {"access_token": value, "expires_in": int(token.expires_at - now)}
        value = "sbx" + digest(corp_id, "token", self.next_seq())[:40]
        self.tokens[value] = Token(corp_id, now + TOKEN_TTL)
        return {"access_token": value, "expires_in": TOKEN_TTL}

    def _authenticate(self, access_token: str) -> Corp:
        token = self.tokens.get(access_token)
        if token is None:
            raise ApiError(40014)
        if token.expires_at <= self.now():
            raise ApiError(42001)
        return self.corps[token.corp_id]
