"""The in-process signal bus: publishers tell it what happened; subscribers registered at wiring time hear it.

Delivery is synchronous and in subscription order. One subscriber's failure (a SiyuError: WeCom or storage refused)
is logged and counted and never reaches the publisher or the other subscribers: the fact that caused the signal is
already written, so failing the publisher could only make a retry that would be a duplicate. Anything else is a
bug and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chalicelib.domain.signals import TYPES, Signal
from chalicelib.domain.tenants import Tenant
from chalicelib.errors import SiyuError
from chalicelib.observability import count, logger

Subscriber = Callable[[Tenant, str, Signal], object]


@dataclass
class SignalBus:
    """Signal type → the subscribers that act on it."""

    _subscribers: dict[str, list[tuple[str, Subscriber]]] = field(default_factory=dict)

    def subscribe(self, types: Iterable[str], name: str, handler: Subscriber) -> None:
        """``handler(tenant, subject_id, signal)`` hears every signal of ``types``; ``name`` names it in logs."""
        for kind in types:
            if kind not in TYPES:
                raise ValueError(f"unknown signal type {kind!r}")
            self._subscribers.setdefault(kind, []).append((name, handler))

    def subscribers(self, kind: str) -> list[str]:
        return [name for name, _ in self._subscribers.get(kind, [])]

    def publish(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
        for name, handler in self._subscribers.get(signal.type, []):
            try:
                handler(tenant, subject_id, signal)
            except SiyuError as exc:
                logger.warning(
                    "signal subscriber failed",
                    extra={"tenant": tenant.tenant_id, "signal": signal.type, "subscriber": name, "code": exc.code},
                )
                count(f"Signal.failed.{signal.type}")


class NoSignals:
    """A publisher with nobody listening (a service used on its own)."""

    def publish(self, tenant: Tenant, subject_id: str, signal: Signal) -> None:
        return None
