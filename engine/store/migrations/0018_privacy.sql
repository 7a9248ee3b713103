-- Fans' consent (docs/privacy.md): one row per opt-in through a campaign's listen link, with what the fan
-- granted, when and from where; and its revocation. The record outlives the listener it connected: a
-- revocation deletes the listener and their plays, and keeps this row (listener_id nulled) as the proof of
-- both the consent and its withdrawal.
CREATE TABLE listener_consents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    campaign_id uuid REFERENCES campaigns (id) ON DELETE SET NULL,
    listener_id uuid REFERENCES listener_accounts (id) ON DELETE SET NULL,
    link_token text,  -- the listen link the fan opened (public, not secret); NULL if withdrawn meanwhile
    spotify_user_id text NOT NULL,
    scopes text[] NOT NULL,
    ip text,  -- the client address as [server] trusted_proxies resolves it
    user_agent text,
    granted_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_ip text,
    revoked_user_agent text,
    plays_erased integer CHECK (plays_erased >= 0)  -- how many plays the revocation erased
);
CREATE INDEX listener_consents_org_idx ON listener_consents (organization_id, granted_at DESC);
CREATE INDEX listener_consents_listener_idx ON listener_consents (listener_id);
