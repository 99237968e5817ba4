"""``python -m s2s_users.sinks.influx replay DIR``: write a spool left on disk to InfluxDB."""

from s2s_users.sinks.influx.replay import main

raise SystemExit(main())
