"""Storage of check-ins, points and leaderboards; see docs/data-model.md, "Check-ins, points and leaderboards".

Everything a check-in changes is one TransactWriteItems, so a crash leaves all of it or none: the day's claim
(``CK#<chat>#<day>``, only if absent), the standing (only if unchanged since read), the board entry moved (the old
one deleted only if it is there, the new one put), and the ledger credit (the ref's claim only if absent, the
balance ADD, the entry). A redemption is the same shape around one conditional update of the balance
(``balance >= :points``), so two at once can never take it below zero.

Transactions that collide (``TransactionConflict``) are retried here; a failed condition is answered by which item
refused it, read from the cancellation reasons in the order the items were added.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Key, Raw
from chalicelib.adapters.dynamodb.models import (
    BoardItem,
    CheckinItem,
    CheckinRuleItem,
    LedgerItem,
    PointsBalanceItem,
    PointsRefItem,
    SiyuItem,
    StandingItem,
)
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain.instants import utc_key
from chalicelib.domain.points import (
    APPLIED,
    DUPLICATE,
    SHORT,
    Balance,
    BoardEntry,
    LedgerEntry,
    Redemption,
    Standing,
)
from chalicelib.errors import ConflictError
from chalicelib.ports import Page

TX_ATTEMPTS = 6  # a TransactionConflict (another transaction on the same items) is retried this often
CONDITION_FAILED = "ConditionalCheckFailed"
TRANSACTION_CONFLICT = "TransactionConflict"
DAY, CLAIM, BALANCE, LEDGER, STANDING, BOARD = "day", "claim", "balance", "ledger", "standing", "board"  # tx items


def _utc(at: str) -> str:
    return utc_key(datetime.fromisoformat(at))


def board_key(tenant_id: str, customer_id: str, standing: Standing) -> Key:
    return k.board_pk(tenant_id, standing.chat_id), k.board_sk(standing.score, standing.reached, customer_id)


def board_keys(tenant_id: str, customer_id: str, standings: Iterable[Raw]) -> list[Key]:
    """The board entries that raw standing items name (erasure deletes them before the standings)."""
    out = []
    for raw in standings:
        item = StandingItem.from_raw_data(raw)
        out.append(board_key(tenant_id, customer_id, _standing(item)))
    return out


def _standing(item: StandingItem) -> Standing:
    return Standing(
        chat_id=item.sk.removeprefix(k.STANDING_PREFIX),
        score=int(item.score),
        checkins=int(item.checkins),
        streak=int(item.streak),
        best=int(item.best),
        last_day=item.last_day,
        run_start=item.run_start,
        reached=item.reached,
        version=int(item.version),
        rewards=tuple(str(key) for key in item.rewards or ()),
    )


def _entry(item: LedgerItem) -> LedgerEntry:
    return LedgerEntry(item.ref, int(item.points), item.reason, item.at, item.chat_id)


def _redemption(doc: str | None) -> Redemption:
    return Redemption(**json.loads(doc or "{}"))


class PointsRepository(DynamoBase):
    # --- rules ------------------------------------------------------------------------------------------------

    def checkin_rules(self, tenant_id: str, chat_id: str | None) -> tuple[dict[str, object], dict[str, object]]:
        """The tenant's default rule and (with ``chat_id``) the group's override, as stored ({} when none)."""
        pk = k.tenant_pk(tenant_id)
        wanted = [(pk, k.CHECKIN_RULE_SK)] + ([(pk, k.checkin_rule_sk(chat_id))] if chat_id else [])
        raws = self.batch_get(wanted)
        docs = [json.loads(raws[key].get("doc", {}).get("S", "{}")) if key in raws else {} for key in wanted]
        return docs[0], docs[1] if chat_id else {}

    def put_checkin_rule(self, tenant_id: str, chat_id: str | None, rule: dict[str, object]) -> None:
        """Replace the tenant default (``chat_id`` None) or a group's override."""
        sk = k.checkin_rule_sk(chat_id) if chat_id else k.CHECKIN_RULE_SK
        doc = json.dumps(rule, ensure_ascii=False, separators=(",", ":"))
        with translate():
            CheckinRuleItem(pk=k.tenant_pk(tenant_id), sk=sk, doc=doc).save()

    # --- check-ins --------------------------------------------------------------------------------------------

    def load_checkin(
        self, tenant_id: str, customer_id: str, chat_id: str, day: str
    ) -> tuple[Standing | None, str | None]:
        """The customer's standing in the group and the ref of the check-in holding the day (None: the day is
        free): one two-key read, all a duplicate or a replay costs."""
        pk = k.customer_pk(tenant_id, customer_id)
        standing_key, day_key = (pk, k.standing_sk(chat_id)), (pk, k.checkin_sk(chat_id, day))
        raws = self.batch_get([standing_key, day_key], consistent=True)
        raw, held = raws.get(standing_key), raws.get(day_key)
        standing = _standing(StandingItem.from_raw_data(raw)) if raw else None
        return standing, CheckinItem.from_raw_data(held).ref if held else None

    def record_checkin(
        self, tenant_id: str, customer_id: str, *, day: str, before: Standing, after: Standing, entry: LedgerEntry
    ) -> str:
        """The check-in, its standing and board move and its credit, all or nothing: ``applied``, or ``duplicate``
        when the day was taken meanwhile. The day is the credit's claim: a check-in's ref (its fact) always falls on
        the same day, so no ref claim is written. ConflictError: the standing changed since ``before`` was read
        (re-read and decide again)."""
        pk = k.customer_pk(tenant_id, customer_id)
        bpk, old_sk = board_key(tenant_id, customer_id, before)
        _, new_sk = board_key(tenant_id, customer_id, after)

        def build(tx: Tx) -> None:
            day_item = CheckinItem(pk=pk, sk=k.checkin_sk(after.chat_id, day), ref=entry.ref)
            tx.save(DAY, day_item, condition=SiyuItem.pk.does_not_exist())
            self._credit_ops(tx, pk, entry, claim=False)
            standing = StandingItem(
                pk=pk,
                sk=k.standing_sk(after.chat_id),
                score=after.score,
                checkins=after.checkins,
                streak=after.streak,
                best=after.best,
                last_day=after.last_day,
                run_start=after.run_start,
                reached=after.reached,
                version=after.version,
                rewards=list(after.rewards) or None,
            )
            fresh = SiyuItem.pk.does_not_exist()
            tx.save(
                STANDING, standing, condition=fresh if not before.version else StandingItem.version == before.version
            )
            if before.version and old_sk != new_sk:  # one transaction may not touch an item twice
                tx.delete(BOARD, BoardItem(pk=bpk, sk=old_sk), condition=SiyuItem.pk.exists())
            board = BoardItem(pk=bpk, sk=new_sk, customer_id=customer_id, score=after.score)
            board.checkins, board.streak, board.reached = after.checkins, after.streak, after.reached
            tx.save(BOARD, board)

        refused = self._transact(build)
        if not refused:
            return APPLIED
        if DAY in refused:
            return DUPLICATE
        raise ConflictError("the standing changed concurrently")

    # --- the ledger -------------------------------------------------------------------------------------------

    def credit_points(self, tenant_id: str, customer_id: str, entry: LedgerEntry) -> bool:
        """Credit ``entry`` once per ref: False if the ref was credited already (nothing changes)."""
        pk = k.customer_pk(tenant_id, customer_id)
        return not self._transact(lambda tx: self._credit_ops(tx, pk, entry))

    def redeem_points(self, tenant_id: str, customer_id: str, redemption: Redemption) -> Redemption:
        """Debit once per redemption_id and never below zero; the recorded outcome (``applied`` or
        ``insufficient_points``), which a repeat of the id answers, whatever the repeat asked."""
        pk = k.customer_pk(tenant_id, customer_id)
        claim_sk, p = k.points_ref_sk(redemption.ref), redemption.points
        applied = PointsRefItem(pk=pk, sk=claim_sk, doc=_doc(redemption, APPLIED))

        def build(tx: Tx) -> None:
            tx.save(CLAIM, applied, condition=SiyuItem.pk.does_not_exist())
            balance = PointsBalanceItem(pk=pk, sk=k.POINTS_SK)
            actions = [PointsBalanceItem.balance.add(-p), PointsBalanceItem.spent.add(p)]
            tx.update(BALANCE, balance, actions=actions, condition=PointsBalanceItem.balance >= p)
            tx.save(LEDGER, self._ledger_item(pk, LedgerEntry(redemption.ref, -p, redemption.reason, redemption.at)))

        refused_by = self._transact(build)
        if not refused_by:
            return redemption
        if CLAIM not in refused_by:  # the balance refused it: the refusal is the outcome from now on
            refused = PointsRefItem(pk=pk, sk=claim_sk, doc=_doc(redemption, SHORT))
            if self.conditional(lambda: refused.save(condition=SiyuItem.pk.does_not_exist())):
                return _redemption(refused.doc)
        stored = self.get(PointsRefItem, pk, claim_sk, consistent=True)
        return _redemption(stored.doc if stored else None)

    def points_of(self, tenant_id: str, customer_id: str) -> tuple[Balance, list[Standing]]:
        """The balance and the standing in every group the customer checked in to."""
        pk = k.customer_pk(tenant_id, customer_id)
        item = self.get(PointsBalanceItem, pk, k.POINTS_SK, consistent=True)
        balance = Balance(int(item.balance or 0), int(item.earned or 0), int(item.spent or 0)) if item else Balance()
        standings, _ = self.query(StandingItem, pk, StandingItem.sk.startswith(k.STANDING_PREFIX), consistent=True)
        return balance, [_standing(s) for s in standings]

    def ledger_page(self, tenant_id: str, customer_id: str, *, cursor: str | None, limit: int) -> Page:
        """The customer's ledger entries, newest first, a page at a time."""
        pk = k.customer_pk(tenant_id, customer_id)
        raws, nxt = self.query_page(
            LedgerItem, pk, LedgerItem.sk.startswith(k.LEDGER_PREFIX), cursor=cursor, limit=limit, forward=False
        )
        return Page([_entry(LedgerItem.from_raw_data(r)) for r in raws], nxt)

    def leaderboard(self, tenant_id: str, chat_id: str, *, limit: int) -> list[BoardEntry]:
        """The group's top ``limit`` entries: one Query with Limit, whatever the group's size."""
        items, _ = self.query(BoardItem, k.board_pk(tenant_id, chat_id), limit=limit)
        return [BoardEntry(i.customer_id, int(i.score), int(i.checkins), int(i.streak), i.reached) for i in items]

    # --- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    def _ledger_item(pk: str, entry: LedgerEntry) -> LedgerItem:
        item = LedgerItem(pk=pk, sk=k.ledger_sk(_utc(entry.at), entry.ref), ref=entry.ref, points=entry.points)
        item.reason, item.at, item.chat_id = entry.reason, entry.at, entry.chat_id
        return item

    def _credit_ops(self, tx: Tx, pk: str, entry: LedgerEntry, *, claim: bool = True) -> None:
        """A credit's writes: the ref's claim (only if absent; a check-in's day claims it instead), the balance
        ADD, the ledger entry."""
        if claim:
            tx.save(CLAIM, PointsRefItem(pk=pk, sk=k.points_ref_sk(entry.ref)), condition=SiyuItem.pk.does_not_exist())
        actions = [
            PointsBalanceItem.balance.add(entry.points),
            PointsBalanceItem.earned.add(entry.points),
            PointsBalanceItem.kind.set(PointsBalanceItem),
        ]
        tx.update(BALANCE, PointsBalanceItem(pk=pk, sk=k.POINTS_SK), actions=actions)
        tx.save(LEDGER, self._ledger_item(pk, entry))

    def _transact(self, build: Callable[[Tx], None]) -> set[str]:
        """Run a transaction: an empty set when it committed, else the labels of the items whose condition
        failed. Collisions with another transaction are retried with a short backoff."""
        with translate():
            for attempt in range(TX_ATTEMPTS):
                tx = Tx()
                try:
                    with TransactWrite(connection=self.connection) as write:
                        tx.write = write
                        build(tx)
                    return set()
                except TransactWriteError as exc:
                    codes = [r.code if r is not None else None for r in exc.cancellation_reasons or []]
                    if CONDITION_FAILED in codes:
                        return {
                            label for label, code in zip(tx.labels(), codes, strict=False) if code == CONDITION_FAILED
                        }
                    if TRANSACTION_CONFLICT not in codes or attempt == TX_ATTEMPTS - 1:
                        raise
                    time.sleep(0.02 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


class Tx:
    """A TransactWrite that names its items, so a cancellation's reasons (one per item, in the order DynamoDB got
    them) say which item refused. PynamoDB sends condition checks, deletes, puts, then updates: so do the labels."""

    def __init__(self) -> None:
        self.write: TransactWrite | None = None
        self._deletes: list[str] = []
        self._puts: list[str] = []
        self._updates: list[str] = []

    def _tx(self) -> TransactWrite:
        assert self.write is not None
        return self.write

    def save(self, label: str, item: SiyuItem, condition: Condition | None = None) -> None:
        self._tx().save(item, condition=condition)
        self._puts.append(label)

    def delete(self, label: str, item: SiyuItem, condition: Condition | None = None) -> None:
        self._tx().delete(item, condition=condition)
        self._deletes.append(label)

    def update(self, label: str, item: SiyuItem, actions: list[Any], condition: Condition | None = None) -> None:
        self._tx().update(item, actions=actions, condition=condition)
        self._updates.append(label)

    def labels(self) -> list[str]:
        return self._deletes + self._puts + self._updates


def _doc(redemption: Redemption, status: str) -> str:
    data = {"redemption_id": redemption.redemption_id, "points": redemption.points, "reason": redemption.reason}
    data.update({"at": redemption.at, "status": status})
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
