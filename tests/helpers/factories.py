"""Rows a test needs before it can test anything: organizations, their users and sessions, tracks, campaigns,
webhook endpoints and integrations, made through the store (or, for a bare organization, one INSERT: the
store makes organizations only with an owner). Every default can be overridden by keyword; what a test
asserts on, it should pass explicitly.

The tests that arrange through the HTTP API keep doing so (``tests/http_api/conftest.py``'s ``make_member``,
``tests/helpers/signup.py`` for a served process); these are for the tests that arrange below it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from engine.lease_plan import Lease
from engine.store import Database, accounts, campaigns, integrations, invitations, leases, sessions, tracks, webhooks
from engine.store.integrations import Integration, Provider

__all__ = [
    "CAMPAIGN_START",
    "EXPIRED",
    "KEY",
    "TTL",
    "claim_lease",
    "connect_integration",
    "create_campaign",
    "create_endpoint",
    "create_member",
    "create_org",
    "create_owner",
    "create_session",
    "create_track",
    "take_over_lease",
]

CAMPAIGN_START = datetime(2024, 6, 1, tzinfo=UTC)
KEY = os.urandom(32)  # seals endpoint secrets and integration tokens when a test does not read them back
TTL = timedelta(days=30)  # of invitations and sessions
EXPIRED = timedelta(seconds=-1)  # a TTL already past


async def create_org(db: Database, name: str = "label") -> uuid.UUID:
    """An organization without users (the free tier)."""
    org_id = await db.fetchval("INSERT INTO organizations (name) VALUES ($1) RETURNING id", name)
    assert isinstance(org_id, uuid.UUID)
    return org_id


async def create_owner(db: Database, email: str | None = None, *, org_name: str = "Label", name: str = "Owner",
                       password_hash: str = "hash-o") -> tuple[accounts.Organization, accounts.User]:
    """An organization and its owner (a fresh email unless given); the hash is a placeholder unless given."""
    return await accounts.create_organization_with_owner(
        db, org_name=org_name, email=email or f"owner-{uuid.uuid4().hex[:8]}@example.com", name=name,
        password_hash=password_hash)


async def create_member(db: Database, org_id: uuid.UUID, email: str, role: invitations.InvitationRole, *,
                        name: str = "Max Member", password_hash: str = "hash-m") -> accounts.User:
    """A user who joined ``org_id`` as ``role`` through a real invitation."""
    _, token = await invitations.create_invitation(db, org_id, email=email, role=role, invited_by=None, ttl=TTL)
    return await invitations.accept_invitation(db, token, name=name, password_hash=password_hash)


async def create_session(db: Database, user: accounts.User, *, org_id: uuid.UUID | None = None,
                         ttl: timedelta = TTL, user_agent: str | None = "pytest",
                         ip: str | None = "::1") -> tuple[sessions.Session, str]:
    """A session of ``user`` in their organization (or ``org_id``) and its refresh token."""
    return await sessions.create_session(db, user_id=user.id, org_id=org_id or user.organization_id,
                                         refresh_ttl=ttl, user_agent=user_agent, ip=ip)


async def create_track(db: Database, org_id: uuid.UUID, *, title: str = "Song", artist: str = "Band",
                       **fields: object) -> uuid.UUID:
    """A track of ``org_id``; ``fields`` are the other ``NewTrack`` fields (``spotify_id``, ``isrc``, ...)."""
    new = tracks.NewTrack(title=title, artist=artist, **fields)  # type: ignore[arg-type]
    return (await tracks.create_track(db, org_id, new)).id


async def create_campaign(db: Database, org_id: uuid.UUID, *, name: str = "Summer", budget: float = 100.0,
                          currency: str = "USD", start: datetime = CAMPAIGN_START, end: datetime | None = None,
                          track_id: uuid.UUID | None = None, status: str | None = None,
                          goals: Sequence[campaigns.Goal] = ()) -> uuid.UUID:
    """A ``streams`` campaign of ``org_id`` from ``start`` to ``end`` (30 days on by default), a draft unless
    ``status`` is given: then it is written as is, without the lifecycle's transition check, and a status
    past the draft counts as launched at its start."""
    new = campaigns.NewCampaign(name=name, objective="streams", budget=budget, currency=currency,
                                start_date=start, end_date=end or start + timedelta(days=30), track_id=track_id)
    campaign_id = (await campaigns.create_campaign(db, org_id, new, goals)).id
    if status is not None:
        await db.execute("UPDATE campaigns SET status = $2, launched_at = CASE WHEN $2 <> 'draft' THEN start_date END"
                         " WHERE id = $1", campaign_id, status)
    return campaign_id


async def create_endpoint(db: Database, org_id: uuid.UUID, *types: str, url: str = "https://hooks.example.com/in",
                          key: bytes = KEY) -> uuid.UUID:
    """A webhook endpoint of ``org_id`` subscribed to ``types`` (none: to every type), its secret sealed
    with ``key``."""
    endpoint, _ = await webhooks.create_endpoint(db, key, org_id, webhooks.NewEndpoint(url=url,
                                                                                     event_types=list(types)))
    return endpoint.id


async def claim_lease(db: Database, name: str) -> Lease:
    """The lease ``name`` claimed for an hour by an engine process of its own, as an actor that runs outside
    an accounts supervisor needs it for its writes to be taken."""
    claimed = await leases.claim(db, uuid.uuid4(), [name], ttl=3600, limit=1)
    return Lease(name, claimed[name])


async def take_over_lease(db: Database, lease: Lease) -> Lease:
    """``lease`` claimed by another engine process once it expired (the TTL moved by hand): the new lease, with
    a larger token, under which the holder of ``lease`` can write nothing any more."""
    await db.execute("UPDATE engine_leases SET expires_at = now() - interval '1 second' WHERE name = $1", lease.name)
    return await claim_lease(db, lease.name)


async def connect_integration(db: Database, org_id: uuid.UUID, *, provider: Provider = "meta",
                              account: str | None = None, key: bytes = KEY, access_token: str = "token",
                              display_name: str = "Label", scopes: Sequence[str] = (),
                              connected_by: uuid.UUID | None = None) -> Integration:
    """``org_id`` connected to ``provider``'s ``account`` (a fresh one unless given) as the OAuth callback
    stores it, with a token that does not expire and no refresh token."""
    return await integrations.upsert_integration(
        db, key, org_id=org_id, provider=provider, external_account_id=account or f"user-{uuid.uuid4().hex[:8]}",
        display_name=display_name, access_token=access_token, refresh_token=None, token_expires_at=None,
        scopes=list(scopes), connected_by=connected_by)
