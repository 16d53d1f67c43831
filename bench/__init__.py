"""Siyu's performance bench: `python -m bench` (or `make bench`) measures the callback hot path, the cold import and
the SOP engine against DynamoDB Local, moto's Scheduler and the loopback WeCom sandbox, then rewrites
docs/performance.md.

Modules (each imports only modules listed before it; an import-linter contract in pyproject.toml forbids circles):
``stats`` (percentiles), ``capacity`` (what a DynamoDB call costs, reported and billed), ``meter`` (the botocore
hooks and audits that record the calls), ``sop_results`` (the SOP and bulk results, pure data), ``common`` (what
several modules share: BenchError, quiet_stdout, the SOP tenant and plan, the markdown pieces), ``imports`` (cold
import time), ``machine`` (facts about the machine), ``harness`` (the running stack, one delivery), ``scenarios``
(the callback scenarios), ``bulk`` and ``sop`` (the SOP runs: the bulk job, then the enrollments and the fire that
precede it), ``bulk_report`` and ``sop_report`` (their sections), ``report`` (targets, summary, JSON), ``changes``
(*Since the previous full run*), ``performance_doc`` (the markdown). The pure parts are unit-tested in
tests/unit/test_bench.py without any server.
"""
