"""docker-compose.yml and docker-compose.real-api.yml: accepted by docker-compose, complete, local-only, no secrets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.stack import (
    COMPOSE,
    ENV_EXAMPLE,
    MOCK_KEY,
    REAL_API,
    REQUIRED_SECRETS,
    ROOT,
    SECRET_NAME,
    TESTER_SERVICES,
    compose_config,
    compose_refs,
    load,
    write_env,
)

COMPOSE_FILES = (COMPOSE, REAL_API)


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    return write_env(tmp_path / "test.env", {**REQUIRED_SECRETS, "OPENAI_API_KEY": "test-openai-key"})


def configured(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def raw_services(path: Path) -> dict[str, Any]:
    services: dict[str, Any] = load(path)["services"]
    return services


def test_docker_compose_accepts_the_stack_with_the_required_variables(env_file: Path) -> None:
    config = configured(compose_config(env_file, COMPOSE))
    assert set(config["services"]) == {"influxdb", "grafana", *TESTER_SERVICES}
    master = config["services"]["master"]["environment"]
    assert master["S2S_URL"] == "ws://mock:8765/v1/realtime"
    assert master["S2S_API_KEY"] == MOCK_KEY
    assert master["S2S_INFLUX_URL"] == "http://influxdb:8086"
    assert master["S2S_INFLUX_TOKEN"] == REQUIRED_SECRETS["S2S_INFLUX_TOKEN"]


@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
def test_docker_compose_refuses_to_start_without_each_secret(tmp_path: Path, missing: str) -> None:
    values = {name: value for name, value in REQUIRED_SECRETS.items() if name != missing}
    result = compose_config(write_env(tmp_path / "partial.env", values), COMPOSE)
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_real_api_override_points_master_and_workers_at_the_api_and_leaves_the_mock_out(env_file: Path) -> None:
    config = configured(compose_config(env_file, COMPOSE, REAL_API))
    assert config["services"]["mock"]["profiles"] == ["mock"]  # started only with --profile mock
    for role in ("master", "worker"):
        environment = config["services"][role]["environment"]
        assert environment["S2S_URL"] == "wss://api.openai.com/v1/realtime"
        assert environment["OPENAI_API_KEY"] == "test-openai-key"
        assert environment["S2S_API_KEY"] == ""  # empty: the tool takes OPENAI_API_KEY, never the mock's key
        assert environment["S2S_INFLUX_URL"] == "http://influxdb:8086"


def test_every_host_path_the_compose_files_build_from_or_mount_exists() -> None:
    checked = []
    for path in COMPOSE_FILES:
        for name, service in raw_services(path).items():
            build = service.get("build")
            if build is not None:
                context = ROOT / (build if isinstance(build, str) else build["context"])
                assert (context / "Dockerfile").is_file(), f"{name}: no Dockerfile in {context}"
                checked.append(context)
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith((".", "/")):
                    assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
                    checked.append(ROOT / source)
    assert checked, "the compose files build or mount nothing from the repository"


def test_the_influxdb_init_script_is_mounted_executable_where_the_image_runs_it() -> None:
    volumes = raw_services(COMPOSE)["influxdb"]["volumes"]
    (mount,) = [v for v in volumes if ":/docker-entrypoint-initdb.d/" in v]
    source, target = mount.split(":")[:2]
    script = ROOT / source
    assert target.endswith(".sh")  # the image runs its init folder with run-parts --regex '.*sh$'
    assert os.access(script, os.X_OK), f"{source} must be executable (git mode 100755)"
    text = script.read_text(encoding="utf-8")
    assert "influx v1 dbrp create" in text
    assert "--db s2s" in text and "--rp autogen" in text and "--default" in text
    assert "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" in text


def test_every_published_port_listens_on_localhost_only() -> None:
    published = []
    for path in COMPOSE_FILES:
        for name, service in raw_services(path).items():
            for port in service.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
                published.append(port)
    assert sorted(published) == ["127.0.0.1:3000:3000", "127.0.0.1:8086:8086", "127.0.0.1:8089:8089"]


def test_grafana_has_no_anonymous_access_and_its_admin_password_comes_from_the_environment(env_file: Path) -> None:
    raw = raw_services(COMPOSE)["grafana"]["environment"]
    assert raw["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert raw["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    configured_env = configured(compose_config(env_file, COMPOSE))["services"]["grafana"]["environment"]
    assert configured_env["GF_SECURITY_ADMIN_PASSWORD"] == REQUIRED_SECRETS["GRAFANA_ADMIN_PASSWORD"]


def test_the_workers_can_be_scaled() -> None:
    worker = raw_services(COMPOSE)["worker"]
    # A fixed container name or a published port would stop the second worker from starting.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"] == ["--worker", "--master-host", "master"]


def test_no_secret_has_a_literal_value_in_the_compose_files() -> None:
    checked = []
    for path in COMPOSE_FILES:
        for name, service in raw_services(path).items():
            for variable, value in (service.get("environment") or {}).items():
                if not SECRET_NAME.search(variable):
                    continue
                refs = compose_refs(str(value))
                assert len(refs) == 1 and refs[0].group(0) == value, f"{name}: {variable} is not from the environment"
                ref = refs[0]
                assert ref["op"] == ":?" or ref["arg"] in ("", MOCK_KEY), f"{name}: {variable} has a default secret"
                checked.append(variable)
    assert "S2S_INFLUX_TOKEN" in checked and "GF_SECURITY_ADMIN_PASSWORD" in checked


def test_env_example_documents_every_variable_the_compose_files_read_and_holds_no_secret() -> None:
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = {}
    for line in example.splitlines():
        name, sep, value = line.lstrip("# ").partition("=")
        if sep and name.isidentifier() and name.isupper():
            documented[name] = value
    for path in COMPOSE_FILES:
        for ref in compose_refs(path.read_text(encoding="utf-8")):
            assert ref["name"] in documented, f"{path.name} reads {ref['name']}, which .env.example does not explain"
    for name, value in documented.items():
        if SECRET_NAME.search(name):
            assert value in ("", MOCK_KEY), f".env.example gives {name} a value"


def test_the_env_file_with_the_secrets_is_ignored_by_git() -> None:
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert result.returncode == 0
