"""What the metrics may say of an account: rate domains lose their owner's id before they become a label."""

from __future__ import annotations

import pytest

from engine.metrics import domain_kind


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
