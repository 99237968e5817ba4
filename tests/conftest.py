"""Shared fixtures: a real InfluxDB (influxd 1.6 behind nginx) for the sink and end-to-end tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.influx import InfluxDatabase, InfluxService, ServiceError

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
