"""adapters.meta.schemas and adapters.meta.money: Meta's string numbers decoded leniently, money exact.

Rules: pure, no I/O; bodies copied from PROVIDERS.md A2/A3 where it gives one; hypothesis checks that
decode(encode(x)) == x, that junk raises ``msgspec.ValidationError``/``DecodeError`` and never crashes,
and that minor/major conversions round-trip in both offsets.
"""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.meta import schemas
from adapters.meta.money import currency_offset, to_major, to_minor
from adapters.meta.schemas import Action, InsightRow, parse_graph_time

CURRENCIES = st.sampled_from(["USD", "EUR", "GBP", "JPY", "KRW", "CLP", "VND", "TWD", "NZD"])


def test_a3_insights_row_decodes_with_string_numbers() -> None:
    body = (b'{"data":[{"account_id":"1","campaign_id":"2","date_start":"2025-03-14","date_stop":"2025-04-12",'
            b'"impressions":"361324","spend":"5339.5","gender":"female",'
            b'"actions":[{"action_type":"link_click","value":"12","7d_click":"10"}]}],'
            b'"paging":{"cursors":{"before":"a","after":"b"}}}')
    page = schemas.INSIGHTS_PAGE.decode(body)
    row = page.data[0]
    assert (row.date_start, row.date_stop) == (date(2025, 3, 14), date(2025, 4, 12))
    assert (row.impressions, row.clicks, row.spend) == (361324, 0, Decimal("5339.5"))
    assert (row.gender, row.age) == ("female", None)
    assert row.actions == [Action("link_click", Decimal(12))]
    assert page.next_url is None


def test_account_and_campaign_money_are_minor_unit_ints() -> None:
    account = schemas.ACCOUNT.decode(b'{"id":"act_123","account_id":"123","account_status":1,'
                                     b'"currency":"JPY","amount_spent":"300000","unknown":{"x":1}}')
    assert (account.amount_spent, account.account_status, account.currency) == (300000, 1, "JPY")
    page = schemas.CAMPAIGN_PAGE.decode(b'{"data":[{"id":"9","daily_budget":"5000",'
                                        b'"created_time":"2026-08-01T12:00:00-1000"}],"paging":{"next":"https://x"}}')
    assert page.data[0].daily_budget == 5000 and page.data[0].lifetime_budget is None
    assert page.next_url == "https://x"
    created = page.data[0].created_time
    assert created is not None and parse_graph_time(created).utcoffset() is not None


@given(st.builds(
    InsightRow,
    date_start=st.dates(), date_stop=st.dates(), impressions=st.integers(0, 10**12), clicks=st.integers(0, 10**9),
    spend=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    actions=st.lists(st.builds(Action, action_type=st.text(max_size=10), value=st.integers(0, 10**6).map(Decimal))),
    country=st.none() | st.sampled_from(["US", "JP"]),
))
def test_insight_rows_round_trip(row: InsightRow) -> None:
    assert msgspec.json.decode(msgspec.json.encode(row), type=InsightRow, strict=False) == row


@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_junk_raises_a_decode_error_never_a_crash(junk: bytes) -> None:
    for decoder in (schemas.INSIGHTS_PAGE, schemas.CAMPAIGN_PAGE, schemas.ACCOUNT, schemas.REPORT_RUN):
        with contextlib.suppress(msgspec.DecodeError):  # ValidationError is a subclass
            decoder.decode(junk)


def test_currency_offsets() -> None:
    assert [currency_offset(c) for c in ("USD", "EUR", "JPY", "krw", "CLP", "VND")] == [100, 100, 1, 1, 1, 1]
    assert to_minor(Decimal("50.00"), "USD") == 5000 and to_minor(Decimal("3000"), "JPY") == 3000
    assert to_major(533950, "USD") == Decimal("5339.5") and to_major(3000, "JPY") == Decimal(3000)
    for bad, currency in ((Decimal("0.001"), "USD"), (Decimal("0.5"), "JPY"), (Decimal("NaN"), "USD")):
        with pytest.raises(ValueError):
            to_minor(bad, currency)


@given(st.integers(-(10**15), 10**15), CURRENCIES)
def test_minor_major_round_trip(minor: int, currency: str) -> None:
    assert to_minor(to_major(minor, currency), currency) == minor
