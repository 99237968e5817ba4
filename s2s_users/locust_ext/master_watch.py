"""Workers that outlive their master stop, and workers of another run are turned away.

A master killed with SIGKILL leaves its workers running; Locust stops them only after 60 s without heartbeats,
and not at all if a new master starts on the same port meanwhile (they connect to it, and keep playing the old
run's users). So the master sends a beacon with its run id every ``BEACON_INTERVAL_S``; a worker that is playing a
run stops when the beacon falls silent for ``SILENCE_S`` or names another run. The record owner also refuses
batches of another run (``RecordOwner.receive``), so nothing a stray sends is ever recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

BEACON_INTERVAL_S = 2.0
SILENCE_S = 20.0


class MasterWatch:
    """A worker's view of its master. ``playing`` is the run id its users play (None between runs)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_beacon = clock()
        self._beacon_run: str | None = None

    def beacon(self, run_id: str) -> None:
        self._last_beacon = self._clock()
        self._beacon_run = run_id

    def reason_to_stop(self, playing: str | None) -> str | None:
        """Why this worker should stop its users and exit now, or None."""
        if playing is None:
            return None  # waiting for a master to start a run: Locust's own rules apply
        if self._beacon_run is not None and self._beacon_run != playing:
            return f"a master of another run ({self._beacon_run}) took over; this worker plays run {playing}"
        silent_for = self._clock() - self._last_beacon
        if silent_for > SILENCE_S:
            return f"no word from the master of run {playing} for {silent_for:.0f} s: it is gone"
        return None
