"""What a run folder keeps to repeat the run: the prompt manifest (every prompt file's sha256) and the embedded
mock's scenario file, copied in. The options (without secrets), the versions and the target (without credentials)
are ``run.json``'s already (``core/reporting/run_info.py``)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from s2s_users.core.mock.scenario import SCENARIO_DIR
from s2s_users.core.reporting.run_info import PromptFile
from s2s_users.io.prompts import AUDIO_SUFFIXES, DEFAULT_PROMPTS_DIR

#: The scenario file's copy in the run folder keeps its suffix (TOML or JSON): mock-scenario.toml.
SCENARIO_COPY = "mock-scenario"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prompt_manifest(directory: Path | None) -> tuple[str, tuple[PromptFile, ...]]:
    """The prompt folder the run played (default: the shipped fixtures) and its files with their hashes."""
    folder = (directory or DEFAULT_PROMPTS_DIR).resolve()
    if not folder.is_dir():
        return str(folder), ()
    manifest = folder / "manifest.json"
    if manifest.is_file():  # the files it names (the prompts load from them), and itself
        try:
            named = [folder / str(entry["file"]) for entry in json.loads(manifest.read_text())["prompts"]]
        except (ValueError, KeyError, TypeError):
            named = []
        files = [manifest, *(p for p in named if p.is_file())]
    else:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    return str(folder), tuple(PromptFile(p.relative_to(folder).as_posix(), _sha256(p), p.stat().st_size) for p in files)


def keep_scenario(run_dir: Path, scenario: Path | None) -> tuple[str, str] | None:
    """Copy the mock's scenario file into the run folder: (its name there, its sha256); None without one."""
    if scenario is None:
        return None
    source = scenario
    if not source.exists() and source.parent == Path(".") and (SCENARIO_DIR / source.name).exists():
        source = SCENARIO_DIR / source.name  # a bundled scenario named without its folder
    if not source.is_file():
        return None
    name = SCENARIO_COPY + source.suffix
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, run_dir / name)
    return name, _sha256(source)
