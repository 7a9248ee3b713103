"""Conversions API: normalisation and hashing (PROVIDERS.md A3 vectors, hypothesis properties) and
``MetaClient.send_events`` against the Meta simulator over real HTTP.

Rules: expected digests are PROVIDERS.md's, never recomputed with our own code; the simulator is reached
through ``httpx.ASGITransport`` on a ``ManualClock`` and ``now`` is taken from that clock; what went over
the wire is read from the simulator's request log, what Meta kept from ``sim.conversions``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.meta.client import MetaClient
from adapters.meta.conversions import (
    FIELD_NORMALIZERS,
    CustomData,
    ServerEvent,
    UserData,
    hash_field,
    is_sha256,
    normalize_birthdate,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_gender,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_zip,
)
from adapters.meta.simulator import MetaSimulator
from engine.provider import AuthExpiredError, FatalProviderError
from tests.adapters.meta.sim import TOKEN, make

BASE = "https://graph.facebook.com"
# PROVIDERS.md A3, "Hashing and normalization" (re-computed there with sha256sum).
EMAIL_VECTOR = ("John_Smith@gmail.com", "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f")
PHONE_VECTOR = ("(650)555-1212", "16505551212", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176")
NAME_VECTOR = ("Mary", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec")
FREE_TEXT_FIELDS = ("fn", "ln", "ct", "st", "zp", "external_id")
digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)


# --- the PROVIDERS.md vectors ---------------------------------------------------------------------------


def test_email_vector() -> None:
    raw, digest = EMAIL_VECTOR
    assert normalize_email(raw) == "john_smith@gmail.com"
    assert hash_field("em", raw) == digest
    assert hash_field("em", f"  {raw.upper()}\t") == digest


def test_phone_vector_needs_the_country_code() -> None:
    raw, normalized, digest = PHONE_VECTOR
    assert normalize_phone(raw, country_code="1") == normalized
    assert hash_field("ph", normalized) == digest
    assert hash_field("ph", "+1 (650) 555-1212") == digest  # written internationally: no default needed


def test_first_name_vector() -> None:
    raw, digest = NAME_VECTOR
    assert normalize_name(raw) == "mary"
    assert hash_field("fn", raw) == digest


# --- per-field rules -------------------------------------------------------------------------------------


def test_phone_country_code_is_added_once() -> None:
    assert normalize_phone("+44 20 7946 0000", country_code="1") == "442079460000"
    assert normalize_phone("0044 20 7946 0000") == "442079460000"
    assert normalize_phone("020 7946 0000", country_code="44") == "442079460000"  # national trunk 0 dropped
    assert normalize_phone("1-650-555-1212", country_code="1") == "16505551212"


def test_other_fields_normalise_as_meta_documents() -> None:
    assert normalize_name(" O'Brien-Smith ") == "obriensmith"
    assert normalize_name("José") == normalize_name("Jose\u0301") == "josé"  # one letter, accent kept
    assert normalize_city("Menlo Park") == "menlopark"
    assert normalize_state(" CA ") == "ca"
    assert normalize_zip("94025-1234") == normalize_zip("94025") == "94025"
    assert normalize_zip("SW1A 1AA") == "sw1a1aa"
    assert normalize_country(" US ") == "us"
    assert normalize_gender("Female") == "f" and normalize_gender(" M ") == "m"
    assert normalize_birthdate("1997-02-16") == "19970216"
    assert hash_field("external_id", " ABC-123 ") == hash_field("external_id", "abc-123")


@pytest.mark.parametrize(
    ("field", "value"),
    [("em", "not an email"), ("ph", "call me"), ("country", "USA"), ("ge", "x"), ("db", "1997-02-30"),
     ("db", "1997216")],
)
def test_values_that_cannot_be_normalised_raise_value_error_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        hash_field(field, value)


def test_user_data_hashes_customer_fields_and_leaves_device_fields_alone() -> None:
    user = UserData(em=["John_Smith@gmail.com"], ph=["+1 650 555 1212"], fn="Mary", ln="!!", external_id=["42"],
                    client_ip_address="203.0.113.9", client_user_agent="Mozilla/5.0", fbc="fb.1.1.abc", fbp="fb.1.2.3")
    hashed = user.hashed()
    assert hashed.em == [EMAIL_VECTOR[1]] and hashed.ph == [PHONE_VECTOR[2]] and hashed.fn == NAME_VECTOR[1]
    assert hashed.ln is None  # nothing left to hash: dropped rather than a digest of ""
    assert is_sha256(hashed.external_id[0])
    assert (hashed.client_ip_address, hashed.client_user_agent, hashed.fbc, hashed.fbp) == (
        "203.0.113.9", "Mozilla/5.0", "fb.1.1.abc", "fb.1.2.3")
    assert hashed.hashed() == hashed


# --- properties --------------------------------------------------------------------------------------------


@given(field=st.sampled_from(FREE_TEXT_FIELDS), value=st.text())
def test_free_text_normalising_is_idempotent(field: str, value: str) -> None:
    normalize = FIELD_NORMALIZERS[field]
    once = normalize(value)
    assert normalize(once) == once


@given(email=st.emails(), phone=st.from_regex(r"\+?[ (]?[1-9][0-9 ()\-.]{0,18}", fullmatch=True),
       country=st.from_regex(r"\s*[A-Za-z]{2}\s*", fullmatch=True),
       gender=st.sampled_from(["f", "M", " female ", "Male"]), born=st.dates(date(1900, 1, 1), date(2026, 1, 1)))
def test_strict_normalising_is_idempotent(email: str, phone: str, country: str, gender: str, born: date) -> None:
    for field, value in [("em", email), ("ph", phone), ("country", country), ("ge", gender),
                         ("db", born.isoformat())]:
        once = FIELD_NORMALIZERS[field](value)
        assert FIELD_NORMALIZERS[field](once) == once


@given(field=st.sampled_from(FREE_TEXT_FIELDS), value=st.text())
def test_hashes_are_64_lowercase_hex_or_nothing(field: str, value: str) -> None:
    digest = hash_field(field, value)
    assert digest == "" or (len(digest) == 64 and is_sha256(digest))


@given(field=st.sampled_from(sorted(FIELD_NORMALIZERS)), digest=digests)
def test_an_already_hashed_value_is_passed_through(field: str, digest: str) -> None:
    assert hash_field(field, digest) == digest
    assert hash_field(field, f" {digest}\n") == digest


@given(field=st.sampled_from(FREE_TEXT_FIELDS), value=st.text())
def test_hashing_twice_is_hashing_once(field: str, value: str) -> None:
    once = hash_field(field, value)
    assert once == "" or hash_field(field, once) == once


@given(email=st.emails(), pad=st.sampled_from(["", " ", "\t", "  \n"]),
       case=st.sampled_from([str.upper, str.lower, str.swapcase, str.title]))
def test_whitespace_and_case_variants_of_an_email_hash_the_same(email: str, pad: str,
                                                                case: Callable[[str], str]) -> None:
    assert hash_field("em", f"{pad}{case(email)}{pad}") == hash_field("em", email.lower())


# --- send_events over HTTP ----------------------------------------------------------------------------------


def pixel_of(sim: MetaSimulator) -> str:
    return next(iter(sim.world.pixels))


def purchase(now: float, number: int, **changes: object) -> ServerEvent:
    event = ServerEvent(
        event_name="Purchase", event_time=int(now) - 60, action_source="website", event_id=f"order-{number}",
        event_source_url="https://shop.example/merch",
        user_data=UserData(em=["John_Smith@gmail.com"], ph=["+1 650 555 1212"], client_ip_address="203.0.113.9"),
        custom_data=CustomData(value=Decimal("25.50"), currency="USD"),
    )
    return msgspec.structs.replace(event, **changes)


def sent_batches(sim: MetaSimulator) -> list[list[dict[str, object]]]:
    return [json.loads(r.params["data"]) for r in sim.requests if r.path.endswith("/events")]


async def test_2500_events_go_out_as_1000_1000_500() -> None:
    sim, clock = make()
    now = clock.now()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).send_events(
            pixel_of(sim), [purchase(now, i) for i in range(2500)], now=now)
    assert [len(batch) for batch in sent_batches(sim)] == [1000, 1000, 500]
    assert result.data.events_received == 2500 and len(sim.conversions.events) == 2500
    assert len(result.data.fbtrace_ids) == 3 and all(result.data.fbtrace_ids)


async def test_events_go_out_hashed_with_value_as_a_number() -> None:
    sim, clock = make()
    now = clock.now()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).send_events(
            pixel_of(sim), [purchase(now, 1)], test_event_code="TEST123", now=now)
    [[wire]] = sent_batches(sim)
    assert wire["user_data"] == {"em": [EMAIL_VECTOR[1]], "ph": [PHONE_VECTOR[2]], "client_ip_address": "203.0.113.9"}
    assert wire["custom_data"] == {"value": 25.5, "currency": "USD"}
    assert result.data.events_received == 1
    assert [e.event_id for e in sim.conversions.test_events] == ["order-1"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"event_time": -8 * 86400}, "more than 7 days old"), ({"event_time": 3600}, "in the future"),
     ({"event_source_url": None}, "event_source_url"), ({"action_source": "fax"}, "action_source")],
)
async def test_caller_mistakes_raise_before_any_request(changes: dict[str, object], message: str) -> None:
    sim, clock = make()
    now = clock.now()
    if "event_time" in changes:
        changes = {"event_time": int(now) + int(str(changes["event_time"]))}
    events = [purchase(now, 1), purchase(now, 2, **changes)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        with pytest.raises(ValueError, match=message):
            await MetaClient(http, TOKEN, base_url=BASE).send_events(pixel_of(sim), events, now=now)
    assert sent_batches(sim) == []


async def test_physical_store_events_may_be_62_days_old() -> None:
    sim, clock = make()
    now = clock.now()
    old = purchase(now, 1, action_source="physical_store", event_source_url=None, event_time=int(now) - 30 * 86400)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        result = await MetaClient(http, TOKEN, base_url=BASE).send_events(pixel_of(sim), [old], now=now)
    assert result.data.events_received == 1


async def test_no_events_a_malformed_pixel_id_or_bad_user_data_raise_value_error() -> None:
    sim, clock = make()
    now = clock.now()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        with pytest.raises(ValueError, match="at least one"):
            await meta.send_events(pixel_of(sim), [], now=now)
        with pytest.raises(ValueError, match="numeric id"):
            await meta.send_events("act_1/events", [purchase(now, 1)], now=now)
        with pytest.raises(ValueError, match=r"^em:"):
            await meta.send_events(pixel_of(sim), [purchase(now, 1, user_data=UserData(em=["nobody"]))], now=now)
    assert sent_batches(sim) == []


async def test_an_unknown_pixel_is_fatal() -> None:
    sim, clock = make()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        with pytest.raises(FatalProviderError, match="#100/33"):
            await MetaClient(http, TOKEN, base_url=BASE).send_events("999", [purchase(clock.now(), 1)],
                                                                     now=clock.now())


async def test_a_bad_token_is_auth_expired() -> None:
    sim, clock = make()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        with pytest.raises(AuthExpiredError, match="190"):
            await MetaClient(http, "NOT_A_TOKEN", base_url=BASE).send_events(
                pixel_of(sim), [purchase(clock.now(), 1)], now=clock.now())
    assert sim.conversions.events == []
