"""Which parts of a run a Locust process plays, from its runner: the one place that tells runners apart.

A local runner does everything; a worker runs users; the master owns the records (it alone sees every session).
"""

from __future__ import annotations

from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from typing import Any

LOCAL_NODE = "local"


def runs_users(environment: Any) -> bool:
    return isinstance(environment.runner, LocalRunner | WorkerRunner)


def owns_records(environment: Any) -> bool:
    return isinstance(environment.runner, LocalRunner | MasterRunner)


def is_master(environment: Any) -> bool:
    return isinstance(environment.runner, MasterRunner)


def is_worker(environment: Any) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def worker_index(environment: Any) -> int:
    """The index the master gave this worker (0 for a local run): seeds and model offsets differ per worker."""
    return int(getattr(environment.runner, "worker_index", 0) or 0)


def worker_name(environment: Any) -> str:
    """A low-cardinality label: ``local``, ``master``, or ``worker-N`` by the index the master gave the worker."""
    if is_master(environment):
        return "master"
    return f"worker-{worker_index(environment)}" if is_worker(environment) else LOCAL_NODE
