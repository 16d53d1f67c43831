"""X-Ray tracing of the fire path (Powertools Tracer), switched per function by ``POWERTOOLS_TRACE_DISABLED``.

The Tracer (and aws-xray-sdk behind it) is built on the first traced invocation, never at import: every function
imports app.py, and the API's cold start must not pay for the X-Ray SDK. Outside Lambda (tests, the local stack,
chalice local) tracing is off, as Powertools itself decides. Only botocore is patched, so each DynamoDB and Scheduler
call is a subsegment; HTTP is not, because X-Ray would record WeCom's URLs and they carry the access_token and, for
gettoken, the corp secret. WeCom calls get a subsegment of their own instead (``span``), named by API only.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = Callable[[dict[str, Any], Any], Any]

_tracer: Tracer | None = None
_traced: ContextVar[bool] = ContextVar("siyu_traced", default=False)


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Powertools' own rule without importing the SDK: off when POWERTOOLS_TRACE_DISABLED is true, outside Lambda
    (no LAMBDA_TASK_ROOT) and under SAM local or chalice local."""
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "true", "yes", "on"):
        return False
    return bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL") and not env.get("AWS_CHALICE_CLI_MODE")


def tracer() -> Tracer:
    """The process's Tracer, built on first use (imports aws-xray-sdk and patches botocore then)."""
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service="siyu", patch_modules=["botocore"])
    return _tracer


def traced(handler: Handler) -> Handler:
    """``handler`` under ``capture_lambda_handler`` when tracing is on, as it is otherwise. Decided per call, so a
    function whose tracing is off never imports the SDK."""
    wrapped: list[Handler] = []

    @functools.wraps(handler)
    def run(event: dict[str, Any], context: Any) -> Any:
        if not enabled():
            return handler(event, context)
        if not wrapped:
            wrapped.append(tracer().capture_lambda_handler(handler, capture_response=True, capture_error=True))
        token = _traced.set(True)
        try:
            return wrapped[0](event, context)
        finally:
            _traced.reset(token)

    return run


@contextmanager
def span(name: str, **annotations: str | bool) -> Iterator[None]:
    """A subsegment inside a traced handler (a no-op elsewhere: the API is not traced). Annotations are ids and
    codes only, never personal data."""
    if not _traced.get():
        yield
        return
    with tracer().provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items() if subsegment is not None else ():  # None: X-Ray has no segment
            subsegment.put_annotation(key, value)
        yield
