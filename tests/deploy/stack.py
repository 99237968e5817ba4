"""The deployment files as data: raw YAML of the compose files and Kubernetes manifests, and `docker-compose config`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
REAL_API = ROOT / "docker-compose.real-api.yml"
K8S = ROOT / "deploy" / "k8s"
SECRET_EXAMPLE = K8S / "20-secret.yaml.example"
FILLED_SECRET = K8S / "20-secret.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
TESTER_SERVICES = ("mock", "master", "worker")

# What an operator must put in .env; a test env file gives them stand-in values.
REQUIRED_SECRETS = {
    "S2S_INFLUX_TOKEN": "test-influx-token",
    "INFLUXDB_ADMIN_PASSWORD": "test-influx-password",
    "GRAFANA_ADMIN_PASSWORD": "test-grafana-password",
}
# The mock's documented, public key: the one literal key the files may hold.
MOCK_KEY = "mock-key"
SECRET_NAME = re.compile(r"KEY|TOKEN|PASSWORD|SECRET")

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message} (compose) and $(VAR) (Kubernetes).
_COMPOSE_REF = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
_K8S_REF = re.compile(r"\$\((?P<name>[A-Z_][A-Z0-9_]*)\)")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def normalise_refs(value: object) -> str:
    """One spelling for an environment reference, whichever file it came from: ``$VAR``."""
    text = str(value)
    text = _COMPOSE_REF.sub(lambda m: f"${m['name']}", text)
    return _K8S_REF.sub(lambda m: f"${m['name']}", text)


def compose_refs(text: str) -> list[re.Match[str]]:
    return list(_COMPOSE_REF.finditer(text))


def compose_default(value: str) -> str | None:
    """The default a ``${VAR:-default}`` falls back to; None when the value has none."""
    match = _COMPOSE_REF.fullmatch(value)
    if match is None or match["op"] not in (":-", "-"):
        return None
    return match["arg"]


def k8s_refs(value: object) -> list[str]:
    return [m["name"] for m in _K8S_REF.finditer(str(value))]


def compose_binary() -> str:
    """Debian's docker-compose (1.29): the compose implementation CI installs."""
    binary = shutil.which("docker-compose")
    assert binary is not None, "docker-compose is not installed: apt-get install docker-compose (.ci/run does)"
    return binary


def compose_config(env_file: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` of the files, with only the env file's variables (none from this shell)."""
    arguments = [compose_binary(), "--env-file", str(env_file)]
    for file in files:
        arguments += ["-f", str(file)]
    clean_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(env_file.parent)}
    return subprocess.run(
        [*arguments, "config"], cwd=ROOT, env=clean_env, capture_output=True, text=True, timeout=60, check=False
    )


def write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")
    return path


def k8s_documents() -> list[dict[str, Any]]:
    """Every manifest `kubectl apply -f deploy/k8s/` applies, plus the Secret template an operator copies."""
    documents: list[dict[str, Any]] = []
    # An operator's filled-in copy of the template (git-ignored) holds real keys: not ours to read.
    manifests = [path for path in sorted(K8S.glob("*.yaml")) if path.name != FILLED_SECRET.name]
    for path in [*manifests, SECRET_EXAMPLE]:
        documents.extend(load_all(path))
    return documents


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name} in deploy/k8s/, found {len(found)}"
    return found[0]


def only_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']} should run one container"
    container: dict[str, Any] = containers[0]
    return container
