"""core/version.py: the versions a report names, and which hot path the process runs."""

from __future__ import annotations

import pytest

import s2s_users.io.pump
from s2s_users.core import version


def test_a_module_loaded_from_an_extension_reads_as_the_compiled_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version, "HOT_PATH_MODULE", "pybase64._pybase64")  # a C extension
    assert version.hot_path() == "compiled"


def test_a_module_loaded_from_its_source_reads_as_the_pure_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version, "HOT_PATH_MODULE", "json.decoder")
    assert version.hot_path() == "pure"


def test_the_hot_path_named_is_where_the_pump_was_imported_from() -> None:
    # make unit runs this on the pure sources, make unit-compiled on the compiled copy: true in both.
    compiled = (s2s_users.io.pump.__file__ or "").endswith(".so")
    assert version.hot_path() == ("compiled" if compiled else "pure")
    assert version.versions()["hot path"] == version.hot_path()


def test_the_hot_path_the_users_ran_is_one_word_when_every_process_said_the_same() -> None:
    assert version.hot_paths_of({"worker-0": "compiled", "worker-1": "compiled"}, own="pure") == "compiled"


def test_without_a_word_from_any_process_the_hot_path_is_this_processs_own() -> None:
    assert version.hot_paths_of({}, own="pure") == "pure"


def test_mixed_hot_paths_name_their_processes() -> None:
    paths = {"worker-2": "pure", "worker-0": "compiled", "worker-1": "pure"}
    assert version.hot_paths_of(paths, own="compiled") == "compiled on worker-0; pure on worker-1, worker-2"
