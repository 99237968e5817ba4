"""scripts/compile.py and the guard in s2s_users/__init__.py: an edited source never hides behind a stale extension,
and going back to pure Python removes what the build made, and nothing else. (The build itself runs in
``make unit-compiled``, which tests the compiled hot path.)"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_script(path: Path, name: str) -> ModuleType:
    """A script of the project (not a package module) imported from its file, under ``name`` (never as __main__)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_script() -> ModuleType:
    return load_script(ROOT / "scripts" / "compile.py", "compile_script")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A package with the real guard, one module, and a manifest of that module's digest."""
    (tmp_path / "s2s_users").mkdir()
    shutil.copy(ROOT / "s2s_users" / "__init__.py", tmp_path / "s2s_users")
    module = tmp_path / "s2s_users" / "hot.py"
    module.write_text("X = 1\n")
    digest = hashlib.sha256(module.read_bytes()).hexdigest()
    (tmp_path / "s2s_users" / "compiled.sha256").write_text(f"{digest}  s2s_users/hot.py\n")
    return tmp_path


def import_package(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import s2s_users"], cwd=root, capture_output=True, text=True)


def test_the_package_imports_while_its_sources_match_what_was_compiled(tree: Path) -> None:
    assert import_package(tree).returncode == 0


def test_an_edited_source_stops_the_import_with_one_line_naming_it_and_the_mend(tree: Path) -> None:
    (tree / "s2s_users" / "hot.py").write_text("X = 2\n")
    result = import_package(tree)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "ImportError: s2s_users: s2s_users/hot.py changed since the hot path was compiled: "
        "run `make compiled` again, or `make pure`"
    )


def test_a_deleted_source_stops_the_import_too(tree: Path) -> None:
    (tree / "s2s_users" / "hot.py").unlink()
    assert "s2s_users/hot.py changed" in import_package(tree).stderr


def test_remove_deletes_the_extensions_and_the_manifest_and_keeps_the_sources(tree: Path) -> None:
    extension = tree / "s2s_users" / "hot.cpython-311-x86_64-linux-gnu.so"
    extension.write_bytes(b"\x7fELF")
    compile_script().remove(tree)
    assert sorted(p.name for p in (tree / "s2s_users").iterdir()) == ["__init__.py", "hot.py"]


def test_the_compiled_list_names_modules_that_exist_and_no_package_init() -> None:
    paths = compile_script().sources(ROOT)
    names = {str(p.relative_to(ROOT)) for p in paths}
    assert {"s2s_users/io/pump.py", "s2s_users/io/transport.py", "s2s_users/core/engine/conversation.py"} <= names
    assert not any(p.name == "__init__.py" for p in paths)


def test_copy_refuses_a_folder_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile.py"), "build", "--copy", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "--copy wants a new or empty folder" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"
