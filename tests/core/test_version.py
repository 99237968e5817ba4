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
