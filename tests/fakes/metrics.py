"""In-memory funnel metrics with MetricsRepository's semantics: a fact counted once per (type, ref), first
occurrences once per person and scope (the claiming fact's own repeat still wins), counters replaced whole by a
rebuild. ``crash_after_log`` makes the next fact die between its log entry and its counters (the gap the rebuild
closes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.domain import timeline as tl
from chalicelib.domain.metrics.facts import First, MetricFact


class FakeMetricsStoreMixin:
    lock: Any
    crash_after_log = False

    def _mx(self) -> dict[str, Any]:
        if not hasattr(self, "_metrics"):
            self._metrics: dict[str, Any] = {
                "log": {},  # (tenant, date) -> {(type, ref): counted fact}
                "counters": {},  # (tenant, dimension, id, date) -> {name: n}
                "firsts": {},  # (tenant, person, scope, key) -> ref
                "spend": {},  # (tenant, channel, date) -> fen
            }
        return self._metrics

    def record_metric_fact(self, tenant_id: str, fact: MetricFact) -> bool:
        with self.lock:
            mx = self._mx()
            won = [first for first in fact.firsts if self._fake_claim(tenant_id, fact, first)]
            counted = fact.counted(won)
            day = mx["log"].setdefault((tenant_id, fact.date), {})
            if (fact.type, fact.ref) in day:
                return False
            day[(fact.type, fact.ref)] = counted
            if self.crash_after_log:
                self.crash_after_log = False
                raise RuntimeError("crashed between the log entry and its counters")
            for add in counted.adds:
                slot = mx["counters"].setdefault((tenant_id, add.dimension, add.dimension_id, counted.date), {})
                for name, n in add.counts:
                    if n:
                        slot[name] = slot.get(name, 0) + n
            return True

    def _fake_claim(self, tenant_id: str, fact: MetricFact, first: First) -> bool:
        if not fact.person:
            return False
        firsts = self._mx()["firsts"]
        key = (tenant_id, fact.person, first.scope, first.key)
        return firsts.setdefault(key, fact.ref) == fact.ref

    def metric_counters(
        self, tenant_id: str, dimension: str, ids: Iterable[str], dates: Iterable[str]
    ) -> dict[tuple[str, str], dict[str, int]]:
        with self.lock:
            counters = self._mx()["counters"]
            dates = list(dates)
            out: dict[tuple[str, str], dict[str, int]] = {}
            for i in ids:
                for d in dates:
                    if (tenant_id, dimension, i, d) in counters:
                        out[(i, d)] = dict(counters[(tenant_id, dimension, i, d)])
            return out

    def metric_fact_log(self, tenant_id: str, date: str) -> list[MetricFact]:
        with self.lock:
            return list(self._mx()["log"].get((tenant_id, date), {}).values())

    def replace_metric_counters(
        self, tenant_id: str, date: str, counters: dict[tuple[str, str], dict[str, int]]
    ) -> None:
        with self.lock:
            for (dimension, dimension_id), values in counters.items():
                self._mx()["counters"][(tenant_id, dimension, dimension_id, date)] = dict(values)

    def metric_fact_logged(self, tenant_id: str, fact_type: str, ref: str, dates: list[str]) -> bool:
        with self.lock:
            log = self._mx()["log"]
            return any((fact_type, ref) in log.get((tenant_id, d), {}) for d in dates)

    def mark_metrics_rebuilt(self, tenant_id: str, date: str) -> bool:
        with self.lock:
            done = self._mx().setdefault("rebuilt", set())
            if (tenant_id, date) in done:
                return False
            done.add((tenant_id, date))
            return True

    def put_spend(self, tenant_id: str, channel_id: str, date: str, fen: int) -> None:
        with self.lock:
            self._mx()["spend"][(tenant_id, channel_id, date)] = fen

    def spend(self, tenant_id: str, channel_ids: Iterable[str], dates: Iterable[str]) -> dict[tuple[str, str], int]:
        with self.lock:
            spend = self._mx()["spend"]
            dates = list(dates)
            return {(c, d): spend[(tenant_id, c, d)] for c in channel_ids for d in dates if (tenant_id, c, d) in spend}

    def recent_sent(self, tenant_id: str, customer_id: str, months: Iterable[str]) -> list[tuple[int, str]]:
        with self.lock:
            held = self._months().get((tenant_id, customer_id), {})  # type: ignore[attr-defined]
            sent: list[tuple[int, str]] = []
            for month in months:
                for entry in held.get(tl.month_sk(month, tl.QUOTA_TAG), []):
                    sent.append((entry.time, entry.detail["bucket"]))
            return sorted(sent)
