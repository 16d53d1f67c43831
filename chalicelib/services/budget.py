"""A callback's time budget: WeCom waits 5 s for an answer, so a callback spends at most ``seconds`` (3 by default,
``SIYU_CALLBACK_BUDGET_SECONDS``) however slow WeCom is. Measured on an injected monotonic clock (elapsed time, never
the time of day); the WeCom client fits each call into what is left (adapters/wecom/client.py, ``bounded``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from chalicelib.ports import WeComPort

DEFAULT_CALLBACK_BUDGET_SECONDS = 3.0


class Budget:
    """Seconds left until a fixed end on ``monotonic``; ``keep`` gives a part of it that leaves a reserve."""

    def __init__(self, seconds: float, monotonic: Callable[[], float], *, reserve: float = 0.0) -> None:
        self._monotonic = monotonic
        self._end = monotonic() + seconds
        self._reserve = reserve

    def left(self) -> float:
        return self._end - self._reserve - self._monotonic()

    def keep(self, reserve: float) -> Budget:
        """The same end less ``reserve`` seconds: what a call may spend so that ``reserve`` stays for later ones
        (the profile fetch keeps time for the welcome message, whose code expires)."""
        part = Budget(0.0, self._monotonic, reserve=self._reserve + reserve)
        part._end = self._end
        return part


def within(wecom: WeComPort, budget: Budget) -> WeComPort:
    """``wecom`` with its calls fitted into ``budget`` (as is, for a port without budgets: a test's recorder)."""
    bounded = getattr(wecom, "bounded", None)
    return wecom if bounded is None else cast(WeComPort, bounded(budget))
