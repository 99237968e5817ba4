"""grafana/provisioning: the InfluxQL datasource the dashboards name, and the folder they are loaded from."""

from __future__ import annotations

from typing import Any

from tests.deploy.stack import COMPOSE, ROOT, load

PROVISIONING = ROOT / "grafana" / "provisioning"
DASHBOARD_UID = "s2s-influxdb"  # the dashboards' JSON refers to the datasource by this uid


def grafana() -> dict[str, Any]:
    service: dict[str, Any] = load(COMPOSE)["services"]["grafana"]
    return service


def mount_target(source: str) -> str:
    (target,) = [v.split(":")[1] for v in grafana()["volumes"] if v.split(":")[0] == source]
    return target


def test_the_datasource_queries_the_s2s_database_in_influxql_with_the_token_from_the_environment() -> None:
    (source,) = load(PROVISIONING / "datasources" / "influxdb.yaml")["datasources"]
    assert source["uid"] == DASHBOARD_UID
    assert source["name"] == "s2s InfluxDB"
    assert source["type"] == "influxdb"
    assert source["isDefault"] is True
    assert source["url"] == "http://influxdb:8086"
    assert source["jsonData"]["version"] == "InfluxQL"
    assert source["jsonData"]["dbName"] == "s2s"  # the database docker/influxdb/create-dbrp.sh maps
    assert source["jsonData"]["httpHeaderName1"] == "Authorization"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${S2S_INFLUX_TOKEN}"
    # Grafana expands ${S2S_INFLUX_TOKEN} from its own environment: compose must pass it in.
    assert "S2S_INFLUX_TOKEN" in grafana()["environment"]


def test_the_provisioning_folder_is_mounted_where_grafana_reads_it() -> None:
    assert mount_target("./grafana/provisioning") == "/etc/grafana/provisioning"


def test_dashboards_load_from_the_mounted_folder_into_the_s2s_users_folder() -> None:
    (provider,) = load(PROVISIONING / "dashboards" / "s2s.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "s2s_users"
    assert provider["options"]["path"] == mount_target("./grafana/dashboards")
    assert (ROOT / "grafana" / "dashboards").is_dir()
