"""A flat view of a settings Struct, one entry per dotted key, and human messages for bad values.

Everything here is derived from the Structs it is given, so it knows no particular setting; which
sections and fields exist is decided in ``config.settings`` alone.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from collections.abc import Iterable, Mapping
from typing import NamedTuple, TypeGuard
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import msgspec.inspect as mi

__all__ = ["FieldSpec", "env_names", "explain", "flatten", "is_section", "masked", "specs_in", "unknown"]


class FieldSpec(NamedTuple):
    """One configurable value. ``key`` is dotted (``server.port``), or bare for a top-level field."""

    key: str
    section: str | None
    name: str
    type: object
    default: object
    secret: bool  # marked ``Meta(extra={"secret": True})``: never shown, in messages or ``songtrack config check``


def is_section(annotation: object) -> TypeGuard[type[msgspec.Struct]]:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def flatten(root: type[msgspec.Struct]) -> dict[str, FieldSpec]:
    """Every field of ``root`` and of its Struct-typed fields (the sections), by dotted key.

    Sections nest one level deep, the way a TOML file with ``[server]`` tables does.
    """
    specs: dict[str, FieldSpec] = {}
    for info in msgspec.structs.fields(root):
        if is_section(info.type):
            for sub in msgspec.structs.fields(info.type):
                key = f"{info.name}.{sub.name}"
                specs[key] = FieldSpec(key, info.name, sub.name, sub.type, _default(sub), _secret(sub.type))
        else:
            specs[info.name] = FieldSpec(info.name, None, info.name, info.type, _default(info), _secret(info.type))
    return specs


def _default(info: msgspec.structs.FieldInfo) -> object:
    return info.default_factory() if info.default is msgspec.NODEFAULT else info.default


def _secret(annotation: object) -> bool:
    return _is_secret(mi.type_info(annotation))


def specs_in(specs: Mapping[str, FieldSpec], section: str | None) -> list[FieldSpec]:
    """The fields of one section, or the top-level fields for ``None``."""
    return [spec for spec in specs.values() if spec.section == section]


def env_names(specs: Iterable[str], prefix: str) -> dict[str, str]:
    """Map ``PREFIX_SECTION_FIELD`` variable names to dotted keys.

    Raises TypeError at import time if two keys would share a variable name (``server.port`` and
    a top-level ``server_port``): that is a schema bug, not a user error.
    """
    names: dict[str, str] = {}
    for key in specs:
        name = prefix + key.replace(".", "_").upper()
        if name in names:
            raise TypeError(f"settings {names[name]!r} and {key!r} would share the variable {name}")
        names[name] = key
    return names


def unknown(name: str, known: Iterable[str], what: str) -> str:
    """The message for an unknown name, with the closest known one as a hint (typos are the usual cause)."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"unknown {what}; did you mean {close[0]}?" if close else f"unknown {what}"


def explain(annotation: object, value: object, exc: msgspec.ValidationError) -> str:
    """A human message for ``value`` failing ``annotation``: ``expected …, got …``.

    Types we cannot describe fall back to msgspec's own message without its ``$`` path, which
    always points at the value itself here and would only confuse.
    """
    info = mi.type_info(annotation)
    expected = _expected(info)
    if expected is None:
        return _PATH.sub("", str(exc))
    return f"expected {expected}, got {_shown(value, secret=_is_secret(info))}"


_PATH = re.compile(r" - at `\$[^`]*`$")

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60  # a whole TOML table pasted into a message helps nobody


def _expected(info: mi.Type) -> str | None:
    if isinstance(info, mi.Metadata):
        text = (info.extra or {}).get("expected")
        return text if isinstance(text, str) else _expected(info.type)
    if isinstance(info, mi.UnionType):
        return _expected_union(info)
    if isinstance(info, mi.IntType | mi.FloatType):
        noun = "an integer" if isinstance(info, mi.IntType) else "a number"
        return noun + _bounds(info)
    if isinstance(info, mi.StrType):
        return _expected_str(info)
    if isinstance(info, mi.BoolType):
        return "true or false"
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(repr(value) for value in info.values)
    return None


def _expected_union(info: mi.UnionType) -> str | None:
    # None is how a setting says "not set"; nobody can write it in TOML or the environment.
    parts = [_expected(member) for member in info.types if not isinstance(member, mi.NoneType)]
    return " or ".join(part for part in parts if part) if all(parts) else None


def _expected_str(info: mi.StrType) -> str | None:
    if info.pattern is not None or info.max_length is not None or (info.min_length or 0) > 1:
        return None  # msgspec says these precisely; a Meta(extra={"expected": ...}) can say it better
    return "a non-empty string" if info.min_length == 1 else "a string"


def _bounds(info: mi.IntType | mi.FloatType) -> str:
    if info.ge is not None and info.le is not None:
        return f" between {info.ge} and {info.le}"
    words = (("greater than", info.gt), ("at least", info.ge), ("less than", info.lt), ("at most", info.le))
    bounds = [f"{word} {bound}" for word, bound in words if bound is not None]
    return " " + " and ".join(bounds) if bounds else ""


def _is_secret(info: mi.Type) -> bool:
    if isinstance(info, mi.Metadata):
        return bool((info.extra or {}).get("secret")) or _is_secret(info.type)
    if isinstance(info, mi.UnionType):
        return any(_is_secret(member) for member in info.types)
    return False


_MASK = "********"
# Query parameters of a URL that carry credentials (libpq's password and sslpassword, tokens, keys).
_CREDENTIAL = re.compile(r"pass|secret|token|key", re.IGNORECASE)


def masked(value: object, *, secret: bool) -> object:
    """``value`` fit to show: a secret URL keeps its scheme, user, host, port and path with the password and
    credential parameters masked; any other secret is masked whole; a URL that is not secret still loses a
    password written into it. Anything else is returned as it is."""
    if isinstance(value, str) and "://" in value:
        url = _masked_url(value)
        return url if url is not None else _MASK
    return _MASK if secret and value is not None else value


def _masked_url(value: str) -> str | None:
    """The URL with its credentials masked; None when it cannot be taken apart (so nothing of it is shown)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 address
        netloc = f"[{netloc}]"
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        user = parts.username or ""
        netloc = f"{user}:{_MASK}@{netloc}" if parts.password is not None else f"{user}@{netloc}"
    query = [(name, _MASK if _CREDENTIAL.search(name) else item)
             for name, item in parse_qsl(parts.query, keep_blank_values=True)]
    # The fragment is dropped: nothing we read is there, and it could hold anything.
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*/:"), ""))


def _shown(value: object, *, secret: bool) -> str:
    if not secret:
        return _repr.repr(value)
    # A database URL carries its password; messages end up in logs, so we show the scheme only.
    if isinstance(value, str) and "://" in value:
        return repr(value.split("://", 1)[0] + "://...") + " (the rest is hidden: it may hold a password)"
    return "a value we do not show (it may hold a password)"
