"""The one base every DynamoDB repository stands on: error translation, batch reads of any size, query pages with
cursors, conditional writes and transactions. Repositories speak PynamoDB models; the low-level connection is used
here and nowhere else, only where PynamoDB has no API (docs/data-model.md, "Storage idiom"):

- BatchGetItem of raw items (``batch_get``): PynamoDB's ``Model.batch_get`` retries unprocessed keys at once and
  without bound, and must know the model up front; a read here mixes kinds and must never report a throttled key as
  missing (the fire would take a throttled customer for an erased one);
- GetItem of raw items (``get_raw``): items whose attribute names are data (counters ``adds``/``c#<channel>``, a
  channel's ``full#<date>`` sets), which a model cannot declare;
- a walk of a partition (``walk``): a model's Query filters on the kinds it knows, erasure must see every item of
  every kind (the SOP items have no models yet);
- a Query of raw items in a key range (``query_raw``): day counters, whose attribute names are data (a group's
  ``join#<scene>``), read a range of days at once;
- a PutItem that answers the item it replaced (``put_replacing``, ``ReturnValues=ALL_OLD``): ``Model.save`` cannot
  ask for it, and a re-entry must keep the run it replaces on the customer's timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.adapters.dynamodb.cursors import MAX_QUERY_ROUNDS, decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.models import SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.errors import ConflictError

M = TypeVar("M", bound=Model)
Key = tuple[str, str]
Raw = dict[str, Any]

BATCH_GET_LIMIT = 100  # DynamoDB's BatchGetItem limit
FILTERED_PAGE = 200  # a filtered listing reads this many items a round (the filter drops some)
_TABLE_KEY = ("pk", "sk")
_INDEX_KEY = ("pk", "sk", "gsi1pk", "gsi1sk")


class DynamoBase:
    """Given the shared low-level connection (``models.configure``) and the table name; every repository is one."""

    def __init__(self, connection: Connection, table_name: str) -> None:
        self.connection = connection
        self.table = table_name

    @property
    def client(self) -> Any:
        return self.connection.client

    # --- reads ------------------------------------------------------------------------------------------------

    @staticmethod
    def get(model: type[M], pk: str, sk: str, *, consistent: bool = False) -> M | None:
        """One item as its model, or None."""
        try:
            with translate():
                return model.get(pk, sk, consistent_read=consistent)
        except DoesNotExist:
            return None

    def get_raw(self, pk: str, sk: str, *, consistent: bool = False) -> Raw | None:
        """One raw item (for items whose attribute names are data), or None."""
        with translate():
            item = self.connection.get_item(self.table, pk, sk, consistent_read=consistent).get("Item")
        return dict(item) if item else None

    def batch_get(self, keys: list[Key], *, consistent: bool = False) -> dict[Key, Raw]:
        """Raw items by key, in BatchGetItem calls of at most 100 keys; missing ones are absent. Repositories turn
        them into models with ``Model.from_raw_data`` (the ``kind`` discriminator picks the class)."""
        found: dict[Key, Raw] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), BATCH_GET_LIMIT):
            found.update(self._batch_get_page(unique[i : i + BATCH_GET_LIMIT], consistent=consistent))
        return found

    def _batch_get_page(self, keys: list[Key], *, consistent: bool) -> dict[Key, Raw]:
        """One BatchGetItem, following UnprocessedKeys with a short backoff; keys still unprocessed after that are
        read one by one, so a key left out means "no such item", never "throttled"."""
        found: dict[Key, Raw] = {}
        table: dict[str, Any] = {"Keys": [{"pk": {"S": p}, "sk": {"S": s}} for p, s in keys]}
        if consistent:
            table["ConsistentRead"] = True
        request: dict[str, Any] = {self.table: table}
        with translate():
            for attempt in range(4):
                resp = self.client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.table, []):
                    found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    return found
                time.sleep(0.05 * 2**attempt)
        for key in request.get(self.table, {}).get("Keys", []):
            pk, sk = key["pk"]["S"], key["sk"]["S"]
            raw = self.get_raw(pk, sk, consistent=consistent)
            if raw is not None:
                found[(pk, sk)] = raw
        return found

    @staticmethod
    def query(
        model: type[M],
        pk: str,
        range_condition: Condition | None = None,
        *,
        consistent: bool = False,
        forward: bool = True,
        limit: int | None = None,
        start: Raw | None = None,
    ) -> tuple[list[M], Raw | None]:
        """Every item of ``model`` under ``pk`` (and ``range_condition``), or the first ``limit``; with the key to
        continue from when more may follow."""
        with translate():
            it = model.query(
                pk,
                range_condition,
                consistent_read=consistent,
                scan_index_forward=forward,
                limit=limit,
                page_size=limit,
                last_evaluated_key=start,
            )
            items = list(it)
            return items, it.last_evaluated_key

    def query_page(
        self,
        model: type[SiyuItem],
        hash_key: str,
        range_condition: Condition | None = None,
        *,
        cursor: str | None,
        limit: int,
        index: bool = False,
        filter_condition: Condition | None = None,
        filtered_round: int | None = FILTERED_PAGE,
        forward: bool = True,
    ) -> tuple[list[Raw], str | None]:
        """A page of raw items plus the opaque cursor of the next, bound to the partition read (``gsi1pk`` with
        ``index``). A filter reads up to 10 rounds of ``filtered_round`` items (None: only as many as are still
        missing, for large items) and may answer short with its cursor; the cursor always sits right after the last
        item returned."""
        partition_attr = "gsi1pk" if index else "pk"
        key_attrs = _INDEX_KEY if index else _TABLE_KEY
        last = decode_cursor(cursor, partition_attr=partition_attr, partition=hash_key)
        query = model.gsi1.query if index else model.query
        items: list[Raw] = []
        with translate():
            for _ in range(MAX_QUERY_ROUNDS):
                wanted = limit - len(items)
                page = next(
                    query(
                        hash_key,
                        range_condition,
                        filter_condition=filter_condition,
                        scan_index_forward=forward,
                        page_size=max(wanted, filtered_round or 0) if filter_condition is not None else wanted,
                        last_evaluated_key=last,
                    ).page_iter
                )
                raws, last = page.get("Items", []), page.get("LastEvaluatedKey")
                for i, raw in enumerate(raws):
                    items.append(raw)
                    if len(items) == limit:
                        more = i < len(raws) - 1 or last is not None
                        return items, encode_cursor({a: raw[a] for a in key_attrs}) if more else None
                if not last:
                    break
        return items, encode_cursor(last) if last else None

    def walk(
        self,
        pk: str,
        *,
        prefix: str | None = None,
        keys_only: bool = False,
        limit: int | None = None,
        start: Raw | None = None,
    ) -> tuple[list[Raw], Raw | None]:
        """A page of the raw items under ``pk`` (and ``prefix``), whatever their kind, strongly consistent; with
        ``keys_only`` just their keys."""
        with translate():
            resp = self.connection.query(
                self.table,
                pk,
                SiyuItem.sk.startswith(prefix) if prefix else None,
                attributes_to_get=list(_TABLE_KEY) if keys_only else None,
                consistent_read=True,
                exclusive_start_key=start,
                limit=limit,
            )
        return list(resp.get("Items", [])), resp.get("LastEvaluatedKey")

    def query_raw(
        self, pk: str, range_condition: Condition | None = None, *, forward: bool = True, limit: int | None = None
    ) -> list[Raw]:
        """The raw items under ``pk`` in a key range (items whose attribute names are data, e.g. day counters), at
        most ``limit`` (None: all, page after page), eventually consistent."""
        items: list[Raw] = []
        start: Raw | None = None
        with translate():
            while limit is None or len(items) < limit:
                resp = self.connection.query(
                    self.table,
                    pk,
                    range_condition,
                    exclusive_start_key=start,
                    scan_index_forward=forward,
                    limit=None if limit is None else limit - len(items),
                )
                items.extend(resp.get("Items", []))
                start = resp.get("LastEvaluatedKey")
                if not start:
                    break
        return items

    @contextmanager
    def transact_get(self) -> Iterator[TransactGet]:
        """A TransactGet (strongly consistent, all-or-nothing): ``tx.get(Model, pk, sk)``, results after the block."""
        with translate(), TransactGet(connection=self.connection) as tx:
            yield tx

    # --- writes -----------------------------------------------------------------------------------------------

    @staticmethod
    def conditional(write: Callable[[], object]) -> bool:
        """Run a conditional write: True if it happened, False if its condition failed (someone else got there
        first). Other failures raise (translated)."""
        try:
            with translate():
                write()
        except ConflictError:
            return False
        return True

    def put_replacing(self, item: SiyuItem, condition: Condition | None = None) -> Raw | None:
        """PutItem of a model's item answering the raw item it replaced (``ReturnValues=ALL_OLD``, free of charge),
        None if the key was free; a failed condition raises ConflictError. PynamoDB's ``save`` cannot ask for it."""
        attributes = item.serialize(null_check=True)
        pk, sk = attributes.pop("pk")["S"], attributes.pop("sk")["S"]
        with translate():
            resp = self.connection.put_item(
                self.table, pk, sk, attributes=attributes, condition=condition, return_values="ALL_OLD"
            )
        old = resp.get("Attributes")
        return dict(old) if old else None

    @contextmanager
    def transaction(self, conflict: str = "the item changed or already exists") -> Iterator[TransactWrite]:
        """A TransactWrite; a failed condition in it raises ConflictError(``conflict``)."""
        with translate(conflict), TransactWrite(connection=self.connection) as tx:
            yield tx

    @staticmethod
    def batch_delete(keys: list[Key]) -> None:
        """Delete items by key in BatchWriteItem calls of 25 (PynamoDB retries the unprocessed ones)."""
        with translate(), SiyuItem.batch_write() as batch:
            for pk, sk in keys:
                batch.delete(SiyuItem(pk=pk, sk=sk))
