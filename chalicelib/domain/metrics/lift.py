"""A plan's lift: how much more its treated customers convert than its holdout, with a 95% confidence interval.

Lift is the treated arm's conversion rate minus the holdout arm's (a difference of two independent proportions, in
rate points: 0.05 is five percentage points). Its interval is Newcombe's hybrid score interval (method 10 of
R. G. Newcombe, "Interval estimation for the difference between independent proportions: comparison of eleven
methods", Statistics in Medicine 17:873-890, 1998), built from each arm's Wilson score interval (E. B. Wilson,
JASA 22:209-212, 1927). With p1, p2 the rates and (l1, u1), (l2, u2) their Wilson intervals:

    lower = (p1 - p2) - sqrt((p1 - l1)^2 + (u2 - p2)^2)
    upper = (p1 - p2) + sqrt((u1 - p1)^2 + (p2 - l2)^2)

Unlike the textbook Wald interval it stays inside [-1, 1], is sensible at 0% and 100% and with small arms, which is
where a 10% holdout of a young plan lives. Pure: no clock, no storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
Z = NormalDist().inv_cdf(1 - (1 - CONFIDENCE) / 2)  # 1.959964…


@dataclass(frozen=True)
class Lift:
    """Both arms' conversion rates and their difference; a rate is None when its arm is empty, and so is
    everything built from it."""

    treated_rate: float | None
    holdout_rate: float | None
    lift: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero (the plan changed conversion, at 95% confidence)."""
        return self.ci_low is not None and self.ci_high is not None and (self.ci_low > 0 or self.ci_high < 0)


def wilson(converted: int, enrolled: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of ``converted``/``enrolled`` (``enrolled`` > 0)."""
    _check(converted, enrolled)
    if enrolled == 0:
        raise ValueError("a rate over zero customers has no interval")
    p = converted / enrolled
    z2 = z * z
    centre = (p + z2 / (2 * enrolled)) / (1 + z2 / enrolled)
    half = z * math.sqrt(p * (1 - p) / enrolled + z2 / (4 * enrolled * enrolled)) / (1 + z2 / enrolled)
    return max(0.0, centre - half), min(1.0, centre + half)


def lift(treated_enrolled: int, treated_converted: int, holdout_enrolled: int, holdout_converted: int) -> Lift:
    """Treated conversion minus holdout conversion, with Newcombe's hybrid score 95% interval (module docstring)."""
    _check(treated_converted, treated_enrolled)
    _check(holdout_converted, holdout_enrolled)
    p1 = treated_converted / treated_enrolled if treated_enrolled else None
    p2 = holdout_converted / holdout_enrolled if holdout_enrolled else None
    if p1 is None or p2 is None:
        return Lift(p1, p2, None, None, None)
    l1, u1 = wilson(treated_converted, treated_enrolled)
    l2, u2 = wilson(holdout_converted, holdout_enrolled)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Lift(p1, p2, diff, max(-1.0, low), min(1.0, high))


def _check(converted: int, enrolled: int) -> None:
    if enrolled < 0 or converted < 0 or converted > enrolled:
        raise ValueError(f"converted must be within 0..enrolled, got {converted}/{enrolled}")
