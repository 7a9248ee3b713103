"""Turning untrusted input (a JSON body, a query string) into a Struct, or into a
400 that names every bad field.

msgspec stops at the first error; a person fixing a form wants all of them, so
on failure we walk the Struct's fields and check each value on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeVar, Union, get_args, get_origin

import msgspec

from http_api.errors import ApiError, ErrorDetail

__all__ = ["MAX_DEPTH", "decode_json", "validate"]

T = TypeVar("T")

_NUL_ESCAPE = re.compile(rb"\\u0000", re.IGNORECASE)
_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: an int when it is a whole one (``44.0``, ``1e3``), as JSON
    Schema's ``integer`` says, which our OpenAPI document promises; a float otherwise. Past 2**53 a float
    no longer holds every whole number exactly, so it stays one there."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


_decoder = msgspec.json.Decoder(float_hook=_number)
MAX_DEPTH = 64  # levels of arrays and objects in a JSON body


def decode_json(raw: bytes) -> object:
    """Parse a request body; malformed JSON is a 400 saying where it broke.

    So is text that is not UTF-8 (RFC 8259 requires it), and nesting deeper than
    MAX_DEPTH: no body of ours needs it, and what handles the value after us
    (validation, NUL checks, encoding) recurses, as msgspec's parser does.
    PostgreSQL text cannot hold NUL, which JSON can only carry escaped: a body with
    one is refused here, naming each field that holds one, for every route at once.
    """
    try:
        data = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "VALIDATION_ERROR", f"malformed JSON: {exc}") from None
    except RecursionError:
        raise _too_deep() from None
    except UnicodeDecodeError:
        raise ApiError(400, "VALIDATION_ERROR", f"the body is not UTF-8 (byte {_first_invalid_byte(raw)})") from None
    # Cheap test first: a body with fewer brackets than MAX_DEPTH cannot nest deeper.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(data, MAX_DEPTH):
        raise _too_deep()
    if _NUL_ESCAPE.search(raw):  # cheap test first; the walk only runs when it may find something
        paths = list(_nul_paths(data, ""))
        if paths:
            raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                           [ErrorDetail(path or "body", "may not contain the NUL character") for path in paths])
    return data


def _too_deep() -> ApiError:
    message = f"malformed JSON: arrays and objects nested deeper than {MAX_DEPTH} levels"
    return ApiError(400, "VALIDATION_ERROR", message)


def _first_invalid_byte(raw: bytes) -> int:
    try:
        raw.decode()
    except UnicodeDecodeError as exc:
        return exc.start
    return -1  # not reached: msgspec found invalid UTF-8 in it


def _deeper_than(data: object, limit: int) -> bool:
    """Whether arrays and objects in ``data`` nest deeper than ``limit`` (a walk with a stack: deep input
    must not exhaust Python's)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if items is not None:
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in items)
    return False


def _nul_paths(value: object, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield _join(path, key.replace("\x00", "\\u0000"))
            yield from _nul_paths(item, _join(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}[{index}]")


def validate(data: object, type_: type[T], *, strict: bool = True, where: str = "body") -> T:
    """``data`` as a ``type_``, or ApiError(400) with one detail per bad field.

    ``strict=False`` is for query strings, whose values all arrive as text.
    """
    try:
        return msgspec.convert(data, type_, strict=strict)
    except msgspec.ValidationError as exc:
        details = _problems(data, type_, "", strict) or [_whole(str(exc), type_, where)]
        raise ApiError(400, "VALIDATION_ERROR", "Validation failed", details) from None


def _problems(data: object, type_: object, path: str, strict: bool) -> list[ErrorDetail]:
    struct = _struct_type(type_)
    if struct is None or data is None:
        return _check_value(data, type_, path, strict)
    if not isinstance(data, dict):
        return [ErrorDetail(path or "body", "expected an object")]
    fields = msgspec.structs.fields(struct)
    known = {f.encode_name for f in fields}
    out: list[ErrorDetail] = []
    if struct.__struct_config__.forbid_unknown_fields:
        out += [ErrorDetail(_join(path, key), "unknown field") for key in data if key not in known]
    for field in fields:
        name = _join(path, field.encode_name)
        if field.encode_name not in data:
            if field.required:
                out.append(ErrorDetail(name, "is required"))
            continue
        out += _problems(data[field.encode_name], field.type, name, strict)
    return out


def _check_value(value: object, type_: object, path: str, strict: bool) -> list[ErrorDetail]:
    try:
        msgspec.convert(value, type_, strict=strict)
    except msgspec.ValidationError as exc:
        message, sub = _split(str(exc))
        return [ErrorDetail(path + sub if path else (sub.lstrip(".") or "body"), message)]
    return []


def _whole(message: str, type_: object, where: str) -> ErrorDetail:
    """A failure no single field explains: a check across fields in ``__post_init__``.

    By convention those messages start with the field they are about (``"endDate: ..."``).
    """
    struct = _struct_type(type_)
    field, _, rest = message.partition(": ")
    if struct is not None and rest and field in {f.encode_name for f in msgspec.structs.fields(struct)}:
        return ErrorDetail(field, rest)
    return ErrorDetail(where, _split(message)[0])


def _split(message: str) -> tuple[str, str]:
    """msgspec's ``Expected `int`, got `str` - at `$.a[0]``` → (``expected int, got str``, ``.a[0]``)."""
    match = _AT_PATH.search(message)
    sub = match.group("path") if match else ""
    text = message[: match.start()] if match else message
    return text.replace("`", "")[:1].lower() + text.replace("`", "")[1:], sub


def _struct_type(type_: object) -> type[msgspec.Struct] | None:
    """The Struct inside ``type_`` (itself, or ``X | None``), if any."""
    if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
        return type_
    if get_origin(type_) is Union or type(type_).__name__ == "UnionType":
        structs = [a for a in get_args(type_) if isinstance(a, type) and issubclass(a, msgspec.Struct)]
        return structs[0] if len(structs) == 1 else None
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
