"""The run as the record owner sees it, for the report's header and the exit code: when it started and ended,
the most users, each process's highest CPU, workers lost, exceptions Locust caught in users."""

from __future__ import annotations

from locust import log as locust_log

import time
from collections.abc import Sequence
from typing import Any

import gevent

from s2s_users.core.config import RunSettings
from s2s_users.core.exit_codes import RunHealth
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import SessionRecord
from s2s_users.core.reporting.run_info import GeneratorHealth, RunInfo, with_pacing
from s2s_users.core.version import hot_paths_of, versions
from s2s_users.io.run_folder import keep_scenario, prompt_manifest
from s2s_users.locust_ext.roles import is_master, worker_name
from s2s_users.locust_ext.settings import run_options, target_description

SAMPLE_INTERVAL_S = 2.0


class RunMonitor:
    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.peak_users = 0
        self.cpu_max: dict[str, float] = {}
        self.lost_workers: set[str] = set()
        self.hot_paths: dict[str, str] = {}
        """Which hot path each process that ran users said it runs (its batches), by process."""
        self._sampler: Any = None

    def start(self) -> None:
        self.started_at, self.ended_at = time.time(), None
        self.peak_users, self.cpu_max, self.lost_workers = 0, {}, set()
        if self._sampler is None:
            self._sampler = gevent.spawn(self._sample_forever)

    def stop(self) -> None:
        self.sample()
        self.ended_at = time.time()
        if self._sampler is not None:
            self._sampler.kill(block=False)
            self._sampler = None

    def worker_lost(self, node: str) -> None:
        self.lost_workers.add(node)

    def _sample_forever(self) -> None:
        while True:
            gevent.sleep(SAMPLE_INTERVAL_S)
            self.sample()

    def sample(self) -> None:
        runner = self.environment.runner
        users = max(int(getattr(runner, "user_count", 0) or 0), int(getattr(runner, "target_user_count", 0) or 0))
        self.peak_users = max(self.peak_users, users)
        self._cpu(worker_name(self.environment), getattr(runner, "current_cpu_usage", None))
        if is_master(self.environment):
            for node in list(runner.clients.values()):
                self._cpu(f"worker {node.id}", getattr(node, "cpu_usage", None))

    def _cpu(self, node: str, value: float | None) -> None:
        if value is not None:
            self.cpu_max[node] = max(self.cpu_max.get(node, 0.0), float(value))

    def user_exceptions(self) -> int:
        return sum(int(entry.get("count", 1)) for entry in self.environment.runner.exceptions.values())

    def health(self, records: Sequence[SessionRecord]) -> RunHealth:
        return RunHealth(
            sessions=len(records),
            lost_sessions=sum(r.end_class == FailureClass.WORKER_LOST for r in records),
            user_exceptions=self.user_exceptions(),
            unhandled_errors=bool(locust_log.unhandled_greenlet_exception),
        )

    def versions(self) -> dict[str, str]:
        """This process's versions; the hot path the users ran, as their processes said (this one's if none did)."""
        named = versions()
        named["hot path"] = hot_paths_of(self.hot_paths, own=named["hot path"])
        return named

    def info(self, settings: RunSettings, records: Sequence[SessionRecord]) -> RunInfo:
        health = self.health(records)
        generator = GeneratorHealth(
            cpu_max_percent=dict(self.cpu_max),
            lost_workers=len(self.lost_workers),
            lost_sessions=health.lost_sessions,
            user_exceptions=health.user_exceptions,
        )
        prompts_dir, prompts = prompt_manifest(settings.prompts_dir)
        scenario = keep_scenario(settings.report_dir, settings.mock_scenario) if settings.embedded_mock else None
        return RunInfo(
            prompts_dir=prompts_dir,
            prompts=prompts,
            mock_scenario=None if scenario is None else scenario[0],
            mock_scenario_sha256=None if scenario is None else scenario[1],
            run_id=settings.run_id,
            started_at=self.started_at,
            ended_at=self.ended_at,
            users=self.peak_users,
            target=target_description(settings),
            options=run_options(self.environment.parsed_options),
            versions=self.versions(),
            health=with_pacing(generator, records),
        )
