"""The time budget of the request being served, visible to code far below its entry point.

A WeCom callback must be answered within its budget (services/budget.py, 3 s of WeCom's 5 s) whatever it sets off,
including an SOP step due at once that the kernel fires inline several layers down. Rather than thread the budget
through every enroll/schedule/fire signature, intake declares it for the delivery (``spending``) and the WeCom
client fits each call into it (adapters/wecom/client.py). A context variable, so concurrent deliveries on other
threads never see each other's budget, and work on other threads (a large fire's shards) is not bound by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Remaining(Protocol):
    def left(self) -> float: ...


_current: ContextVar[Remaining | None] = ContextVar("siyu_deadline", default=None)


def current() -> Remaining | None:
    """The budget of the delivery being served on this thread, or None outside one."""
    return _current.get()


@contextmanager
def spending(budget: Remaining) -> Iterator[None]:
    """Every WeCom call made inside the block fits into ``budget``."""
    token = _current.set(budget)
    try:
        yield
    finally:
        _current.reset(token)
