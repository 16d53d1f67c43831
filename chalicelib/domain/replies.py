"""Inbound reply classification: a positive reply makes the customer hot (1:1 follow-up), a negative one exits them.

Per-tenant keyword rules; the defaults are what the field writes (asking the price, signing up, a trial class;
unsubscribe, not needed, stop sending).
"""

from __future__ import annotations

from collections.abc import Iterable

POSITIVE = "positive"
NEGATIVE = "negative"

DEFAULT_POSITIVE: tuple[str, ...] = ("多少钱", "报名", "试听", "怎么买")
DEFAULT_NEGATIVE: tuple[str, ...] = ("退订", "不需要", "别发了")


def classify_reply(
    text: str, positive: Iterable[str] = DEFAULT_POSITIVE, negative: Iterable[str] = DEFAULT_NEGATIVE
) -> str | None:
    """Classify a reply as "positive", "negative" or None, by keyword containment (case-insensitive).

    Negative wins when both match ("不需要报名" is a no): honouring a request to stop matters more than a sale.
    """
    folded = (text or "").casefold()
    if not folded.strip():
        return None
    if any(word and word.casefold() in folded for word in negative):
        return NEGATIVE
    if any(word and word.casefold() in folded for word in positive):
        return POSITIVE
    return None
