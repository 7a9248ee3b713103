"""Reads the places settings come from (a TOML file, the environment, overrides) into provided values.

It reads and names values the way the user wrote them; it does not check them (``config.settings``
does, one field at a time).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from config.errors import ConfigProblem
from config.schema import FieldSpec, unknown

__all__ = ["Found", "Provided", "from_environ", "from_file", "from_overrides"]


class Provided(NamedTuple):
    """A value for the setting ``key``; ``origin`` names it for messages, as the user wrote it."""

    key: str
    value: object
    origin: str
    lax: bool  # the value is text standing for any type ("3000" for 3000); false for TOML, which is typed


Found = tuple[list[Provided], list[ConfigProblem]]


def from_file(path: Path | None, specs: Mapping[str, FieldSpec]) -> Found:
    """The settings in the TOML file at ``path``; a missing or unreadable file is a problem."""
    if path is None:
        return [], []
    document = _read_toml(path)
    if isinstance(document, ConfigProblem):
        return [], [document]
    sections = {spec.section for spec in specs.values() if spec.section is not None}
    provided: list[Provided] = []
    problems: list[ConfigProblem] = []
    for key, value in _entries(document, sections):
        origin = f"{key} ({path.name})"
        if key in specs:
            provided.append(Provided(key, value, origin, lax=False))
        elif key in sections:
            problems.append(ConfigProblem(origin, f"expected a [{key}] table, got {value!r}"))
        else:
            problems.append(ConfigProblem(origin, _unknown_in_file(key, value, specs, sections)))
    return provided, problems


def from_environ(
    environ: Mapping[str, str],
    names: Mapping[str, str],
    *,
    prefix: str,
    aliases: Mapping[str, str],
    reserved: Collection[str],
) -> Found:
    """Values of the variables in ``names`` and ``aliases``; any other ``prefix`` variable is a problem.

    Aliases come first, so a prefixed variable for the same setting wins over its alias.
    """
    provided = [
        Provided(key, environ[alias], alias, lax=True) for alias, key in aliases.items() if alias in environ
    ]
    problems: list[ConfigProblem] = []
    for name in sorted(environ):
        if not name.startswith(prefix) or name in reserved:
            continue
        if name in names:
            provided.append(Provided(names[name], environ[name], name, lax=True))
        else:
            problems.append(ConfigProblem(name, unknown(name, names, "setting")))
    return provided, problems


def from_overrides(overrides: Mapping[str, object], specs: Mapping[str, FieldSpec]) -> Found:
    """Values given by dotted key (from CLI flags); ``None`` means the flag was not given."""
    provided: list[Provided] = []
    problems: list[ConfigProblem] = []
    for key, value in overrides.items():
        if value is None:
            continue
        if key in specs:
            # Lax: flags usually arrive as text, exactly like environment variables.
            provided.append(Provided(key, value, key, lax=True))
        else:
            problems.append(ConfigProblem(key, unknown(key, specs, "setting")))
    return provided, problems


def _read_toml(path: Path) -> dict[str, object] | ConfigProblem:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return ConfigProblem(str(path), "no such file")
    except tomllib.TOMLDecodeError as exc:
        return ConfigProblem(str(path), f"invalid TOML: {exc}")
    except UnicodeDecodeError:
        return ConfigProblem(str(path), "invalid TOML: the file is not UTF-8 text")
    except OSError as exc:
        return ConfigProblem(str(path), exc.strerror or str(exc))


def _unknown_in_file(key: str, value: object, specs: Collection[str], sections: Collection[str]) -> str:
    if not isinstance(value, dict):
        return unknown(key, specs, "key")
    # A table nested in a section ([server.tls]) resembles nothing we know; a hint would mislead.
    return unknown(key, sections if "." not in key else (), "section")


def _entries(document: Mapping[str, object], sections: Collection[str]) -> Iterator[tuple[str, object]]:
    """(dotted key, value) pairs: ``[server] port = 1`` and ``server.port = 1`` both give ``server.port``."""
    for name, value in document.items():
        if name in sections and isinstance(value, dict):
            for field, item in value.items():
                yield f"{name}.{field}", item
        else:
            yield name, value
