"""Dockerfile, .dockerignore and docker/locust.conf: an image that runs the locustfile as an unprivileged user."""

from __future__ import annotations

import json
import re

from tests.deploy.stack import COMPOSE, ROOT, compose_default, load

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return re.findall(rf"^{name} (.+)$", joined, flags=re.MULTILINE)


def test_the_base_image_is_an_argument_that_defaults_to_the_official_python_image() -> None:
    assert DOCKERFILE.index("ARG BASE_IMAGE=python:3.11-slim-bookworm") < DOCKERFILE.index("FROM ")
    assert instructions("FROM") == ["${BASE_IMAGE} AS wheel", "${BASE_IMAGE}"]  # the wheel's stage, the image's


def test_docker_run_arguments_go_to_the_endurance_locustfile() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["locust", "-f", "/app/locustfiles/endurance.py"]
    assert instructions("WORKDIR") == ["/app"]
    assert instructions("CMD") == []  # no default arguments: `docker run IMAGE --headless ...` passes its own


def test_the_image_installs_the_package_without_dev_extras_and_the_audio_library() -> None:
    runs = " ".join(instructions("RUN"))
    assert "python3 -m pip install /tmp/wheels/*.whl " in runs
    assert "[dev]" not in runs
    assert "libsndfile1" in runs


def test_a_stage_of_its_own_compiles_the_wheel_and_the_image_fails_to_build_if_its_hot_path_is_pure() -> None:
    wheel_stage, image_stage = DOCKERFILE.split("\nFROM ${BASE_IMAGE}\n")
    assert "S2S_USERS_COMPILE=yes" in wheel_stage and "gcc" in wheel_stage
    assert "python3 -m pip wheel --no-deps -w /wheels /tmp/s2s-src" in wheel_stage
    assert "COPY --from=wheel /wheels /tmp/wheels" in image_stage
    assert 's2s-users version | grep -qx "hot path compiled"' in image_stage
    assert "gcc" not in image_stage  # the compiler stays in the wheel's stage


def test_the_image_runs_as_an_unprivileged_user() -> None:
    (user,) = instructions("USER")
    assert user not in ("root", "0")
    assert re.search(rf"useradd [^&]*--uid \d+ [^&]*\b{user}\b", " ".join(instructions("RUN")))


def test_the_default_prompts_are_where_the_image_copies_the_fixtures() -> None:
    # The installed package would look for audio_fixtures/ in site-packages; locust reads /app/locust.conf.
    assert "COPY docker/locust.conf ./locust.conf" in DOCKERFILE
    assert "COPY audio_fixtures ./audio_fixtures" in DOCKERFILE
    conf = (ROOT / "docker" / "locust.conf").read_text(encoding="utf-8")
    assert re.search(r"^prompts = /app/audio_fixtures$", conf, flags=re.MULTILINE)


def test_the_image_exposes_the_web_ui_and_the_master_port() -> None:
    assert instructions("EXPOSE") == ["8089 5557"]


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", "runs", ".env", "**/__pycache__", ".mypy_cache", ".pytest_cache"} <= ignored
    needed = {"s2s_users", "locustfiles", "audio_fixtures", "pyproject.toml", "setup.py", "MANIFEST.in", "scripts"}
    assert not (needed | {"README.md", "docker"}) & ignored


def test_compose_builds_on_the_dockerfiles_default_base_unless_told_otherwise() -> None:
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE, flags=re.MULTILINE)
    build = load(COMPOSE)["x-tester"]["build"]
    assert build["context"] == "."
    assert compose_default(build["args"]["BASE_IMAGE"]) == default
