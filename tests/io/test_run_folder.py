"""The run folder keeps what repeating the run needs: the prompts' hashes and the mock's scenario file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from s2s_users.io.run_folder import keep_scenario, prompt_manifest


def test_the_prompt_manifest_hashes_every_prompt_file_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF-a")
    (tmp_path / "notes.txt").write_text("not a prompt")
    folder, files = prompt_manifest(tmp_path)
    assert folder == str(tmp_path.resolve())
    assert [(f.file, f.sha256, f.bytes) for f in files] == [("a.wav", hashlib.sha256(b"RIFF-a").hexdigest(), 6)]


def test_the_default_prompts_are_the_shipped_fixtures_each_hashed_as_their_manifest_says() -> None:
    folder, files = prompt_manifest(None)
    manifest = json.loads((Path(folder) / "manifest.json").read_text())["prompts"]
    assert files[0].file == "manifest.json"
    assert {(f.file, f.sha256) for f in files[1:]} == {(e["file"], e["sha256"]) for e in manifest}


def test_a_bundled_scenario_named_without_its_folder_is_copied_into_the_run_folder(tmp_path: Path) -> None:
    kept = keep_scenario(tmp_path, Path("seed.toml"))
    assert kept is not None and kept[0] == "mock-scenario.toml"
    copied = (tmp_path / "mock-scenario.toml").read_bytes()
    assert 'name = "seed"' in copied.decode() and kept[1] == hashlib.sha256(copied).hexdigest()
    assert keep_scenario(tmp_path, None) is None
