"""Kaplan–Meier survival with right censoring (pure numpy-free arithmetic; small inputs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SurvivalCurve:
    """S(t) just after each distinct event time; ``variance`` is Greenwood's."""

    times: tuple[float, ...]
    survival: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    variance: tuple[float, ...]

    def median(self) -> float | None:
        """Smallest t with S(t) <= 0.5; None when the curve never gets there (too much censoring)."""
        return next((t for t, s in zip(self.times, self.survival, strict=True) if s <= 0.5), None)

    def median_ci(self, z: float = 1.96) -> tuple[float | None, float | None]:
        """95% CI of the median from the plain Greenwood pointwise band (Brookmeyer–Crowley style).

        Lower bound: the first t whose lower band S(t) - z·se reaches 0.5; upper bound: the first t whose upper
        band S(t) + z·se reaches 0.5 (None when not reached).
        """
        lower = upper = None
        for t, s, var in zip(self.times, self.survival, self.variance, strict=True):
            se = math.sqrt(var)
            if lower is None and s - z * se <= 0.5:
                lower = t
            if upper is None and s + z * se <= 0.5:
                upper = t
        return lower, upper


def kaplan_meier(durations: Sequence[float], observed: Sequence[bool]) -> SurvivalCurve:
    """Estimate S(t) from durations where ``observed`` is False for censored ones.

    At tied times, events count before censorings (the usual convention).
    """
    if len(durations) != len(observed):
        raise ValueError("durations and observed differ in length")
    pairs = sorted(zip(durations, observed, strict=True), key=lambda p: (p[0], not p[1]))
    at_risk = len(pairs)
    s, greenwood = 1.0, 0.0
    times: list[float] = []
    survival: list[float] = []
    risk: list[int] = []
    events: list[int] = []
    variance: list[float] = []
    i = 0
    while i < len(pairs):
        t = pairs[i][0]
        d = c = 0
        while i < len(pairs) and pairs[i][0] == t:
            d += pairs[i][1]
            c += not pairs[i][1]
            i += 1
        if d:
            s *= 1 - d / at_risk
            if at_risk > d:
                greenwood += d / (at_risk * (at_risk - d))
            times.append(t)
            survival.append(s)
            risk.append(at_risk)
            events.append(d)
            variance.append(s * s * greenwood)
        at_risk -= d + c
    return SurvivalCurve(tuple(times), tuple(survival), tuple(risk), tuple(events), tuple(variance))
