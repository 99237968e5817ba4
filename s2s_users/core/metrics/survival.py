"""Kaplan–Meier survival with right censoring (pure numpy-free arithmetic; small inputs)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
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
    return kaplan_meier_counts((t, int(event), int(not event)) for t, event in zip(durations, observed, strict=True))


def kaplan_meier_counts(rows: Iterable[tuple[float, int, int]]) -> SurvivalCurve:
    """The same estimate from ``(time, events, censored)`` counts: what a bounded live view keeps."""
    merged: dict[float, list[int]] = {}
    for t, d, c in rows:
        counts = merged.setdefault(t, [0, 0])
        counts[0] += d
        counts[1] += c
    ordered = sorted((t, d, c) for t, (d, c) in merged.items())
    at_risk = sum(d + c for _, d, c in ordered)
    s, greenwood = 1.0, 0.0
    times: list[float] = []
    survival: list[float] = []
    risk: list[int] = []
    events: list[int] = []
    variance: list[float] = []
    for t, d, c in ordered:
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
