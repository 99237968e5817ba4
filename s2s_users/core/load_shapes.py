"""Load shapes for soaks, as pure schedules: seconds into the run → (users wanted, spawn rate), or None to stop.

Locust's ``LoadTestShape`` asks its ``tick()`` about once a second; ``locust_ext/shapes.py`` wraps these schedules
in that interface, so the arithmetic here is tested without a runner.

- ``ramp-and-hold``: from 0 to ``peak`` users in a straight line over ``ramp_s`` (the spawn rate is what makes the
  line), ``hold_s`` at the peak, then the run ends. Soaks start gently so that the ramp's own load does not
  look like a ceiling.
- ``steps``: ``steps`` equal steps up to ``peak``, each held ``ramp_s``; then ``hold_s`` at the peak and the end.
- ``spike``: ``base`` users for ``ramp_s``, ``peak`` users for ``hold_s``, ``base`` users for ``ramp_s`` again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from s2s_users.core.exceptions import ConfigError

Tick = tuple[int, float] | None


@dataclass(frozen=True, slots=True)
class ShapeSettings:
    """The shape's parameters: ``peak`` users (Locust's ``-u``) and ``rate`` users/s for the steps (``-r``)."""

    name: str
    peak: int
    rate: float
    ramp_s: float
    hold_s: float
    steps: int = 4
    base: int = 1

    def check(self) -> ShapeSettings:
        if self.peak < 1:
            raise ConfigError(f"--shape {self.name} needs users: set -u (the peak) to 1 or more")
        if self.ramp_s <= 0 or self.hold_s <= 0:
            raise ConfigError(f"--shape {self.name}: --shape-ramp and --shape-hold must be more than 0 s")
        if self.name == "steps" and not 1 <= self.steps <= self.peak:
            raise ConfigError(f"--shape-steps {self.steps} is out of range: use 1 to -u ({self.peak})")
        if self.name == "spike" and not 0 <= self.base < self.peak:
            raise ConfigError(f"--shape-base-users {self.base} is out of range: use 0 to fewer than -u ({self.peak})")
        return self


def ramp_and_hold(s: ShapeSettings, t: float) -> Tick:
    if t >= s.ramp_s + s.hold_s:
        return None
    return s.peak, s.peak / s.ramp_s


def steps(s: ShapeSettings, t: float) -> Tick:
    climb_s = s.steps * s.ramp_s
    if t >= climb_s + s.hold_s:
        return None
    step = min(math.floor(t / s.ramp_s) + 1, s.steps)
    return math.ceil(s.peak * step / s.steps), s.rate


def spike(s: ShapeSettings, t: float) -> Tick:
    if t >= 2 * s.ramp_s + s.hold_s:
        return None
    in_spike = s.ramp_s <= t < s.ramp_s + s.hold_s
    return (s.peak if in_spike else s.base), s.rate


SCHEDULES = {"ramp-and-hold": ramp_and_hold, "steps": steps, "spike": spike}


def tick(settings: ShapeSettings, t: float) -> Tick:
    """What the shape wants ``t`` seconds into the run (None: the run is over)."""
    return SCHEDULES[settings.name](settings, t)


def duration_s(settings: ShapeSettings) -> float:
    """How long the shape runs."""
    if settings.name == "steps":
        return settings.steps * settings.ramp_s + settings.hold_s
    if settings.name == "spike":
        return 2 * settings.ramp_s + settings.hold_s
    return settings.ramp_s + settings.hold_s


class StartSpacer:
    """Spaces the starts of the users Locust spawns together, at the spawn rate.

    Locust's dispatcher starts ``floor(rate)`` users at one instant each step (about a second). Sessions started
    together keep their first turns in step: their prompts end at one instant, the server queues the burst, and
    their first time to first audio carries that queue (measured: the first turns made most of the TTFA tail
    against the mock's truth). So each user waits ``1/rate`` after the previous one, never more than one step.
    """

    MAX_DELAY_S = 1.0
    """Locust's step at rates of one user a second and more: a rate that is not the one spawning (a shape's own,
    a worker's share) never holds a user back longer than that."""

    def __init__(self) -> None:
        self._next_start = -math.inf

    def delay(self, now: float, rate: float | None) -> float:
        """How long a user spawned at ``now`` waits before it starts (0 without a usable rate)."""
        if rate is None or not rate > 0 or not math.isfinite(rate):
            return 0.0
        start = min(max(now, self._next_start), now + self.MAX_DELAY_S)
        self._next_start = start + 1.0 / rate
        return start - now
