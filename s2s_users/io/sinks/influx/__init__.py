"""The InfluxDB sink, in four parts that depend on each other in this order:

- ``points``: records as line protocol (pure);
- ``writer``: one HTTP write through ``influxdb-client`` with failures sorted, and the start-up probe;
- ``sink``: the queue, the background writer, back-off and the on-disk spool;
- ``replay`` (``python -m s2s_users replay DIR``): a spool left on disk, written later.
"""

from s2s_users.io.sinks.influx.points import (
    SESSION_MEASUREMENT,
    TURN_MEASUREMENT,
    WORKER_MEASUREMENT,
    LinePoint,
    UniqueTimes,
    session_point,
    to_points,
    turn_point,
    worker_point,
)
from s2s_users.io.sinks.influx.settings import InfluxSettings
from s2s_users.io.sinks.influx.sink import InfluxSink, SinkSummary
from s2s_users.io.sinks.influx.writer import InfluxWriter, WriteFailed, check_connection

__all__ = [
    "SESSION_MEASUREMENT",
    "TURN_MEASUREMENT",
    "WORKER_MEASUREMENT",
    "InfluxSettings",
    "InfluxSink",
    "InfluxWriter",
    "LinePoint",
    "SinkSummary",
    "UniqueTimes",
    "WriteFailed",
    "check_connection",
    "session_point",
    "to_points",
    "turn_point",
    "worker_point",
]
