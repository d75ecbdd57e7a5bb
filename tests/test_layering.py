"""Imports point downward only: ``graphops`` <- ``solvers`` <- ``models``.

Every module of the three packages is parsed (``ast``, nothing is imported or run)
and each ``import``/``from ... import`` naming a package above its own fails the
test, including imports inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"graphops": 0, "solvers": 1, "models": 2}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def upward_imports(package: str) -> list[str]:
    """Each import in ``package`` that names a higher layer, as ``file:line -> pkg``."""
    own = LAYERS[package]
    bad = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, name in _imported_packages(tree):
            if LAYERS.get(name, -1) > own:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_no_upward_imports(package):
    assert _modules(package), f"no modules found in {package}"
    assert upward_imports(package) == []


def test_detector_sees_an_upward_import(tmp_path, monkeypatch):
    # The check itself must be able to fail: a graphops module importing solvers,
    # written inside a function and as a relative-free `from` import.
    fake = tmp_path / "graphops"
    fake.mkdir()
    (fake / "bad.py").write_text(
        "def f():\n    from solvers.solve import solve\n    import models.x\n"
    )
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert upward_imports("graphops") == [
        "graphops/bad.py:2 imports solvers",
        "graphops/bad.py:3 imports models",
    ]
