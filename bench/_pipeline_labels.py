"""The rows the pipeline benchmark's real account actors run on, written in bulk: per label an organization,
a connected Meta integration with its sealed token, and an active campaign linked to the Meta campaign of
its own simulated ad account. One unnest INSERT per table, so 20,000 labels set up in seconds (the store's
own functions write one row per call and enqueue an event each, which is what we avoid here).

Nothing here runs an actor: bench/_pipeline_engine.py does, in processes of its own.
"""

from __future__ import annotations

import time
import uuid

from engine.store.database import Database
from engine.store.integrations import seal_access_token

__all__ = ["add_labels"]

_ORGS = ("INSERT INTO organizations (name, tier) SELECT 'Bench label ' || g, 'enterprise'"
         " FROM generate_series($1::int, $2::int) AS g ORDER BY g RETURNING id")
_INTEGRATIONS = """
INSERT INTO integrations (organization_id, provider, external_account_id, display_name, status, access_token_sealed)
SELECT org, 'meta', account, 'Bench label', 'connected', sealed
  FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(org, account, sealed)
"""
_CAMPAIGNS = """
INSERT INTO campaigns (organization_id, name, objective, status, budget, currency, start_date, end_date,
                       meta_ad_account_id, meta_campaign_id)
SELECT org, 'Bench linked', 'streams', 'active', 1000000, 'USD', now() - interval '3 days', now() + interval '30 days',
       act, meta
  FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(org, act, meta)
"""


async def add_labels(db: Database, key: bytes, accounts: list[tuple[str, str, str]], first: int) -> float:
    """Labels ``first`` to ``first + len(accounts) - 1``, one per ``(ad account id, its token, a Meta
    campaign id)``; returns the seconds it took."""
    started = time.perf_counter()
    async with db.transaction() as tx:
        orgs: list[uuid.UUID] = [row["id"] for row in await tx.fetch(_ORGS, first, first + len(accounts) - 1)]
        users = [f"bench-user-{first + n}" for n in range(len(accounts))]
        sealed = [seal_access_token(key, org, "meta", user, token)
                  for org, user, (_, token, _) in zip(orgs, users, accounts, strict=True)]
        await tx.execute(_INTEGRATIONS, orgs, users, sealed)
        await tx.execute(_CAMPAIGNS, orgs, [act for act, _, _ in accounts], [meta for _, _, meta in accounts])
    return time.perf_counter() - started
