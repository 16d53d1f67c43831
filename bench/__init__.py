"""Siyu's performance bench: `python -m bench` (or `make bench`) measures the callback hot path and cold import
against DynamoDB Local and the loopback WeCom sandbox, then rewrites docs/performance.md.

Modules: ``stats`` (percentiles), ``meter`` (DynamoDB capacity and WeCom call accounting), ``imports`` (cold import
time), ``harness`` (the running stack and the scenarios), ``report`` (targets and the markdown). The pure parts are
unit-tested in tests/unit/test_bench.py without any server.
"""
