"""Checks of the machine itself before `make run` starts anything: one clear sentence instead of a traceback halfway.

Found by starting the stack under libfaketime (to walk the README at another hour of the day): with
``FAKETIME_DONT_FAKE_MONOTONIC=1``, Python 3.11's ``time.sleep`` (clock_nanosleep on the monotonic clock with an
absolute deadline) fails with ``OSError: [Errno 22] Invalid argument``, and so does every ``subprocess`` wait with a
timeout. The stack then died while starting the API, after first mistaking a Java that was there for a missing one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

FAKETIME_MONOTONIC_ENV = "FAKETIME_DONT_FAKE_MONOTONIC"


def sleep_problem(sleep: Callable[[float], None] = time.sleep, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why sleeping fails in this process, or None when it works (every part of the stack waits by sleeping)."""
    try:
        sleep(0.001)
    except OSError as exc:
        hint = (
            f" It runs under libfaketime with {FAKETIME_MONOTONIC_ENV}=1, which breaks Python 3.11's sleep:"
            f" run faketime without {FAKETIME_MONOTONIC_ENV}."
            if environ.get(FAKETIME_MONOTONIC_ENV) == "1"
            else ""
        )
        return f"time.sleep fails in this process ({exc}), so the stack cannot run.{hint}"
    return None
