"""The funnel metrics' storage (issue 11 §1, §5): the fact log, the day counters, persons' first occurrences, spend.

A fact is counted once: its log entry ``T#<tid>#FL#<date>`` / ``<type>#<ref>`` is put only if absent, and the
counter ADDs follow only that won put. A replay or a concurrent duplicate loses the condition and counts nothing.
No transaction (it would double every fact's units): a crash between the log entry and its ADDs can miss counts,
which the nightly rebuild of the previous days restores from the log (services/metrics_rebuild.py).

A person's first occurrence (their first order, a day's first message) is a marker in their own partition, put only
if absent and carrying the ref of the fact that claimed it, so a fact that dies after claiming it still counts it
when WeCom or the sender repeats it. Erasure deletes the markers with the partition; the log holds no person.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from chalicelib.adapters.dynamodb import keys as k
from chalicelib.adapters.dynamodb.base import DynamoBase, Raw
from chalicelib.adapters.dynamodb.metric_models import MetricFirstItem, MetricLogItem, SpendItem
from chalicelib.adapters.dynamodb.models import CounterItem, SiyuItem
from chalicelib.adapters.dynamodb.translate import translate
from chalicelib.domain import timeline as tl
from chalicelib.domain.metrics.facts import Add, First, MetricFact

DAILY_MARKER_SECONDS = 3 * 86_400  # a day's first-occurrence marker outlives its day by this
LOG_PAGE = 500


def dump_fact(fact: MetricFact) -> str:
    adds = [[a.dimension, a.dimension_id, [list(c) for c in a.counts]] for a in fact.adds]
    return json.dumps({"type": fact.type, "ref": fact.ref, "date": fact.date, "at": fact.at, "adds": adds})


def load_fact(doc: str) -> MetricFact:
    data = json.loads(doc)
    adds = tuple(Add(d, i, tuple((str(n), int(v)) for n, v in counts)) for d, i, counts in data["adds"])
    return MetricFact(data["type"], data["ref"], data["date"], int(data["at"]), adds)


class MetricsRepository(DynamoBase):
    def record_metric_fact(self, tenant_id: str, fact: MetricFact) -> bool:
        """Count ``fact`` once (module docstring): True if this call counted it."""
        won = [first for first in fact.firsts if self._claim(tenant_id, fact, first)]
        counted = fact.counted(won)
        entry = MetricLogItem(pk=k.fact_log_pk(tenant_id, fact.date), sk=k.fact_log_sk(fact.type, fact.ref))
        entry.doc = dump_fact(counted)
        if not self.conditional(lambda: entry.save(condition=SiyuItem.pk.does_not_exist())):
            return False
        for add in counted.adds:
            self._add(tenant_id, counted.date, add)
        return True

    def _claim(self, tenant_id: str, fact: MetricFact, first: First) -> bool:
        if not fact.person:
            return False
        item = MetricFirstItem(pk=k.customer_pk(tenant_id, fact.person), sk=k.metric_first_sk(first.scope, first.key))
        item.ref = fact.ref
        if first.key == fact.date:  # a daily scope: the marker need not outlive its day for long
            item.expires_at = datetime.fromtimestamp(fact.at + DAILY_MARKER_SECONDS, UTC)
        if self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist())):
            return True
        held = self.get(MetricFirstItem, item.pk, item.sk, consistent=True)
        return held is not None and held.ref == fact.ref  # this very fact claimed it before (it died, now repeated)

    def _add(self, tenant_id: str, date: str, add: Add) -> None:
        item = CounterItem(pk=k.fact_counter_pk(tenant_id, add.dimension, add.dimension_id), sk=k.fact_counter_sk(date))
        actions: list[Action] = [Path(name).add(n) for name, n in add.counts if n]
        actions.append(CounterItem.kind.set(CounterItem))
        with translate():
            item.update(actions=actions)

    # --- reads ----------------------------------------------------------------------------------------------------

    def metric_counters(
        self, tenant_id: str, dimension: str, ids: Iterable[str], dates: Iterable[str]
    ) -> dict[tuple[str, str], dict[str, int]]:
        """The day counters of each (id, date) that has any: BatchGetItem by key, so a read costs the number of
        rows and days asked for, whatever the number of customers behind them."""
        wanted = {
            (k.fact_counter_pk(tenant_id, dimension, i), k.fact_counter_sk(d)): (i, d) for i in ids for d in dates
        }
        found = self.batch_get(list(wanted))
        return {wanted[key]: _numbers(raw) for key, raw in found.items()}

    def metric_fact_log(self, tenant_id: str, date: str) -> list[MetricFact]:
        """Every fact counted on a local day (the rebuild's input), in pages."""
        facts: list[MetricFact] = []
        start: Raw | None = None
        while True:
            items, start = self.query(MetricLogItem, k.fact_log_pk(tenant_id, date), limit=LOG_PAGE, start=start)
            facts += [load_fact(item.doc) for item in items]
            if not start:
                return facts

    def replace_metric_counters(
        self, tenant_id: str, date: str, counters: dict[tuple[str, str], dict[str, int]]
    ) -> None:
        """Write a day's counters whole (the rebuild): each (dimension, id) item put with exactly ``counters`` (raw:
        the attribute names are data, which a model cannot declare)."""
        for (dimension, dimension_id), values in counters.items():
            attributes = {name: {"N": str(n)} for name, n in values.items()} | {"kind": {"S": "counter"}}
            pk, sk = k.fact_counter_pk(tenant_id, dimension, dimension_id), k.fact_counter_sk(date)
            with translate():
                self.connection.put_item(self.table, pk, sk, attributes=attributes)

    def recent_sent(self, tenant_id: str, customer_id: str, months: Iterable[str]) -> list[tuple[int, str]]:
        """The customer's sent touches recorded in the months' quota items: (due, unix seconds; bucket id)."""
        pk = k.customer_pk(tenant_id, customer_id)
        found = self.batch_get([(pk, tl.month_sk(month, tl.QUOTA_TAG)) for month in months], consistent=True)
        sent: list[tuple[int, str]] = []
        for raw in found.values():
            for value in raw.get("tl", {}).get("L", []):
                due_at, bucket_id, *_ = value["S"].split("|")
                sent.append((int(datetime.fromisoformat(due_at).timestamp()), bucket_id))
        return sorted(sent)

    def metric_fact_logged(self, tenant_id: str, fact_type: str, ref: str, dates: list[str]) -> bool:
        """Whether a fact of this identity is in the log of any of ``dates`` (one BatchGetItem)."""
        keys = [(k.fact_log_pk(tenant_id, d), k.fact_log_sk(fact_type, ref)) for d in dates]
        return bool(self.batch_get(keys, consistent=True))

    def mark_metrics_rebuilt(self, tenant_id: str, date: str) -> bool:
        """Claim the nightly rebuild of ``date``: True for the one run that claims it (kept a week)."""
        item = MetricFirstItem(pk=k.tenant_pk(tenant_id), sk=k.metrics_rebuilt_sk(date), ref="nightly")
        item.expires_at = datetime.fromtimestamp(int(datetime.fromisoformat(date).timestamp()) + 7 * 86_400, UTC)
        return self.conditional(lambda: item.save(condition=SiyuItem.pk.does_not_exist()))

    # --- spend ------------------------------------------------------------------------------------------------------

    def put_spend(self, tenant_id: str, channel_id: str, date: str, fen: int) -> None:
        with translate():
            SpendItem(pk=k.spend_pk(tenant_id, channel_id), sk=k.fact_counter_sk(date), fen=fen).save()

    def spend(self, tenant_id: str, channel_ids: Iterable[str], dates: Iterable[str]) -> dict[tuple[str, str], int]:
        wanted = {(k.spend_pk(tenant_id, c), k.fact_counter_sk(d)): (c, d) for c in channel_ids for d in dates}
        return {wanted[key]: int(raw["fen"]["N"]) for key, raw in self.batch_get(list(wanted)).items()}


def _numbers(raw: Raw) -> dict[str, int]:
    return {name: int(v["N"]) for name, v in raw.items() if "N" in v and name != "expires_at"}
