"""Bad input gets a clear error that names every bad field, and never a 500:
property tests over arbitrary JSON, plus the cases a person hits by hand.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.mailer import compose_message
from http_api.errors import ApiError
from http_api.fields import Email
from http_api.validation import MAX_DEPTH, decode_json, validate


class Goal(msgspec.Struct, forbid_unknown_fields=True):
    metric: str
    target: Annotated[int, msgspec.Meta(gt=0)]


class EmailOnly(msgspec.Struct):
    email: Email


class Form(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    start_date: int
    end_date: int
    budget: Annotated[float, msgspec.Meta(ge=0)] = 0
    goal: Goal | None = None

    def __post_init__(self) -> None:
        if self.end_date <= self.start_date:
            raise ValueError("endDate: must be after startDate")


def _details(data: object) -> list[tuple[str, str]]:
    with pytest.raises(ApiError) as caught:
        validate(data, Form)
    assert caught.value.status == 400 and caught.value.code == "VALIDATION_ERROR"
    return [(d.field, d.message) for d in caught.value.details]


def test_every_bad_field_is_named_at_once() -> None:
    assert _details({"startDate": "soon", "budget": -1, "colour": "red"}) == [
        ("colour", "unknown field"),
        ("startDate", "expected int, got str"),
        ("endDate", "is required"),
        ("budget", "expected float >= 0.0"),
    ]


def test_nested_fields_are_named_with_their_path() -> None:
    assert _details({"startDate": 1, "endDate": 2, "goal": {"metric": 3}}) == [
        ("goal.metric", "expected str, got int"),
        ("goal.target", "is required"),
    ]


def test_a_check_across_fields_names_its_field() -> None:
    assert _details({"startDate": 5, "endDate": 1}) == [("endDate", "must be after startDate")]


def test_a_body_that_is_not_an_object() -> None:
    assert _details([1, 2]) == [("body", "expected an object")]


def test_query_strings_are_converted_from_text() -> None:
    form = validate({"startDate": "1", "endDate": "2"}, Form, strict=False)
    assert (form.start_date, form.end_date) == (1, 2)


def test_malformed_json_says_where() -> None:
    with pytest.raises(ApiError) as caught:
        decode_json(b'{"a": ')
    assert caught.value.status == 400 and "malformed JSON" in caught.value.message


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.sampled_from(["startDate", "endDate", "goal", "x"]), inner),
))
def test_any_json_either_validates_or_fails_with_named_fields(data: object) -> None:
    try:
        validate(data, Form)
    except ApiError as err:
        assert err.status == 400 and err.details
        assert all(d.field and d.message for d in err.details)


@given(st.binary(max_size=64))
def test_any_bytes_either_parse_or_fail_cleanly(raw: bytes) -> None:
    try:
        decode_json(raw)
    except ApiError as err:
        assert err.status == 400


@given(st.integers(1, 3 * MAX_DEPTH), st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
def test_nesting_up_to_the_limit_parses_and_deeper_is_a_400(depth: int, brackets: tuple[bytes, bytes]) -> None:
    opening, closing = brackets
    raw = opening * depth + (b"1" if opening != b"[" else b"") + closing * depth
    if depth <= MAX_DEPTH:
        decode_json(raw)
    else:
        with pytest.raises(ApiError) as refused:
            decode_json(raw)
        assert refused.value.status == 400 and "nested deeper" in refused.value.message


@given(st.integers(1, 2**53), st.sampled_from(["{}.0", "{}.000", "{}e0", "{}.0E+0"]))
def test_a_whole_number_written_with_a_fraction_is_an_integer(number: int, spelling: str) -> None:
    # JSON Schema's "integer", which the OpenAPI document says, includes 44.0.
    goal = validate(decode_json(f'{{"metric": "streams", "target": {spelling.format(number)}}}'.encode()), Goal)
    assert goal.target == number and isinstance(goal.target, int)


def test_a_number_with_a_fraction_is_not_an_integer() -> None:
    with pytest.raises(ApiError) as refused:
        validate(decode_json(b'{"metric": "streams", "target": 44.5}'), Goal)
    assert [d.field for d in refused.value.details] == ["target"]


# What ECMA 262 (the OpenAPI document's regex dialect) calls whitespace; Python's \s differs.
_ECMA_SPACE = ("\t\n\v\f\r \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
               + "\u2028\u2029\u202f\u205f\u3000\ufeff")


@given(st.characters(exclude_categories=["Cs"]))
def test_an_email_with_a_space_or_control_character_is_refused_in_either_regex_dialect(char: str) -> None:
    try:
        validate({"email": f"ana{char}@label.example"}, EmailOnly)
        accepted = True
    except ApiError:
        accepted = False
    refused_char = char.isspace() or char in _ECMA_SPACE or char <= " " or "\x7f" <= char <= "\xa0" or char == "@"
    assert accepted is not refused_char


_EMAIL_PATTERN = msgspec.json.schema(EmailOnly)["$defs"]["EmailOnly"]["properties"]["email"]["pattern"]


@given(st.from_regex(_EMAIL_PATTERN.removeprefix("^").removesuffix(r"$(?![\s\S])"), fullmatch=True)
       .filter(lambda address: len(address) <= 254))  # Email's max_length
def test_every_address_the_pattern_accepts_can_be_mailed(address: str) -> None:
    # Registration mails the address at once: one the pattern lets in must make a valid To header (an
    # address with "<" or "[" in its domain once broke Python's header parser, a 500).
    validate({"email": address}, EmailOnly)
    compose_message(to=address, subject="Confirm your email", body="…", smtp=None)
