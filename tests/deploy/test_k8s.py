"""deploy/k8s/: plain manifests that run the compose stack's image with the compose stack's options."""

from __future__ import annotations

import re
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.stack import (
    COMPOSE,
    FILLED_SECRET,
    MOCK_KEY,
    ROOT,
    SECRET_EXAMPLE,
    TESTER_SERVICES,
    compose_default,
    k8s_documents,
    k8s_object,
    k8s_refs,
    load,
    normalise_refs,
    only_container,
)

NAMESPACE = "s2s-users"
DEPLOYMENTS = {"mock": "s2s-mock", "master": "s2s-master", "worker": "s2s-worker"}


def compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = load(COMPOSE)["services"][name]
    return service


def compose_command(name: str) -> list[str]:
    """What follows the image's entrypoint, or the whole command line where compose replaces the entrypoint."""
    service = compose_service(name)
    return [normalise_refs(part) for part in service.get("entrypoint", service.get("command", []))]


def k8s_command(name: str) -> list[str]:
    container = only_container(k8s_object("Deployment", DEPLOYMENTS[name]))
    return [normalise_refs(part) for part in container.get("command", container.get("args", []))]


def settings() -> dict[str, str]:
    """What every tester container gets through envFrom: the ConfigMap, then the Secret."""
    data: dict[str, str] = dict(k8s_object("ConfigMap", "s2s-run")["data"])
    data.update(k8s_object("Secret", "s2s-secrets")["stringData"])
    return data


def service_ports(name: str) -> set[int]:
    return {port["port"] for port in k8s_object("Service", name)["spec"]["ports"]}


def test_every_object_lives_in_the_s2s_users_namespace() -> None:
    documents = k8s_documents()
    assert k8s_object("Namespace", NAMESPACE)
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == NAMESPACE, document["metadata"]["name"]


@pytest.mark.parametrize("role", TESTER_SERVICES)
def test_each_role_runs_the_compose_image(role: str) -> None:
    container = only_container(k8s_object("Deployment", DEPLOYMENTS[role]))
    assert container["image"] == compose_service(role)["image"] == "s2s-users:latest"
    assert container["imagePullPolicy"] == "IfNotPresent"  # a locally built :latest must not be pulled


@pytest.mark.parametrize("role", TESTER_SERVICES)
def test_each_role_has_the_compose_command_line(role: str) -> None:
    assert k8s_command(role) == compose_command(role)


@pytest.mark.parametrize("role", TESTER_SERVICES)
def test_every_variable_a_command_line_names_is_defined(role: str) -> None:
    container = only_container(k8s_object("Deployment", DEPLOYMENTS[role]))
    sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
    assert sources == {"s2s-run", "s2s-secrets"}
    for part in [*container.get("command", []), *container.get("args", [])]:
        for name in k8s_refs(part):
            assert name in settings(), f"{role} names $({name}), which neither the ConfigMap nor the Secret sets"


def compose_value(value: object) -> str | None:
    """A literal, or the default of a reference; None for a reference without one (a secret)."""
    text = str(value)
    return text if "${" not in text else compose_default(text)


def test_master_and_workers_get_every_variable_compose_gives_them_with_the_same_defaults() -> None:
    for role in ("master", "worker"):
        for name, value in compose_service(role)["environment"].items():
            assert name in settings(), f"compose gives the {role} {name}; deploy/k8s/ does not"
            expected = compose_value(value)
            if name == "S2S_INFLUX_URL" or expected is None:
                continue  # the compose stack brings its own InfluxDB; a cluster's is the operator's
            assert settings()[name] == expected, f"{name}: compose {expected!r}, deploy/k8s/ {settings()[name]!r}"


def test_command_line_settings_have_the_compose_defaults() -> None:
    compared = set()
    for service in ("mock", "master"):
        for part in compose_service(service).get("entrypoint", compose_service(service).get("command")):
            default = compose_default(str(part))
            if default is not None:
                name = normalise_refs(part).removeprefix("$")
                assert settings()[name] == default, f"{name}: compose {default!r}, deploy/k8s/ {settings()[name]!r}"
                compared.add(name)
    assert {"S2S_EXPECT_WORKERS", "S2S_MOCK_TIME_SCALE"} <= compared


def test_the_worker_count_is_configurable_and_agrees_with_what_the_master_expects() -> None:
    workers = k8s_object("Deployment", "s2s-worker")
    assert workers["spec"]["replicas"] == int(settings()["S2S_EXPECT_WORKERS"])
    expect = compose_command("master")
    assert expect[expect.index("--expect-workers") + 1] == "$S2S_EXPECT_WORKERS"


def test_the_services_expose_the_ports_the_image_and_compose_use() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (expose,) = re.findall(r"^EXPOSE (.+)$", dockerfile, flags=re.MULTILINE)
    assert service_ports("master") == {int(port) for port in expose.split()} == {8089, 5557}
    web_port = int(compose_service("master")["ports"][0].rsplit(":", 1)[1])
    assert web_port in service_ports("master")
    mock_command = compose_command("mock")
    mock_port = int(mock_command[mock_command.index("--port") + 1])
    assert service_ports("mock") == {mock_port}
    for url in (settings()["S2S_URL"], compose_service("master")["environment"]["S2S_URL"]):
        assert urlsplit(url).hostname == "mock" and urlsplit(url).port == mock_port


@pytest.mark.parametrize(("service", "deployment"), [("mock", "s2s-mock"), ("master", "s2s-master")])
def test_each_service_selects_its_deployments_pods(service: str, deployment: str) -> None:
    selector = k8s_object("Service", service)["spec"]["selector"]
    pod_labels = k8s_object("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    container = only_container(k8s_object("Deployment", deployment))
    named = {port["name"] for port in container["ports"]}
    for port in k8s_object("Service", service)["spec"]["ports"]:
        assert port["targetPort"] in named


def test_the_master_keeps_its_reports_on_a_claim() -> None:
    master = k8s_object("Deployment", "s2s-master")["spec"]["template"]["spec"]
    (mount,) = only_container(k8s_object("Deployment", "s2s-master"))["volumeMounts"]
    assert mount["mountPath"] == "/app/runs"
    (volume,) = [v for v in master["volumes"] if v["name"] == mount["name"]]
    claim = k8s_object("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.parametrize("role", TESTER_SERVICES)
def test_pods_run_as_the_images_unprivileged_user(role: str) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (uid,) = re.findall(r"useradd .*--uid (\d+)", dockerfile)
    (gid,) = re.findall(r"groupadd .*--gid (\d+)", dockerfile)
    security = k8s_object("Deployment", DEPLOYMENTS[role])["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid))


def test_the_secret_template_holds_no_key_and_its_filled_copy_is_ignored_by_git() -> None:
    assert not SECRET_EXAMPLE.name.endswith((".yaml", ".yml", ".json"))  # kubectl apply -f deploy/k8s/ skips it
    for name, value in k8s_object("Secret", "s2s-secrets")["stringData"].items():
        assert value in ("", MOCK_KEY), f"the Secret template gives {name} a value"
    result = subprocess.run(["git", "check-ignore", "-q", str(FILLED_SECRET.relative_to(ROOT))], cwd=ROOT, check=False)
    assert result.returncode == 0
