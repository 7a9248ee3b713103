"""One owner per lifecycle: the SQL that moves a linked campaign's Meta status, the SQL that records what Meta
has from us (``metaSync``) and the SQL that moves an integration to ``needs_reauth`` each live in one store
module or function, so every caller goes through its rule.

Rules: a source walk over the product packages (no database); a string constant that writes the column
or status counts as a write.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[3]
_PACKAGES = ("config", "engine", "actors", "adapters", "http_api", "songtrack")


def _writers(pattern: str) -> set[str]:
    """``module:function`` (``module:<module>`` for a module-level constant) of every string constant that
    matches ``pattern``."""
    found: set[str] = set()
    for package in _PACKAGES:
        for path in sorted((_ROOT / package).rglob("*.py")):
            module = path.relative_to(_ROOT).with_suffix("").as_posix()
            found.update(f"{module}:{owner}" for owner in _matches(ast.parse(path.read_text("utf-8")), pattern))
    return found


def _matches(node: ast.AST, pattern: str, owner: str = "<module>") -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(pattern, node.value):
        return {owner}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        owner = node.name
    return {found for child in ast.iter_child_nodes(node) for found in _matches(child, pattern, owner)}


def test_only_the_campaign_meta_store_writes_the_meta_status() -> None:
    writers = _writers(r"meta_effective_status\s*=")
    # <module> is set_meta_effective_status's statement; link and unlink own the link's first and last status.
    assert writers == {"engine/store/campaign_meta:<module>", "engine/store/campaign_meta:link_meta",
                       "engine/store/campaign_meta:unlink_meta"}


def test_only_the_campaign_meta_store_writes_what_meta_has_from_us() -> None:
    # <module> holds record_meta_sync's statements and the reset a new link or an unlink makes.
    assert _writers(r"meta_(budget_minor|sync_error)\s*=") == {"engine/store/campaign_meta:<module>"}


def test_only_mark_needs_reauth_moves_an_integration_to_needs_reauth() -> None:
    assert _writers(r"UPDATE integrations SET[^;]*status\s*=") == {"engine/store/integrations:mark_needs_reauth"}
