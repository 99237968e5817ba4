"""locust_ext."""
