"""客户继承: handing a staff member's customers to another (在职继承, 94081 / 94088) and a resigned one's (离职继承,
get_unassigned_list 92124, resigned/transfer_customer 94081, resigned/transfer_result 94082).

A transfer call answers per customer: errcode 0 starts the hand-over, which waits (status 2) for 24 h on the
world's clock and then completes (1): the customer's follow relation moves from the handover staff member to the
takeover one (the old relation ends as WeCom's DELETE_BY_TRANSFER does). Before that the customer may refuse
(``refuse_transfer``: 3), and a takeover staff member at their customer limit (``set_customer_limit``) is refused
when it comes due (4); both failures are told by a ``transfer_fail`` callback, a completion by the old relation's
``del_external_contact`` with Source DELETE_BY_TRANSFER (``transfer_callbacks``). Per customer
errcodes (global list 90313): 84061 not the handover staff's customer, 40129 already being handed over, 40128 handed
over too often (once in 90 days, at most twice in all), 40097 a resigned transfer whose staff has not resigned.
"""

from __future__ import annotations

from typing import Any

from devstack.wecom_world.api import ApiError, ApiSet, cursor
from devstack.wecom_world.day_two_state import Transfer
from devstack.wecom_world.state import Corp, Follow, WorldError, WorldState

ASSIGNED = 202  # follow_info.add_way of a relation a hand-over made (管理员/负责人分配)

WAIT_SECONDS = 24 * 3600
TOO_OFTEN_WINDOW = 90 * 86400
MAX_TRANSFERS = 2  # a customer is handed over at most twice in all
MAX_CUSTOMERS = 100  # external_userid per call
MAX_SUCCESS_MSG = 200  # transfer_success_msg, characters
UNASSIGNED_PAGE_MAX = 1000
RESULT_PAGE = 100  # transfer_result page size (the world's; WeCom names none)

DONE, WAITING, REFUSED, LIMIT, NO_RECORD = 1, 2, 3, 4, 5
TOO_OFTEN, IN_TRANSFER, NOT_RESIGNED = 40128, 40129, 40097
FAIL_REASONS = {REFUSED: "customer_refused", LIMIT: "customer_limit_exceed"}


def transfer_customer(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    return _transfer(world, corp, p, resigned=False)


def resigned_transfer_customer(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    return _transfer(world, corp, p, resigned=True)


def transfer_result(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    return _result(world, corp, p, resigned=False)


def resigned_transfer_result(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    return _result(world, corp, p, resigned=True)


def get_unassigned_list(world: WorldState, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
    """Each resigned staff member's customers not yet handed over (a refused or failed one is listed again)."""
    size = int(p.get("page_size") or UNASSIGNED_PAGE_MAX)
    if not 1 <= size <= UNASSIGNED_PAGE_MAX:
        size = UNASSIGNED_PAGE_MAX
    settle(world, corp)
    rows = []
    for userid, left_at in sorted(corp.resigned.items()):
        for ext in sorted(corp.follows):
            follow = corp.follows[ext].get(userid)
            if follow is None or not follow.friends or _open(corp, userid, ext) is not None:
                continue
            rows.append({"handover_userid": userid, "external_userid": ext, "dimission_time": left_at})
    start = cursor(p.get("cursor"))
    page = rows[start : start + size]
    end = start + len(page)
    return {"info": page, "is_last": end >= len(rows), "next_cursor": str(end) if end < len(rows) else ""}


APIS = ApiSet(
    {
        "externalcontact/transfer_customer": transfer_customer,
        "externalcontact/transfer_result": transfer_result,
        "externalcontact/get_unassigned_list": get_unassigned_list,
        "externalcontact/resigned/transfer_customer": resigned_transfer_customer,
        "externalcontact/resigned/transfer_result": resigned_transfer_result,
    },  # none read-only: each settles the transfers whose 24 h passed
)


def _transfer(world: WorldState, corp: Corp, p: dict[str, Any], *, resigned: bool) -> dict[str, Any]:
    handover, takeover = str(p.get("handover_userid") or ""), str(p.get("takeover_userid") or "")
    ids = p.get("external_userid")
    if not handover or not takeover:
        raise ApiError(41009)
    if not isinstance(ids, list) or not ids:
        raise ApiError(41035)
    if len(ids) > MAX_CUSTOMERS:
        raise ApiError(40058)  # more than 100 customers in one call (the docs name no errcode: the world's rule)
    if len(str(p.get("transfer_success_msg") or "")) > MAX_SUCCESS_MSG:
        raise ApiError(40058)
    if resigned and handover not in corp.resigned:
        raise ApiError(NOT_RESIGNED)
    settle(world, corp)
    now = world.now()
    answers = []
    for ext in [str(e) for e in ids]:
        answers.append({"external_userid": ext, "errcode": _start(corp, handover, takeover, ext, now, resigned)})
    return {"customer": answers}


def _start(corp: Corp, handover: str, takeover: str, ext: str, now: float, resigned: bool) -> int:
    follow = corp.follows.get(ext, {}).get(handover)
    if follow is None or not follow.friends:
        return 84061
    if handover == takeover:
        return 40058
    if _open(corp, handover, ext) is not None:
        return IN_TRANSFER
    done = [t for t in corp.transfers if t.external_userid == ext and t.status == DONE]
    if len(done) >= MAX_TRANSFERS or any(t.takeover_time > now - TOO_OFTEN_WINDOW for t in done):
        return TOO_OFTEN
    corp.transfers.append(Transfer(handover, takeover, ext, now, resigned=resigned))
    return 0


def _result(world: WorldState, corp: Corp, p: dict[str, Any], *, resigned: bool) -> dict[str, Any]:
    handover, takeover = str(p.get("handover_userid") or ""), str(p.get("takeover_userid") or "")
    if not handover or not takeover:
        raise ApiError(41009)
    settle(world, corp)
    mine = [
        t
        for t in corp.transfers
        if (t.handover_userid, t.takeover_userid, t.resigned) == (handover, takeover, resigned)
    ]
    latest: dict[str, Transfer] = {}
    for t in mine:  # the latest transfer of each customer between the two
        latest[t.external_userid] = t
    rows = [
        {"external_userid": t.external_userid, "status": t.status, "takeover_time": t.takeover_time}
        for t in latest.values()
    ]
    start = cursor(p.get("cursor"))
    page = rows[start : start + RESULT_PAGE]
    end = start + len(page)
    return {"customer": page, "next_cursor": str(end) if end < len(rows) else ""}


def _open(corp: Corp, handover: str, ext: str) -> Transfer | None:
    return next(
        (
            t
            for t in corp.transfers
            if t.external_userid == ext and t.handover_userid == handover and t.status == WAITING
        ),
        None,
    )


def settle(world: WorldState, corp: Corp) -> None:
    """Complete every transfer whose 24 h have passed: the relation moves, or the takeover staff's limit refuses it."""
    now = world.now()
    for t in corp.transfers:
        if t.status != WAITING or t.started_at + WAIT_SECONDS > now:
            continue
        limit = corp.customer_limits.get(t.takeover_userid)
        if limit is not None and _customers_of(corp, t.takeover_userid) >= limit:
            t.status = LIMIT
            continue
        due = int(t.started_at + WAIT_SECONDS)
        relations = corp.follows.setdefault(t.external_userid, {})
        old = relations.get(t.handover_userid)
        if old is not None:
            old.active = False
        relations[t.takeover_userid] = Follow(
            userid=t.takeover_userid,
            external_userid=t.external_userid,
            state=old.state if old else "",
            createtime=due,
            remark_mobiles=old.remark_mobiles if old else (),
            tags=list(old.tags) if old else [],
            add_way=ASSIGNED,  # WeCom's add_way 202: 管理员/负责人分配 (在职/离职继承)
        )
        t.status, t.takeover_time = DONE, due


def _customers_of(corp: Corp, userid: str) -> int:
    return sum(1 for rel in corp.follows.values() if userid in rel and rel[userid].friends)


# --- controls (WeComWorld wraps them under its lock) ---------------------------------------------------------------


def refuse(world: WorldState, corp: Corp, external_userid: str) -> None:
    """The customer refuses their waiting hand-over (status 3)."""
    settle(world, corp)
    waiting = [t for t in corp.transfers if t.external_userid == external_userid and t.status == WAITING]
    if not waiting:
        raise WorldError(f"{external_userid} has no hand-over waiting")
    for t in waiting:
        t.status = REFUSED


def callbacks(world: WorldState, corp: Corp) -> list[dict[str, Any]]:
    """The callbacks of settled hand-overs not told yet (each told once), oldest first: ``transfer_fail`` for a
    failed one, and for a completed one the old relation's ``del_external_contact`` (Source DELETE_BY_TRANSFER)."""
    settle(world, corp)
    out = []
    for t in corp.transfers:
        if t.notified or t.status == WAITING:
            continue
        t.notified = True
        fields: dict[str, Any] = {
            "ToUserName": corp.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(world.now()),
            "MsgType": "event",
            "Event": "change_external_contact",
        }
        if t.status in FAIL_REASONS:
            fields.update(ChangeType="transfer_fail", FailReason=FAIL_REASONS[t.status], UserID=t.takeover_userid)
        else:
            fields.update(ChangeType="del_external_contact", Source="DELETE_BY_TRANSFER", UserID=t.handover_userid)
        fields["ExternalUserID"] = t.external_userid
        out.append(fields)
    return out


def describe(corp: Corp) -> list[dict[str, Any]]:
    return [
        {
            "handover_userid": t.handover_userid,
            "takeover_userid": t.takeover_userid,
            "external_userid": t.external_userid,
            "status": t.status,
            "takeover_time": t.takeover_time,
            "resigned": t.resigned,
        }
        for t in corp.transfers
    ]


class HandoverControls(WorldState):
    """WeComWorld's controls for 客户继承 (the sandbox's /sandbox/handover routes)."""

    def resign(self, corp_id: str, userid: str, *, at: float | None = None) -> None:
        """``userid`` leaves the corp: their customers appear in get_unassigned_list."""
        with self.lock:
            self.corp(corp_id).resigned[userid] = int(self.now() if at is None else at)

    def set_customer_limit(self, corp_id: str, userid: str, limit: int) -> None:
        """``userid`` can hold at most ``limit`` customers: a hand-over to them beyond it fails (status 4)."""
        with self.lock:
            self.corp(corp_id).customer_limits[userid] = limit

    def refuse_transfer(self, corp_id: str, external_userid: str) -> list[dict[str, Any]]:
        """The customer refuses the hand-over waiting for them; returns the transfer_fail callbacks now due."""
        with self.lock:
            corp = self.corp(corp_id)
            refuse(self, corp, external_userid)
            return callbacks(self, corp)

    def transfer_callbacks(self, corp_id: str) -> list[dict[str, Any]]:
        """Settle the hand-overs whose 24 h passed; the callbacks not told yet (``callbacks``)."""
        with self.lock:
            return callbacks(self, self.corp(corp_id))

    def transfers(self, corp_id: str) -> list[dict[str, Any]]:
        with self.lock:
            corp = self.corp(corp_id)
            settle(self, corp)
            return describe(corp)
