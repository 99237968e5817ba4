"""Soak load shapes as Locust ``LoadTestShape`` classes: ``RampAndHold``, ``Steps`` and ``Spike``.

Two ways in, both Locust's own: ``--shape ramp-and-hold|steps|spike`` (``install_shape`` sets the environment's
shape at ``init``), or importing one of these classes into a locustfile, where Locust finds it as it finds any
shape. Either way the parameters are options (``-u`` is the peak, ``-r`` the rate of the steps, ``--shape-*`` the
times), read when the shape ticks, so the web UI's start form can change them. The schedules themselves are pure
(``core/load_shapes.py``).
"""

from __future__ import annotations

from locust import LoadTestShape

from typing import Any, ClassVar

from s2s_users.core.load_shapes import ShapeSettings, Tick, tick
from s2s_users.locust_ext.options import NO_SHAPE


def shape_settings(options: Any, name: str) -> ShapeSettings:
    """The shape's parameters from Locust's parsed options (checked: one-line ``ConfigError``)."""
    return ShapeSettings(
        name=name,
        peak=int(getattr(options, "num_users", None) or 1),
        rate=float(getattr(options, "spawn_rate", None) or 1.0),
        ramp_s=float(options.shape_ramp),
        hold_s=float(options.shape_hold),
        steps=int(options.shape_steps),
        base=int(options.shape_base_users),
    ).check()


class S2SShape(LoadTestShape):
    """A schedule of ``core/load_shapes.py`` behind Locust's ``tick()``; -u and -r stay in the start form."""

    abstract = True
    use_common_options = True
    shape_name: ClassVar[str] = ""

    def tick(self) -> Tick:
        assert self.runner is not None
        settings = shape_settings(self.runner.environment.parsed_options, self.shape_name)
        return tick(settings, self.get_run_time())  # type: ignore[no-untyped-call]


class RampAndHold(S2SShape):
    """From 0 to -u users in a straight line over --shape-ramp, --shape-hold at -u, then the end."""

    shape_name = "ramp-and-hold"


class Steps(S2SShape):
    """--shape-steps equal steps up to -u users, each held --shape-ramp; --shape-hold at -u, then the end."""

    shape_name = "steps"


class Spike(S2SShape):
    """--shape-base-users for --shape-ramp, -u users for --shape-hold, the base again for --shape-ramp."""

    shape_name = "spike"


SHAPE_CLASSES: dict[str, type[S2SShape]] = {cls.shape_name: cls for cls in (RampAndHold, Steps, Spike)}


def install_shape(environment: Any, checked_with: Any = None) -> None:
    """Make ``--shape`` the environment's load shape (or leave Locust's -u/-r, or a locustfile's own shape).

    The shape is checked against ``checked_with`` (default: the parsed options): the start form checks the options
    it is about to apply, with the users it asks for, before anything changes.
    """
    options = environment.parsed_options
    name = getattr(options, "shape", NO_SHAPE) or NO_SHAPE
    if name == NO_SHAPE:
        if isinstance(environment.shape_class, S2SShape):
            environment.shape_class = None  # the start form took the shape away
        return
    shape_settings(checked_with if checked_with is not None else options, name)  # fail now, not at the first tick
    if type(environment.shape_class) is not SHAPE_CLASSES[name]:
        shape = SHAPE_CLASSES[name]()
        shape.runner = environment.runner
        environment.shape_class = shape
