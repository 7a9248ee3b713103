"""The surface of every product module: it declares ``__all__``, and it imports no private name (``_x``, or
a name from a ``_x`` module) from another module. STYLE.md's rules, held by a walk of the source.

Rules: no imports of the product code, only ``ast`` over its files, so a broken module still reports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_PACKAGES = ("config", "engine", "actors", "adapters", "http_api", "songtrack")


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in _PACKAGES:
        for path in sorted((_ROOT / package).rglob("*.py")):
            yield path.relative_to(_ROOT).as_posix(), ast.parse(path.read_text("utf-8"))


def _private(name: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in name.split("."))


def _declares_all(tree: ast.Module) -> bool:
    targets = [target for node in tree.body if isinstance(node, ast.Assign) for target in node.targets]
    targets += [node.target for node in tree.body if isinstance(node, ast.AnnAssign)]
    return any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets)


def test_every_module_declares_all() -> None:
    assert [name for name, tree in _modules() if not _declares_all(tree)] == []


def test_no_private_name_is_imported_across_modules() -> None:
    found = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [f"{name}:{node.lineno} {imported}" for imported in names if _private(imported)]
    assert found == []
