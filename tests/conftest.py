"""Shared fixtures: a real InfluxDB (influxd 1.6 behind nginx) for the sink and end-to-end tests.

Also the one hypothesis profile: derandomized (the same examples on every run and machine) and without an
example database (no ``.hypothesis`` folder is read or written), so a fuzz test fails in CI exactly as it
fails here. Timing is asserted by the tests that care about it, never by hypothesis' per-example deadline.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.support.influx import InfluxDatabase, InfluxService, ServiceError

settings.register_profile("s2s", derandomize=True, database=None, deadline=None, print_blob=False)
settings.load_profile("s2s")

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def influx_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxService]:
    service = InfluxService(tmp_path_factory.mktemp("influx"))
    try:
        service.start()
    except ServiceError as error:
        service.stop()
        pytest.fail(str(error), pytrace=False)  # never skip: CI must install influxdb and nginx-light
    yield service
    service.stop()


@pytest.fixture
def influx(influx_service: InfluxService) -> InfluxDatabase:
    """A fresh database on the shared server (restarted first if an earlier test left it stopped)."""
    influx_service.start_influx()
    name = f"s2s_test_{next(_numbers)}"
    influx_service.create_database(name)
    return InfluxDatabase(influx_service, name)
