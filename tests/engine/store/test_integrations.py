"""``engine.store.integrations`` against a real PostgreSQL: sealed tokens, org scoping, single-use states.

Raw SQL only observes what the API does not expose (the sealed columns) or arranges expiry.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import trio

from engine.secrets_box import SealError
from engine.store import Database
from engine.store import integrations as integ
from tests.helpers.factories import create_owner

KEY = os.urandom(32)
EXPIRES = datetime(2027, 1, 1, tzinfo=UTC)


async def _connect(db: Database, org_id: uuid.UUID, account: str = "acct-1",
                   token: str = "ACCESS-SECRET") -> integ.Integration:
    return await integ.upsert_integration(
        db, KEY, org_id=org_id, provider="spotify", external_account_id=account,
        display_name="Label", access_token=token, refresh_token="REFRESH-SECRET", token_expires_at=EXPIRES,
        scopes=["user-read-private"], connected_by=None)


async def test_tokens_are_sealed_at_rest_and_open_for_their_row(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await create_owner(db)
        made = await _connect(db, org.id)
        assert (made.status, made.scopes, made.token_expires_at) == ("connected", ["user-read-private"], EXPIRES)
        raw = await db.fetchrow("SELECT access_token_sealed, refresh_token_sealed FROM integrations")
        assert raw is not None
        assert "SECRET" not in raw["access_token_sealed"] and "SECRET" not in raw["refresh_token_sealed"]
        tokens = await integ.get_tokens(db, KEY, org.id, made.id)
        assert tokens is not None and (tokens.access_token, tokens.refresh_token) == ("ACCESS-SECRET", "REFRESH-SECRET")
        assert "SECRET" not in repr(tokens)
        # A ciphertext moved into another row (here: another account) does not open.
        other = await _connect(db, org.id, account="acct-2", token="OTHER")
        await db.execute("UPDATE integrations SET access_token_sealed = $1 WHERE id = $2",
                         raw["access_token_sealed"], other.id)
        with pytest.raises(SealError):
            await integ.get_tokens(db, KEY, org.id, other.id)


async def test_needs_reauth_is_announced_once_per_transition_and_a_reconnect_is_announced(db: Database) -> None:
    with trio.fail_after(10):
        org, _ = await create_owner(db, "a@example.com")
        first = await _connect(db, org.id)
        marks = [await integ.mark_needs_reauth(db, org.id, first.id, reason=f"try {n}") for n in range(3)]
        await _connect(db, org.id, token="NEW")
        assert await integ.mark_needs_reauth(db, org.id, first.id, reason="again") is True
        rows = await db.fetch("SELECT type, payload->'data' AS data FROM webhook_events WHERE organization_id = $1"
                              " ORDER BY created_at, type", org.id)
    assert marks == [True, False, False]  # retries and second callers send nothing
    assert [row["type"] for row in rows] == ["integration.connected", "integration.needs_reauth",
                                             "integration.connected", "integration.needs_reauth"]
    assert [json.loads(row["data"]).get("reason") for row in rows] == [None, "try 0", None, "again"]


async def test_reconnecting_updates_and_functions_are_scoped_by_org(db: Database) -> None:
    with trio.fail_after(10):
        org_a, _ = await create_owner(db, "a@example.com")
        org_b, _ = await create_owner(db, "b@example.com")
        first = await _connect(db, org_a.id)
        assert await integ.mark_needs_reauth(db, org_b.id, first.id, reason="190") is False
        assert await integ.mark_needs_reauth(db, org_a.id, first.id, reason="190") is True
        assert (await integ.list_integrations(db, org_a.id))[0].status == "needs_reauth"
        again = await _connect(db, org_a.id, token="NEW")
        assert again.id == first.id and again.status == "connected"
        assert await integ.list_integrations(db, org_b.id) == []
        assert await integ.get_integration(db, org_b.id, "spotify") is None
        assert await integ.get_tokens(db, KEY, org_b.id, first.id) is None
        assert await integ.disconnect(db, org_b.id, "spotify") == 0
        assert await integ.disconnect(db, org_a.id, "spotify") == 1
        assert await integ.get_integration(db, org_a.id, "spotify") is None


async def test_an_oauth_state_is_used_once_and_not_after_expiry(db: Database) -> None:
    with trio.fail_after(10):
        org, owner = await create_owner(db)
        common = {"org_id": org.id, "user_id": owner.id, "provider": "spotify", "redirect_uri": "https://x/cb"}
        await integ.save_oauth_state(db, KEY, state="s1", code_verifier="VERIFIER", ttl=timedelta(minutes=10),
                                     **common)  # type: ignore[arg-type]
        stored = await db.fetchval("SELECT code_verifier_sealed FROM oauth_states")
        assert isinstance(stored, str) and "VERIFIER" not in stored
        assert await integ.consume_oauth_state(db, KEY, "s1", "meta") is None  # another provider's state
        used = await integ.consume_oauth_state(db, KEY, "s1", "spotify")
        assert used is not None and (used.code_verifier, used.user_id, used.organization_id) == (
            "VERIFIER", owner.id, org.id)
        assert await integ.consume_oauth_state(db, KEY, "s1", "spotify") is None
        await integ.save_oauth_state(db, KEY, state="s2", code_verifier=None, ttl=timedelta(seconds=-1),
                                     **common)  # type: ignore[arg-type]
        assert await integ.consume_oauth_state(db, KEY, "s2", "spotify") is None
        assert await integ.consume_oauth_state(db, KEY, "never", "spotify") is None
