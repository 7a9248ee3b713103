"""What the metrics may say of an account: rate domains lose their owner's id before they become a label, and
the usage a provider reports is the max of the accounts' latest reports, by the domain's kind."""

from __future__ import annotations

import random
import uuid

import pytest
from prometheus_client import REGISTRY

from engine.metrics import counted_call, domain_kind, record_usage
from engine.provider import ProviderError, RateLimitedError, Result, UsageSignal


@pytest.mark.parametrize(("domain", "kind"), [
    ("meta:act_1234567890:score", "meta:score"),
    ("meta:act_1:ads_insights", "meta:ads_insights"),
    ("meta:1029384756:ads_management", "meta:ads_management"),  # a business's BUC
    ("meta:unknown:mutations", "meta:mutations"),
    ("meta:app", "meta:app"),
    ("meta:insights:app", "meta:insights:app"),
    ("spotify:app", "spotify:app"),
    ("meta:0b9f2c1e-7a44-4d1e-9c55-0d3e2f8b7c61:score", "meta:score"),
])
def test_a_domain_kind_keeps_the_scope_and_drops_the_owner(domain: str, kind: str) -> None:
    assert domain_kind(domain) == kind


def _usage(domain: str) -> float | None:
    return REGISTRY.get_sample_value("songtrack_provider_usage_percent", {"provider": "meta", "domain": domain})


async def _answer(signals: tuple[UsageSignal, ...], error: ProviderError | None = None) -> Result[None]:
    if error is not None:
        raise error
    return Result(None, signals)


async def test_usage_is_the_max_of_the_accounts_latest_reports_by_domain_kind() -> None:
    # A kind of domain no other test reports, so that the process's other accounts cannot raise its max.
    kind = f"probe_{uuid.uuid4().hex[:8]}"
    a, b, domains = f"meta:act_1:{kind}", f"meta:act_2:{kind}", ("meta:act_1:score",)
    await counted_call(domains, lambda: _answer((UsageSignal(domain=a, utilization=71.0),)))
    await counted_call(domains, lambda: _answer((UsageSignal(domain=b, utilization=40.0),)))
    assert _usage(f"meta:{kind}") == 71.0  # one account near its limit shows, whatever the other said since
    refusal = RateLimitedError("blocked", domain=a, reset_after=60,
                               signals=(UsageSignal(domain=a, utilization=12.5),))
    with pytest.raises(RateLimitedError):
        await counted_call(domains, lambda: _answer((), refusal))  # an error's signals count too
    assert _usage(f"meta:{kind}") == 40.0


def test_usage_follows_the_max_through_any_order_of_reports() -> None:
    kind, rng, latest = f"probe_{uuid.uuid4().hex[:8]}", random.Random(18), dict[str, float]()
    for _ in range(500):
        domain = f"meta:act_{rng.randrange(20)}:{kind}"
        latest[domain] = float(rng.randrange(100))
        record_usage([UsageSignal(domain=domain, utilization=latest[domain])])
        assert _usage(f"meta:{kind}") == max(latest.values())
