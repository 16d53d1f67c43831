"""In-memory check-ins, points and leaderboards, with PointsRepository's all-or-nothing semantics (one lock stands
for the transaction)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain.instants import utc_key
from chalicelib.domain.points import APPLIED, DUPLICATE, SHORT, Balance, BoardEntry, LedgerEntry, Redemption, Standing
from chalicelib.errors import ConflictError, InvalidError
from chalicelib.ports import Page


class FakePointsStoreMixin:
    """PointsRepository's methods for FakeStore."""

    lock: Any

    def _points(self) -> dict[str, dict[Any, Any]]:
        if not hasattr(self, "_points_state"):
            self._points_state: dict[str, dict[Any, Any]] = {
                name: {} for name in ("rules", "checkins", "refs", "balances", "ledger", "standings", "boards")
            }
        return self._points_state

    # --- rules ------------------------------------------------------------------------------------------------

    def checkin_rules(self, tenant_id: str, chat_id: str | None) -> tuple[dict[str, object], dict[str, object]]:
        rules = self._points()["rules"]
        group = dict(rules.get((tenant_id, chat_id), {})) if chat_id else {}
        return dict(rules.get((tenant_id, None), {})), group

    def put_checkin_rule(self, tenant_id: str, chat_id: str | None, rule: dict[str, object]) -> None:
        self._points()["rules"][(tenant_id, chat_id)] = dict(rule)

    # --- check-ins --------------------------------------------------------------------------------------------

    def load_checkin(
        self, tenant_id: str, customer_id: str, chat_id: str, day: str
    ) -> tuple[Standing | None, str | None]:
        p = self._points()
        return p["standings"].get((tenant_id, customer_id, chat_id)), p["checkins"].get(
            (tenant_id, customer_id, chat_id, day)
        )

    def record_checkin(
        self, tenant_id: str, customer_id: str, *, day: str, before: Standing, after: Standing, entry: LedgerEntry
    ) -> str:
        with self.lock:
            p = self._points()
            if (tenant_id, customer_id, after.chat_id, day) in p["checkins"]:
                return DUPLICATE
            current = p["standings"].get((tenant_id, customer_id, after.chat_id))
            if (current.version if current else 0) != before.version:
                raise ConflictError("the standing changed concurrently")
            p["checkins"][(tenant_id, customer_id, after.chat_id, day)] = entry.ref
            self._credit(tenant_id, customer_id, entry, claim=False)
            p["standings"][(tenant_id, customer_id, after.chat_id)] = after
            board = p["boards"].setdefault((tenant_id, after.chat_id), {})
            board[customer_id] = BoardEntry(customer_id, after.score, after.checkins, after.streak, after.reached)
            return APPLIED

    # --- the ledger -------------------------------------------------------------------------------------------

    def _credit(self, tenant_id: str, customer_id: str, entry: LedgerEntry, *, claim: bool = True) -> None:
        p = self._points()
        if claim:
            p["refs"][(tenant_id, customer_id, entry.ref)] = None
        b = p["balances"].get((tenant_id, customer_id), Balance())
        spent = -entry.points if entry.points < 0 else 0
        earned = entry.points if entry.points > 0 else 0
        p["balances"][(tenant_id, customer_id)] = Balance(b.balance + entry.points, b.earned + earned, b.spent + spent)
        key = (utc_key(datetime.fromisoformat(entry.at)), entry.ref)
        p["ledger"].setdefault((tenant_id, customer_id), {})[key] = entry

    def credit_points(self, tenant_id: str, customer_id: str, entry: LedgerEntry) -> bool:
        with self.lock:
            if (tenant_id, customer_id, entry.ref) in self._points()["refs"]:
                return False
            self._credit(tenant_id, customer_id, entry)
            return True

    def redeem_points(self, tenant_id: str, customer_id: str, redemption: Redemption) -> Redemption:
        with self.lock:
            p = self._points()
            key = (tenant_id, customer_id, redemption.ref)
            if key in p["refs"]:
                stored: Redemption = p["refs"][key]
                return stored
            balance = p["balances"].get((tenant_id, customer_id), Balance())
            if balance.balance < redemption.points:
                p["refs"][key] = replace(redemption, status=SHORT)
                return p["refs"][key]
            self._credit(tenant_id, customer_id, LedgerEntry(redemption.ref, -redemption.points, redemption.reason,
                                                             redemption.at))  # fmt: skip
            p["refs"][key] = replace(redemption, status=APPLIED)
            return p["refs"][key]

    def points_of(self, tenant_id: str, customer_id: str) -> tuple[Balance, list[Standing]]:
        p = self._points()
        standings = [s for (t, c, _), s in sorted(p["standings"].items()) if (t, c) == (tenant_id, customer_id)]
        return p["balances"].get((tenant_id, customer_id), Balance()), standings

    def ledger_page(self, tenant_id: str, customer_id: str, *, cursor: str | None, limit: int) -> Page:
        rows = sorted(self._points()["ledger"].get((tenant_id, customer_id), {}).items(), reverse=True)
        start = 0
        if cursor:
            try:
                data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
                assert data["p"] == [tenant_id, customer_id]
                after = tuple(data["k"])
            except Exception as exc:
                raise InvalidError("cursor is not valid") from exc
            start = next((i for i, (key, _) in enumerate(rows) if key < after), len(rows))
        chunk = rows[start : start + limit]
        nxt = None
        if start + limit < len(rows) and chunk:
            raw = json.dumps({"p": [tenant_id, customer_id], "k": list(chunk[-1][0])}).encode()
            nxt = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return Page([entry for _, entry in chunk], nxt)

    def leaderboard(self, tenant_id: str, chat_id: str, *, limit: int) -> list[BoardEntry]:
        board = self._points()["boards"].get((tenant_id, chat_id), {}).values()
        return sorted(board, key=lambda e: (-e.score, e.reached, e.customer_id))[:limit]

    # --- erasure (FakeTimelineStoreMixin.erase_customer calls it) ---------------------------------------------

    def _erase_points(self, tenant_id: str, customer_id: str, budget: int = 1_000_000) -> int:
        """The customer's points items, and their entries on the groups' boards, at most ``budget`` of them (as the
        real erasure deletes a partition in bounded calls): how many, or -1 - how many when items remain."""
        p, deleted = self._points(), 0
        for table in ("checkins", "refs", "standings"):
            for key in [key for key in p[table] if key[:2] == (tenant_id, customer_id)]:
                if deleted >= budget:
                    return -1 - deleted
                if table == "standings":
                    p["boards"].get((tenant_id, key[2]), {}).pop(customer_id, None)
                    deleted += 1
                del p[table][key]
                deleted += 1
        ledger = p["ledger"].get((tenant_id, customer_id), {})
        for ref in list(ledger):
            if deleted >= budget:
                return -1 - deleted
            del ledger[ref]
            deleted += 1
        p["ledger"].pop((tenant_id, customer_id), None)
        if (tenant_id, customer_id) in p["balances"]:
            if deleted >= budget:
                return -1 - deleted
            del p["balances"][(tenant_id, customer_id)]
            deleted += 1
        return deleted
