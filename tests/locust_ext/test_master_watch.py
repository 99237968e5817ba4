"""A worker knows when its master is gone or another run's master took over."""

from __future__ import annotations

from s2s_users.locust_ext.master_watch import SILENCE_S, MasterWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_worker_between_runs_never_stops_on_its_own() -> None:
    clock = Clock()
    watch = MasterWatch(clock)
    clock.now += 10 * SILENCE_S
    assert watch.reason_to_stop(playing=None) is None


def test_a_worker_stops_when_its_masters_beacon_falls_silent() -> None:
    clock = Clock()
    watch = MasterWatch(clock)
    watch.beacon("run-a")
    clock.now += SILENCE_S - 1
    assert watch.reason_to_stop(playing="run-a") is None
    clock.now += 2
    reason = watch.reason_to_stop(playing="run-a")
    assert reason is not None and "gone" in reason and "run-a" in reason


def test_a_worker_of_an_earlier_run_stops_when_a_new_master_speaks() -> None:
    clock = Clock()
    watch = MasterWatch(clock)
    watch.beacon("run-b")
    reason = watch.reason_to_stop(playing="run-a")
    assert reason is not None and "run-b" in reason and "run-a" in reason
