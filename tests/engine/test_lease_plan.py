"""The lease plan's arithmetic: every account has room somewhere, no process keeps more than its share,
a process that joins gets work, and what a process gives up is exactly what it should not hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.lease_plan import LeaseTimings, fair_share, plan_leases

names = st.lists(st.from_regex(r"meta:[a-f0-9]{4}", fullmatch=True), unique=True, max_size=60)


@given(accounts=st.integers(0, 100_000), processes=st.integers(1, 64))
def test_the_shares_of_all_processes_cover_every_account_and_differ_by_at_most_one(accounts: int,
                                                                                  processes: int) -> None:
    share = fair_share(accounts, processes)
    assert share * processes >= accounts
    assert (share - 1) * processes < accounts or accounts == 0


def test_with_no_process_alive_the_one_asking_counts_as_one() -> None:
    assert fair_share(300, 0) == 300


@given(held=names, wanted=names, processes=st.integers(1, 8))
def test_after_the_plan_a_process_holds_only_wanted_accounts_and_no_more_than_its_share(
        held: list[str], wanted: list[str], processes: int) -> None:
    plan = plan_leases(held, wanted, processes)
    kept = set(held) - set(plan.release)
    share = fair_share(len(wanted), processes)
    assert kept <= set(wanted)
    assert len(kept) + plan.claim <= share
    assert set(plan.release) <= set(held)
    # It gives up nothing it could keep: below its share it keeps every wanted lease it holds.
    assert len(kept) == min(len(set(held) & set(wanted)), share)
    assert plan.claim == max(share - len(kept), 0)


def test_a_process_that_joins_three_others_gets_a_fair_share_as_they_release_theirs() -> None:
    accounts = [f"meta:{i:03d}" for i in range(300)]
    holders = [accounts[0:100], accounts[100:200], accounts[200:300]]
    plans = [plan_leases(held, accounts, processes=4) for held in holders]
    assert [len(plan.release) for plan in plans] == [25, 25, 25]
    assert plan_leases([], accounts, processes=4).claim == 75
    # The same excess each time: a renewal does not shuffle accounts between processes.
    assert plans[0].release == plan_leases(holders[0], accounts, processes=4).release


def test_a_disconnected_account_is_released_even_below_the_share() -> None:
    plan = plan_leases(["meta:a", "meta:gone"], ["meta:a", "meta:b"], processes=1)
    assert plan.release == ("meta:gone",) and plan.claim == 1


@given(ttl=st.floats(0.1, 3600), ratio=st.floats(0.01, 0.99))
def test_a_process_gives_up_before_its_lease_can_expire(ttl: float, ratio: float) -> None:
    timings = LeaseTimings(ttl=ttl, renew_every=ttl * ratio)
    assert 0 < timings.give_up_after < timings.ttl
    assert math.isclose(timings.give_up_after + timings.renew_every, timings.ttl)


@pytest.mark.parametrize(("ttl", "renew_every"), [(30, 30), (30, 0), (10, 20), (math.inf, 10)])
def test_timings_that_cannot_work_are_refused(ttl: float, renew_every: float) -> None:
    with pytest.raises(ValueError, match="renew_every < ttl"):
        LeaseTimings(ttl=ttl, renew_every=renew_every)
