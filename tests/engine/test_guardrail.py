"""``engine.guardrail``: when a campaign's spend has reached its budget guardrail, as properties over
generated budgets, spends and percents, plus the shapes a pause records.

Rules: pure, no I/O; money is generated in cents, as the store keeps it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from engine.guardrail import Guardrail, GuardrailTrip, PauseCause, PausedReason, effective_percent, tripped

cents = st.integers(min_value=0, max_value=10**11).map(lambda c: Decimal(c) / 100)
budgets = st.integers(min_value=1, max_value=10**11).map(lambda c: Decimal(c) / 100)
percents = st.integers(min_value=1, max_value=1000)
guardrails = st.builds(Guardrail, enabled=st.booleans(), percent=st.none() | percents)


@given(guardrails, percents, budgets, cents)
def test_it_trips_exactly_when_the_spend_reaches_the_effective_share_of_the_budget(
        guardrail: Guardrail, default: int, budget: Decimal, spent: Decimal) -> None:
    trip = tripped(guardrail, default, budget=budget, budget_spent=spent, currency="USD")
    percent = effective_percent(guardrail, default)
    assert (trip is not None) == (percent is not None and spent >= budget * percent / 100)
    if trip is not None:
        assert trip == GuardrailTrip(percent=percent or 0, budget=float(budget), budget_spent=float(spent),
                                     currency="USD")


@given(guardrails, percents, budgets, cents, cents)
def test_more_spend_never_untrips_it_and_a_bigger_budget_never_trips_it(
        guardrail: Guardrail, default: int, budget: Decimal, spent: Decimal, more: Decimal) -> None:
    before = tripped(guardrail, default, budget=budget, budget_spent=spent, currency="EUR")
    if before is not None:
        assert tripped(guardrail, default, budget=budget, budget_spent=spent + more, currency="EUR") is not None
    else:
        assert tripped(guardrail, default, budget=budget + more, budget_spent=spent, currency="EUR") is None


@given(percents, st.none() | percents)
def test_the_campaign_percent_wins_over_the_default_and_off_is_off(default: int, own: int | None) -> None:
    assert effective_percent(Guardrail(percent=own), default) == (default if own is None else own)
    assert effective_percent(Guardrail(enabled=False, percent=own), default) is None


@given(guardrails, percents, cents)
def test_a_budget_of_zero_has_nothing_to_measure_against(guardrail: Guardrail, default: int, spent: Decimal) -> None:
    assert tripped(guardrail, default, budget=Decimal(0), budget_spent=spent, currency="USD") is None


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=10**9), percents)
def test_floats_to_the_cent_compare_like_their_decimals(budget_cents: int, spent_cents: int, percent: int) -> None:
    guardrail, budget, spent = Guardrail(percent=percent), Decimal(budget_cents) / 100, Decimal(spent_cents) / 100
    as_floats = tripped(guardrail, 100, budget=budget_cents / 100, budget_spent=spent_cents / 100, currency="USD")
    assert as_floats == tripped(guardrail, 100, budget=budget, budget_spent=spent, currency="USD")


def test_at_exactly_the_limit_it_trips_and_a_cent_below_it_does_not() -> None:
    on = Guardrail()
    assert tripped(on, 100, budget=26.05, budget_spent=26.04, currency="USD") is None
    assert tripped(on, 100, budget=26.05, budget_spent=26.05, currency="USD") == GuardrailTrip(
        percent=100, budget=26.05, budget_spent=26.05, currency="USD")
    assert tripped(Guardrail(percent=150), 100, budget=10, budget_spent=14.99, currency="USD") is None


def test_a_cause_names_only_who_paused() -> None:
    user = uuid.uuid4()
    trip = GuardrailTrip(percent=100, budget=26.05, budget_spent=36.46, currency="USD")
    assert msgspec.to_builtins(PauseCause(user_id=user)) == {"userId": str(user)}
    assert msgspec.to_builtins(PauseCause(guardrail=trip)) == {
        "guardrail": {"percent": 100, "budget": 26.05, "budgetSpent": 36.46, "currency": "USD"}}
    reason = PausedReason(cause=PauseCause(guardrail=trip), at=datetime(2026, 12, 7, tzinfo=UTC))
    assert msgspec.json.decode(msgspec.json.encode(reason), type=PausedReason) == reason
