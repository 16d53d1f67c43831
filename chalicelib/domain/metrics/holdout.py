"""The holdout (对照组): which customers a plan leaves untouched, so its lift over doing nothing can be measured.

A customer is in a plan's holdout when a hash of (tenant, plan, customer) falls in the first ``percent`` of 10,000
buckets. The hash names no version, so the answer is the same for the same plan and customer forever, whatever
version an enrollment runs; raising the percentage keeps everyone who was held out (their bucket stays below it),
lowering it releases some. Pure: no clock, no storage.
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000
MAX_PERCENT = 50  # a plan holds out at most half its customers: the treated arm is the product
PERSON = b"siyu.holdout.v1"  # blake2b's personalisation: these buckets collide with no other use of the ids


def bucket(tenant_id: str, plan_id: str, customer_id: str) -> int:
    """The customer's bucket for the plan, 0..9999: uniform over customers, fixed for each."""
    key = "\x1f".join((tenant_id, plan_id, customer_id)).encode("utf-8")
    digest = hashlib.blake2b(key, digest_size=8, person=PERSON).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_holdout(tenant_id: str, plan_id: str, customer_id: str, percent: int) -> bool:
    """Whether the plan holds this customer out (receives none of its touches) at ``percent`` (0..50) percent."""
    if not 0 <= percent <= MAX_PERCENT:
        raise ValueError(f"holdout percent must be 0..{MAX_PERCENT}, got {percent}")
    return percent > 0 and bucket(tenant_id, plan_id, customer_id) < percent * (BUCKETS // 100)
