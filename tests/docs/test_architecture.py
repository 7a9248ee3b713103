"""docs/architecture.md stays true to the code: its layer picture is the import-linter contract, its folder
table names every package, and every step of its two walks names a file and a function that exist, with no
file entered twice."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
WALKS = ["The path of one Meta sample", "The path of one stream event"]


def _section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:] if end < 0 else DOC[start:end]


def _steps(title: str) -> list[tuple[str, str]]:
    rows = re.findall(r"^\| \d+ \| `([^`]+)` \| `([^`]+)` \|", _section(title), re.MULTILINE)
    assert rows, f"no steps under {title!r}"
    return rows


def _defines(path: Path, name: str) -> bool:
    """``name`` (``Class.method`` or a plain name) is defined at any depth of the module at ``path``."""
    tree = ast.parse(path.read_text())
    owner, _, member = name.rpartition(".")
    for node in ast.walk(tree):
        if owner:
            if isinstance(node, ast.ClassDef) and node.name == owner:
                return any(getattr(item, "name", None) == member for item in node.body)
            continue
        defined = [getattr(target, "id", None) for target in node.targets] if isinstance(node, ast.Assign) else [
            getattr(node, "name", None)]
        if name in defined:
            return True
    return False


@pytest.mark.parametrize("title", WALKS)
def test_each_step_of_a_walk_exists_and_no_file_is_entered_twice(title: str) -> None:
    steps = _steps(title)
    files = [file for file, _ in steps]
    assert len(files) == len(set(files)), f"a file is re-entered in {title!r}: {files}"
    missing = [f"{file}: {name}" for file, name in steps if not (ROOT / file).is_file()
               or not _defines(ROOT / file, name)]
    assert not missing, f"{title!r} names what the code no longer has: {missing}"


def test_the_layer_picture_is_the_contract() -> None:
    (layers,) = [contract["layers"] for contract in CONTRACTS if contract["id"] == "layers"]
    picture = DOC.split("```", 2)[1]
    drawn = [" | ".join(re.split(r"\s+\|\s+", match)) for match in
             re.findall(r"^\s*([a-z_]+(?:\s+\|\s+[a-z_]+)*)\s{3,}", picture, re.MULTILINE)]
    assert drawn == layers
    for contract in CONTRACTS:
        assert f"`{contract['id']}`" in DOC, f"contract {contract['id']} is not described"


def test_the_folder_table_names_every_package() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    table = _section("What each folder owns")
    assert packages == set(re.findall(r"^\| `([a-z_]+)/` \|", table, re.MULTILINE))
